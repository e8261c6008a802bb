"""Uncertainty for every headline number: seeded percentile bootstrap, paired differences, rank bounds.

One mechanism serves every benchmark. A run is a table of *units* (a TRBench pair with both of its
orders, a Best-of-N item, a self-correction item), each carrying a few numeric columns (e.g. "correct",
"counted"). A metric is a function of the column *sums*, per stratum, so one resampling gives every
metric at once:

- a round draws, within each stratum, as many units as the stratum has, with replacement, and sums
  the columns of the drawn units (a weights matrix times the columns: vectorised, ~30 ms for 3,000
  units and 1,000 rounds);
- strata are the benchmark's fixed composition (TRBench categories). The benchmark fixes how many
  pairs each category has, so a round keeps those sizes; with one stratum it is the plain bootstrap;
- the interval is the 2.5/97.5 percentile of the metric over the rounds (Chatbot Arena's rule:
  1,000 rounds). A round where a ratio's denominator is 0 (e.g. ``fixed_rate`` drew no wrong
  candidate) has no value and is left out of the percentiles;
- the seed is fixed (``DEFAULT_SEED``), so a results file and its re-scoring agree to the last digit.

Paired comparisons resample the *same* units for both judges in every round, so the spread of the
difference reflects only the units where they disagree; the two-sided p-value inverts the
percentile interval (the smallest level at which it excludes 0), floored at ``1/(rounds+1)``. A
unit holding several judgments (a pair judged in both orders) carries its count, so each side's
statistic is its headline metric exactly; a round's difference within ``ZERO_TOLERANCE`` of 0 is 0
(a mean of stratum ratios leaves float noise where both sides are equal). The tests cross-check it
against McNemar's exact test (``tests/mcnemar.py``).

Rank bounds follow Chatbot Arena: the best rank a row can claim is 1 + the number of rows whose
lower bound is above its upper bound; the worst is the number of rows whose upper bound is not
below its lower bound (itself included).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


DEFAULT_ROUNDS = 1000
DEFAULT_SEED = 1234
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    estimate: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Difference:
    """``a - b`` on the same units, with its paired-bootstrap interval and two-sided p-value."""

    estimate: float
    lower: float
    upper: float
    p_value: float
    units: int


Statistic = Callable[[np.ndarray], np.ndarray]
"""Stratum sums ``(..., strata, columns)`` -> the metric, shape ``(...)``; NaN where undefined."""


def _as_columns(columns: np.ndarray | Sequence) -> np.ndarray:
    array = np.asarray(columns, dtype=float)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"expected a (units, columns) array, got shape {array.shape}")
    return array


def _strata_codes(strata: Sequence | None, units: int) -> tuple[np.ndarray, int]:
    if strata is None:
        return np.zeros(units, dtype=np.int64), 1
    labels = list(strata)
    if len(labels) != units:
        raise ValueError(f"{len(labels)} stratum labels for {units} units")
    order = {label: code for code, label in enumerate(dict.fromkeys(labels))}
    return np.fromiter((order[label] for label in labels), dtype=np.int64, count=units), len(order)


def resample_weights(codes: np.ndarray, n_strata: int, rounds: int, seed: int) -> np.ndarray:
    """``(rounds, units)`` draw counts: each round redraws every stratum at its own size."""
    units = len(codes)
    rng = np.random.default_rng(seed)
    weights = np.zeros((rounds, units), dtype=np.float64)
    offsets = np.arange(rounds)[:, None] * units
    for stratum in range(n_strata):
        members = np.flatnonzero(codes == stratum)
        if not len(members):
            continue
        drawn = members[rng.integers(0, len(members), size=(rounds, len(members)))]
        counts = np.bincount((drawn + offsets).ravel(), minlength=rounds * units)
        weights += counts.reshape(rounds, units)
    return weights


def stratum_sums(weights: np.ndarray, columns: np.ndarray, codes: np.ndarray, n_strata: int) -> np.ndarray:
    """``(rounds, strata, columns)`` weighted column sums per stratum (weights ``(rounds, units)``)."""
    sums = np.empty((weights.shape[0], n_strata, columns.shape[1]))
    for stratum in range(n_strata):
        members = codes == stratum
        sums[:, stratum, :] = weights[:, members] @ columns[members]
    return sums


def _percentiles(replicates: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    finite = replicates[np.isfinite(replicates)]
    if not len(finite):
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    lower, upper = np.percentile(finite, [tail, 100 - tail])
    return float(lower), float(upper)


def bootstrap(
    columns: np.ndarray | Sequence,
    statistics: dict[str, Statistic],
    strata: Sequence | None = None,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = DEFAULT_SEED,
) -> dict[str, Interval]:
    """Every statistic's estimate and percentile interval from one shared resampling of the units."""
    array = _as_columns(columns)
    codes, n_strata = _strata_codes(strata, len(array))
    observed = stratum_sums(np.ones((1, len(array))), array, codes, n_strata)[0]
    if not len(array):
        return {name: Interval(math.nan, math.nan, math.nan) for name in statistics}
    sums = stratum_sums(resample_weights(codes, n_strata, rounds, seed), array, codes, n_strata)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            name: Interval(
                float(statistic(observed)), *_percentiles(np.asarray(statistic(sums), dtype=float))
            )
            for name, statistic in statistics.items()
        }


# --- statistics over stratum sums -------------------------------------------------------------


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def pooled_ratio(numerator: int = 0, denominator: int = 1) -> Statistic:
    """sum(column numerator) / sum(column denominator) over all strata (e.g. W-Avg, accuracy)."""
    return lambda sums: _divide(sums[..., numerator].sum(-1), sums[..., denominator].sum(-1))


def stratum_ratio(stratum: int, numerator: int = 0, denominator: int = 1) -> Statistic:
    """The ratio within one stratum (e.g. one TRBench category's accuracy)."""
    return lambda sums: _divide(sums[..., stratum, numerator], sums[..., stratum, denominator])


def mean_of_stratum_ratios(numerator: int = 0, denominator: int = 1) -> Statistic:
    """Unweighted mean over strata of each stratum's ratio (TRBench's ``Avg``)."""
    return lambda sums: _divide(sums[..., numerator], sums[..., denominator]).mean(-1)


def difference(first: Statistic, second: Statistic) -> Statistic:
    return lambda sums: first(sums) - second(sums)


def proportion_interval(
    successes: Sequence[float], rounds: int = DEFAULT_ROUNDS, seed: int = DEFAULT_SEED
) -> Interval:
    """Mean of 0/1 (or fractional) unit scores with its percentile interval."""
    values = np.asarray(successes, dtype=float)
    return bootstrap(
        np.column_stack([values, np.ones_like(values)]), {"p": pooled_ratio()}, None, rounds, seed
    )["p"]


# --- paired comparisons -----------------------------------------------------------------------


def _bootstrap_p_value(replicates: np.ndarray) -> float:
    finite = replicates[np.isfinite(replicates)]
    if not len(finite):
        return math.nan
    at_or_below = (np.count_nonzero(finite <= 0) + 1) / (len(finite) + 1)
    at_or_above = (np.count_nonzero(finite >= 0) + 1) / (len(finite) + 1)
    return float(min(1.0, 2 * min(at_or_below, at_or_above)))


def paired_difference(
    first: Sequence[float],
    second: Sequence[float],
    strata: Sequence | None = None,
    mean_of_strata: bool = False,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = DEFAULT_SEED,
    first_counts: Sequence[float] | None = None,
    second_counts: Sequence[float] | None = None,
) -> Difference:
    """``mean(first) - mean(second)`` over the same units, resampled together.

    ``first`` and ``second`` are per-unit scores in the same unit order; ``mean_of_strata`` compares
    unweighted means of the stratum means (TRBench ``Avg``, Plan-RewardBench ``avg``, balanced
    accuracy over labels) instead of pooled means (W-Avg). A unit that holds several judgments (a
    pair judged in both orders) gives its score *sum* and its judgment count in ``*_counts``, so
    each side's statistic is sum(scores) / sum(counts), exactly its headline metric; without counts
    every unit counts once.
    """
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be two equal-length vectors, got {a.shape} and {b.shape}")
    a_counts, b_counts = (
        np.ones_like(a) if counts is None else np.asarray(counts, dtype=float)
        for counts in (first_counts, second_counts)
    )
    if a_counts.shape != a.shape or b_counts.shape != b.shape:
        raise ValueError(f"unit counts must match the scores' shape {a.shape}")
    columns = np.column_stack([a, a_counts, b, b_counts])
    codes, n_strata = _strata_codes(strata, len(a))
    statistic = (
        difference(mean_of_stratum_ratios(0, 1), mean_of_stratum_ratios(2, 3))
        if mean_of_strata
        else difference(pooled_ratio(0, 1), pooled_ratio(2, 3))
    )
    if not len(a):
        return Difference(math.nan, math.nan, math.nan, math.nan, 0)
    observed = float(statistic(stratum_sums(np.ones((1, len(a))), columns, codes, n_strata))[0])
    replicates = statistic(
        stratum_sums(resample_weights(codes, n_strata, rounds, seed), columns, codes, n_strata)
    )
    # a mean of ratios leaves float noise (±1e-15) where the two sides are equal; the p-value
    # counts rounds at or beyond 0, so noise must not decide which side of 0 an equal round falls
    replicates = np.where(np.abs(replicates) < ZERO_TOLERANCE, 0.0, replicates)
    if abs(observed) < ZERO_TOLERANCE:
        observed = 0.0
    lower, upper = _percentiles(replicates)
    return Difference(observed, lower, upper, _bootstrap_p_value(replicates), len(a))


ZERO_TOLERANCE = 1e-9
"""A paired difference this close to 0 is 0 (scores are fractions or points: real gaps are far larger)."""


# --- ranks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankBounds:
    best: int
    """Chatbot Arena's rank: 1 + rows whose lower bound is above this row's upper bound."""
    worst: int
    """Rows whose upper bound is not below this row's lower bound, this row included."""


def rank_bounds(intervals: Sequence[tuple[float, float]], higher_is_better: bool = True) -> list[RankBounds]:
    """Arena rank bounds for each ``(lower, upper)``; rows with an undefined interval rank last."""
    bounds = [(lo, hi) if higher_is_better else (-hi, -lo) for lo, hi in intervals]
    ranks = []
    for lower, upper in bounds:
        if not (math.isfinite(lower) and math.isfinite(upper)):
            ranks.append(RankBounds(len(bounds), len(bounds)))
            continue
        above = sum(1 for other_lower, _ in bounds if math.isfinite(other_lower) and other_lower > upper)
        overlapping_or_above = sum(
            1 for _, other_upper in bounds if math.isfinite(other_upper) and other_upper >= lower
        )
        ranks.append(RankBounds(1 + above, max(1 + above, overlapping_or_above)))
    return ranks
