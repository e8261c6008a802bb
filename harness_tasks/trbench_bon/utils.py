"""lm-eval hooks for the Best-of-N tasks (referenced from the YAMLs as ``utils.*``).

lm-eval loads this file by path, so everything real lives in the ``harness_tasks`` package and
is imported absolutely; these are thin adapters (``BonTask`` is re-exported so that the class the
YAMLs name is the package's own).
"""

import json

from harness_tasks.trbench_bon.bon_metrics import all_metric_names
from harness_tasks.trbench_bon.task import (
    BonTask,  # noqa: F401  (named by the generative YAMLs' `class:`)
    load_bon_dataset,
    process_results_scalar,  # noqa: F401
    request_text,
    scalar_context,
)


def load_dataset(**kwargs):
    return load_bon_dataset(**kwargs)


def doc_to_text(doc: dict) -> str:
    return request_text(doc)


def doc_to_target(doc: dict) -> str:
    """Which candidates the source's checker accepts (for the sample log; scoring reads the doc)."""
    return json.dumps([i for i, ok in enumerate(doc["correct"]) if ok])


def process_results(doc: dict, results: list) -> dict:
    """Never called: ``BonTask.process_results`` scores (the YAML names this so lm-eval does not
    look our metric names up in its registry or on the Hugging Face hub)."""
    raise RuntimeError("the generative Best-of-N tasks need `class: !function utils.BonTask`")


def doc_to_scalar_text(doc: dict) -> str:
    return scalar_context(doc)


def doc_to_choice(doc: dict) -> list[str]:
    return list(doc["candidates"])


# One module-level aggregation per metric, for `aggregation: !function utils.agg_<metric>` in the YAML.
globals().update({f"agg_{name}": aggregation for name, (aggregation, _) in all_metric_names().items()})
