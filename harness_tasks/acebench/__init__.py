"""ACEBench (English ``normal`` + ``special``): shipped data, rule checker, call-format conversion.

Best-of-N (``trbench_bon``) and self-correction both score candidates here, so an answer is judged
the same way everywhere. See ``README.md`` for what differs from ACEBench's own evaluator.
"""

from harness_tasks.acebench.checker import CheckResult, check_acebench
from harness_tasks.acebench.convert import (
    AceCallFormatError,
    acebench_to_hermes,
    hermes_to_acebench,
    parse_python_calls,
    to_python_calls,
)
from harness_tasks.acebench.reader import AceDataError, AceItem, load_acebench_items


__all__ = [
    "AceCallFormatError",
    "AceDataError",
    "AceItem",
    "CheckResult",
    "acebench_to_hermes",
    "check_acebench",
    "hermes_to_acebench",
    "load_acebench_items",
    "parse_python_calls",
    "to_python_calls",
]
