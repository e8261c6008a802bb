"""lm-evaluation-harness tasks and hooks for reward models that judge tool use.

This package is the single source of truth for what a correct judgment is: the judge-output
parser (:mod:`harness_tasks.judgment`), the tool-call format (:mod:`harness_tasks.tool_calls`)
and the pairwise metrics (:mod:`harness_tasks.trbench_bfcl.pairwise_metrics`). The training code imports
them instead of re-implementing them.
"""

from pathlib import Path


TASKS_DIR = Path(__file__).resolve().parent
"""Directory to hand to lm-eval's ``--include_path``: every task YAML lives below it."""
