"""McNemar's exact test (test helper): a cross-check of the paired bootstrap's p-value
(``harness_tasks.uncertainty.paired_difference``) that needs no resampling."""

from __future__ import annotations

import math


def mcnemar_exact_p(first_only: int, second_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (first right only, second right only)."""
    discordant = first_only + second_only
    if discordant == 0:
        return 1.0
    smaller = min(first_only, second_only)
    log_half = discordant * math.log(0.5)
    tail = sum(
        math.exp(
            math.lgamma(discordant + 1) - math.lgamma(k + 1) - math.lgamma(discordant - k + 1) + log_half
        )
        for k in range(smaller + 1)
    )
    return min(1.0, 2 * tail)
