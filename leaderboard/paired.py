"""Per-unit outcomes from lm-eval sample logs, and the paired comparisons and rank bounds built on them.

A gap between two rows means something only against its own noise, and that noise is much smaller
when both rows were measured on the same units: the pairs (TRBench), the items (Best-of-N,
self-correction). lm-eval's ``--log_samples`` keeps every unit's scoring record beside the results
(``samples_<task>_<time>.jsonl``: each line holds the record our ``process_results`` returned under
each metric name), so this module reads the record back through the task's own metric code:

- TRBench, generative judges: the ``w_avg`` record of each row (order), paired into pairs by pair id
  (:func:`harness_tasks.trbench_bfcl.pairwise_metrics.pair_rows`), correct when both orders are;
- TRBench, scalar RMs: the ``w_avg`` record, one per pair (:mod:`...disc_metrics`);
- Best-of-N: the ``acc_at_n_<N>`` record of each item, scored at the run's own N;
- self-correction: the ``acc_at_round_1`` record, correct after correction.

Two rows are compared only when their unit ids are the same set (same data build, same sample: a
``--limit`` run or a different data set never is); the table says so where they are not. The
difference comes with a 95% paired-bootstrap interval and a two-sided p-value
(:func:`harness_tasks.uncertainty.paired_difference`, TRBench resampled within categories).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from harness_tasks import uncertainty
from harness_tasks.input_boundary import DataFormatError, iter_json_lines
from harness_tasks.trbench_bfcl.pairwise_metrics import pair_rows
from harness_tasks.trbench_bfcl_disc.disc_metrics import scored_pairs
from harness_tasks.trbench_bon import bon_metrics
from harness_tasks.trbench_selfcorrect.metrics import ItemOutcome
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.read import TaskResult
from toolrm_leaderboard.task_names import BEST_OF_N, SELF_CORRECTION, TRBENCH


@dataclass(frozen=True)
class UnitScores:
    """One run's score on each unit, keyed by unit id (a pair id or item id)."""

    scores: dict[str, float]
    strata: dict[str, str]
    """Unit id -> TRBench category (the bootstrap resamples within categories); empty otherwise."""
    source: Path


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


def read_unit_scores(result: TaskResult, curve_metric: str | None = None) -> UnitScores | None:
    """The run's per-unit outcomes, or ``None`` when it has no sample log.

    ``curve_metric`` names the Best-of-N / self-correction column to score (``acc_at_n_8``).
    """
    log = result.samples_file
    if log is None:
        return None
    where = f"{log} (task {result.task.name})"
    try:
        if result.task.benchmark == TRBENCH:
            records = _records(log, "w_avg")
            pairs = scored_pairs(records) if result.task.variant == "disc" else pair_rows(records).pairs
            return UnitScores(
                {str(p.pair_id): float(p.correct) for p in pairs},
                {str(p.pair_id): p.category for p in pairs},
                log,
            )
        if result.task.benchmark == BEST_OF_N and curve_metric:
            n = int(curve_metric.rsplit("_", 1)[1])
            records = _records(log, curve_metric)
            scores = {str(r["item_id"]): bon_metrics.hit_at(n, r) for r in records}
            return UnitScores(scores, {}, log)
        if result.task.benchmark == SELF_CORRECTION and curve_metric == "acc_at_round_1":
            outcomes = [ItemOutcome.from_record(r) for r in _records(log, curve_metric)]
            return UnitScores({str(o.item_id): float(o.final_correct) for o in outcomes}, {}, log)
    except LeaderboardInputError:
        raise
    except (TypeError, ValueError, KeyError, IndexError) as error:
        raise LeaderboardInputError(
            f"{where}: a record does not have the task's shape ({error!r})"
        ) from error
    return None


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
    interval = f"[{difference.lower:+.2f}, {difference.upper:+.2f}]"
    return f"{difference.estimate:+.2f} {interval} {format_p(difference.p_value)}"


def format_interval(value: float, interval: tuple[float, float]) -> str:
    """Arena's compact form: ``+1.62/−1.70`` (upper minus value / value minus lower, in points)."""
    lower, upper = interval
    return f"+{upper - value:.2f}/−{value - lower:.2f}"
