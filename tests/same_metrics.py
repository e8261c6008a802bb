"""Metric equality for re-scoring tests: the rescored results must equal the original exactly."""

from __future__ import annotations

import math


def same_metrics(first: dict, second: dict) -> bool:
    """Equal values, NaN equal to NaN (lm-eval writes NaN for a category a run did not cover)."""
    if first.keys() != second.keys():
        return False
    for key, a in first.items():
        b = second[key]
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            continue
        if a != b:
            return False
    return True
