"""The nine BFCL categories that TRBench-BFCL reports, in the paper's column order.

Pair counts are those of the released benchmark, recovered from the denominators of the paper's
per-category accuracies (``shared/research/paper_figure2.md``); the embedded build matches them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    name: str
    """TRBench ``task_source`` value, e.g. ``live_multiple``."""
    code: str
    """Column header of the paper's table, e.g. ``LM``."""
    bfcl_category: str
    """BFCL's own category name (v4 renamed ``simple`` to ``simple_python``); :mod:`harness_tasks.bfcl_files`
    turns it into file paths."""
    release_pairs: int
    """Number of pairs in the released TRBench-BFCL test set."""


CATEGORIES: tuple[Category, ...] = (
    Category("simple", "S", "simple_python", 137),
    Category("multiple", "M", "multiple", 71),
    Category("parallel", "P", "parallel", 301),
    Category("parallel_multiple", "PM", "parallel_multiple", 390),
    Category("live_simple", "LS", "live_simple", 212),
    Category("live_multiple", "LM", "live_multiple", 1283),
    Category("live_parallel", "LP", "live_parallel", 34),
    Category("live_parallel_multiple", "LPM", "live_parallel_multiple", 60),
    Category("multi_turn_base", "MTB", "multi_turn_base", 495),
)

CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)
BY_NAME: dict[str, Category] = {c.name: c for c in CATEGORIES}
BY_CODE: dict[str, Category] = {c.code: c for c in CATEGORIES}


def resolve_category(name_or_code: str) -> Category:
    """Accept either the category name (``live_simple``) or its table code (``LS``)."""
    found = BY_NAME.get(name_or_code) or BY_CODE.get(name_or_code.upper())
    if found is None:
        known = ", ".join(f"{c.name} ({c.code})" for c in CATEGORIES)
        raise ValueError(f"unknown TRBench-BFCL category {name_or_code!r}; expected one of: {known}")
    return found
