"""ACEBench (English ``normal`` + ``special``): shipped data, rule checker, call-format conversion.

Best-of-N (``trbench_bon``) and self-correction both score candidates here, so an answer is judged
the same way everywhere. See ``README.md`` for what differs from ACEBench's own evaluator.
"""

from harness_tasks.acebench.checker import (
    CORRECTED,
    READINGS,
    SOURCE,
    CheckResult,
    check_acebench,
    ground_truth_alternatives,
    rejects_own_ground_truth,
)
from harness_tasks.acebench.convert import (
    AceCallFormatError,
    acebench_to_hermes,
    hermes_to_acebench,
    parse_python_calls,
    read_as_acebench,
    to_python_calls,
)
from harness_tasks.acebench.reader import AceDataError, AceItem, load_acebench_items


__all__ = [
    "CORRECTED",
    "READINGS",
    "SOURCE",
    "AceCallFormatError",
    "AceDataError",
    "AceItem",
    "CheckResult",
    "acebench_to_hermes",
    "check_acebench",
    "ground_truth_alternatives",
    "hermes_to_acebench",
    "load_acebench_items",
    "parse_python_calls",
    "read_as_acebench",
    "rejects_own_ground_truth",
    "to_python_calls",
]
