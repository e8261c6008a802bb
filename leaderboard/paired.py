"""Per-unit outcomes from lm-eval sample logs, and the paired comparisons and rank bounds built on them.

A gap between two rows means something only against its own noise, and that noise is much smaller
when both rows were measured on the same units: the pairs (TRBench, FC-RewardBench pairwise,
Plan-RewardBench), the items (Best-of-N, self-correction), the rows (FC-RewardBench pointwise).
lm-eval's ``--log_samples`` keeps every unit's scoring record beside the results
(``samples_<task>_<time>.jsonl``: each line holds the record our ``process_results`` returned under
each metric name), so this module reads the record of the table's primary metric back through the
task's own metric code, one reader per benchmark (``UNIT_READERS``, the one place to add another):

- TRBench, generative judges: the ``w_avg`` record of each row (order), paired into pairs by pair id
  (:func:`harness_tasks.trbench_bfcl.pairwise_metrics.pair_rows`), correct when both orders are;
- TRBench, scalar RMs: the ``w_avg`` record, one per pair (:mod:`...disc_metrics`);
- Best-of-N: the ``acc_at_n_<N>`` record of each item, scored at the run's own N;
- self-correction: the ``acc_at_round_1`` record, correct after correction;
- FC-RewardBench pairwise: the ``acc`` record; judges: a pair's right judgments over its judgments
  (both orders), scalar RMs: each scored pair (:func:`...fc_rewardbench.metrics.acc_units`,
  ``rm_acc_units``), so the compared statistic is ``acc`` itself;
- FC-RewardBench pointwise: the ``balanced_accuracy`` record of each row (one output of a pair),
  resampled within its label; the statistic is the mean of the two labels' recalls
  (``balanced_accuracy_units``), i.e. balanced accuracy itself;
- Plan-RewardBench: the ``avg`` record; a pair's samples (both orders of a judge, one for a scalar
  RM) are one unit, resampled within its split; the statistic is the mean of the split accuracies
  (:func:`...plan_rewardbench.metrics.avg_units`), i.e. ``avg`` itself.

Two rows are compared only when their unit ids are the same set (same data build, same sample: a
``--limit`` run or a different data set never is); the table says so where they are not. The
difference comes with a 95% paired-bootstrap interval and a two-sided p-value
(:func:`harness_tasks.uncertainty.paired_difference`, the same units and strata the run's own
interval resamples: TRBench within categories, Plan-RewardBench within splits, FC pointwise within
labels).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness_tasks import uncertainty
from harness_tasks.fc_rewardbench import metrics as fc_metrics
from harness_tasks.input_boundary import DataFormatError, iter_json_lines
from harness_tasks.plan_rewardbench import metrics as plan_metrics
from harness_tasks.trbench_bfcl.pairwise_metrics import pair_rows
from harness_tasks.trbench_bfcl_disc.disc_metrics import scored_pairs
from harness_tasks.trbench_bon import bon_metrics
from harness_tasks.trbench_selfcorrect.metrics import ItemOutcome
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.read import HEADLINE_METRICS, TaskResult
from toolrm_leaderboard.task_names import (
    BEST_OF_N,
    FC_PAIRWISE,
    FC_POINTWISE,
    PLAN,
    SELF_CORRECTION,
    TRBENCH,
)


@dataclass(frozen=True)
class UnitScores:
    """One run's score on each unit, keyed by unit id (a pair id, item id or row id)."""

    scores: dict[str, float]
    """Unit id -> the unit's outcome, or the sum of its judgments' scores where ``counts`` has it."""
    strata: dict[str, str]
    """Unit id -> TRBench category, Plan-RewardBench split or FC pointwise label (the bootstrap
    resamples within them); empty otherwise."""
    source: Path
    counts: dict[str, float] = field(default_factory=dict)
    """Unit id -> judgments the unit holds (a pair judged in both orders: 2); absent: 1."""
    mean_of_strata: bool = False
    """The metric is the unweighted mean of the strata's means (Plan ``avg``, balanced accuracy),
    not the pooled mean over units (TRBench W-Avg, where categories only fix the resampling)."""


def _records(log: Path, metric: str) -> list:
    records = []
    try:
        rows = list(iter_json_lines(log))
    except OSError as error:
        raise LeaderboardInputError(f"{log}: cannot read the sample log ({error})") from error
    except DataFormatError as error:  # names the file and line already
        raise LeaderboardInputError(str(error)) from None
    for number, sample in rows:
        if not isinstance(sample, dict) or metric not in sample:
            raise LeaderboardInputError(f"{log}: line {number}: no {metric!r} record (field '{metric}')")
        records.append(sample[metric])
    return records


def _where(result: TaskResult, log: Path) -> str:
    return f"{log} (task {result.task.name})"


def _by_id(units: list[tuple[str, float]], where: str) -> dict[str, float]:
    """Unit id -> value; a unit id twice is an error (it would silently drop a unit)."""
    found: dict[str, float] = {}
    for unit, value in units:
        if unit in found:
            raise LeaderboardInputError(f"{where}: unit {unit!r} appears twice in the sample log")
        found[unit] = value
    return found


UnitReader = Callable[[TaskResult, Path, str | None], UnitScores | None]


def _trbench_units(result: TaskResult, log: Path, _curve_metric: str | None) -> UnitScores:
    records = _records(log, "w_avg")
    pairs = scored_pairs(records) if result.task.variant == "disc" else pair_rows(records).pairs
    return UnitScores(
        {str(p.pair_id): float(p.correct) for p in pairs},
        {str(p.pair_id): p.category for p in pairs},
        log,
    )


def _best_of_n_units(_result: TaskResult, log: Path, curve_metric: str | None) -> UnitScores | None:
    if not curve_metric:
        return None
    n = int(curve_metric.rsplit("_", 1)[1])
    records = _records(log, curve_metric)
    return UnitScores({str(r["item_id"]): bon_metrics.hit_at(n, r) for r in records}, {}, log)


def _self_correction_units(_result: TaskResult, log: Path, curve_metric: str | None) -> UnitScores | None:
    if curve_metric != "acc_at_round_1":
        return None
    outcomes = [ItemOutcome.from_record(r) for r in _records(log, curve_metric)]
    return UnitScores({str(o.item_id): float(o.final_correct) for o in outcomes}, {}, log)


def _fc_pairwise_units(result: TaskResult, log: Path, _curve_metric: str | None) -> UnitScores:
    records = _records(log, HEADLINE_METRICS[FC_PAIRWISE])
    disc = result.task.variant == "disc"
    units = fc_metrics.rm_acc_units(records) if disc else fc_metrics.acc_units(records)
    return UnitScores(
        _by_id([(pair, hits) for pair, hits, _ in units], _where(result, log)),
        {},
        log,
        counts={pair: count for pair, _, count in units},
    )


def _fc_pointwise_units(result: TaskResult, log: Path, _curve_metric: str | None) -> UnitScores:
    units = fc_metrics.balanced_accuracy_units(_records(log, HEADLINE_METRICS[FC_POINTWISE]))
    return UnitScores(
        _by_id([(row, hit) for row, _, hit in units], _where(result, log)),
        {row: label for row, label, _ in units},
        log,
        mean_of_strata=True,
    )


def _plan_units(result: TaskResult, log: Path, _curve_metric: str | None) -> UnitScores:
    records = _records(log, HEADLINE_METRICS[PLAN])
    disc = result.task.variant == "disc"
    samples = plan_metrics.rm_samples(records) if disc else plan_metrics.judge_samples(records)
    units = plan_metrics.avg_units(samples)
    return UnitScores(
        _by_id([(pair, score) for _, pair, score, _ in units], _where(result, log)),
        {pair: split for split, pair, _, _ in units},
        log,
        counts={pair: count for _, pair, _, count in units},
        mean_of_strata=True,
    )


UNIT_READERS: dict[str, UnitReader] = {
    TRBENCH: _trbench_units,
    BEST_OF_N: _best_of_n_units,
    SELF_CORRECTION: _self_correction_units,
    FC_PAIRWISE: _fc_pairwise_units,
    FC_POINTWISE: _fc_pointwise_units,
    PLAN: _plan_units,
}
"""Benchmark -> how its runs' per-unit outcomes are read from the sample log (module docstring)."""


def read_unit_scores(result: TaskResult, curve_metric: str | None = None) -> UnitScores | None:
    """The run's per-unit outcomes, or ``None`` when it has no sample log.

    ``curve_metric`` names the Best-of-N / self-correction column to score (``acc_at_n_8``).
    """
    log = result.samples_file
    reader = UNIT_READERS.get(result.task.benchmark)
    if log is None or reader is None:
        return None
    try:
        return reader(result, log, curve_metric)
    except LeaderboardInputError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:
        raise LeaderboardInputError(
            f"{_where(result, log)}: a record does not have the task's shape ({error!r})"
        ) from error


@dataclass(frozen=True)
class Comparison:
    other_label: str
    difference: uncertainty.Difference | None
    """``None`` when the two rows were not measured on the same units."""
    reason: str = ""


def compare(first: UnitScores, second: UnitScores, other_label: str) -> Comparison:
    """``first - second`` in points over the same units; refused when the unit sets differ."""
    if set(first.scores) != set(second.scores):
        shared = len(set(first.scores) & set(second.scores))
        return Comparison(
            other_label,
            None,
            f"measured on different units ({len(first.scores)} vs {len(second.scores)}, {shared} shared)",
        )
    ids = sorted(first.scores, key=lambda unit: (first.strata.get(unit, ""), unit))
    strata = [first.strata[unit] for unit in ids] if first.strata else None
    difference = uncertainty.paired_difference(
        [first.scores[unit] * 100 for unit in ids],
        [second.scores[unit] * 100 for unit in ids],
        strata=strata,
        mean_of_strata=first.mean_of_strata,
        first_counts=[first.counts.get(unit, 1.0) for unit in ids],
        second_counts=[second.counts.get(unit, 1.0) for unit in ids],
    )
    return Comparison(other_label, difference)


def format_p(p_value: float) -> str:
    if math.isnan(p_value):
        return "p=–"
    return "p<0.001" if p_value < 0.001 else f"p={p_value:.3f}"


def format_comparison(comparison: Comparison) -> str:
    """``+1.20 [+0.35, +2.05] p=0.008``: difference, its 95% interval, p-value (points)."""
    difference = comparison.difference
    if difference is None:
        return "≠ units"
    interval = f"[{_signed(difference.lower)}, {_signed(difference.upper)}]"
    return f"{_signed(difference.estimate)} {interval} {format_p(difference.p_value)}"


def _signed(points: float) -> str:
    """``+1.25``; a value that rounds to zero is ``+0.00``, never ``-0.00`` (float noise of equal rows)."""
    return f"{0.0 if round(points, 2) == 0 else points:+.2f}"


def format_interval(value: float, interval: tuple[float, float]) -> str:
    """Arena's compact form: ``+1.62/−1.70`` (upper minus value / value minus lower, in points)."""
    lower, upper = interval
    return f"+{upper - value:.2f}/−{value - lower:.2f}"
