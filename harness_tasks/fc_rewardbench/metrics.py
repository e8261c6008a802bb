"""FC-RewardBench metrics, from one record (a dict) per scored document.

Pairwise judges (each pair judged in both position orders; rows paired by ``pair_id``):

- ``acc``: share of judged documents whose answer names the chosen output. Every order counts,
  so a judge that always answers "1" scores exactly 0.5: the accuracy of one judgment of a pair
  shown in a random order, the quantity a single-presentation protocol estimates.
- ``pair_acc``: pairs judged right in *both* orders (the ToolRM / TRBench rule; always "1" -> 0).
- ``acc_err_<type>`` / ``acc_cat_<category>``: ``acc`` within one ``error_type`` / BFCL
  ``test_category`` (NaN when absent; types or categories the card does not list go to ``other``).
- ``position_consistency``: pairs whose two valid answers pick the same output;
  ``first_position_rate``: answers naming position 1, among valid answers (0.5 without bias);
  ``strict_parse_rate`` / ``soft_parse_rate`` / ``invalid_rate``: how answers were read
  (:func:`harness_tasks.judgment.parse_choice`, reference mode).

Pointwise (Granite Guardian's protocol): label 1 = the output has a function-call error.
An answer without a label counts as the wrong label, as Granite's ``compute_metrics`` does.

- ``balanced_accuracy``: the mean of the recall on label-1 rows and on label-0 rows (sklearn's
  ``balanced_accuracy_score``); ``accuracy``, ``f1`` (label 1 positive), ``fpr``, ``fnr``;
  ``parse_failure_rate``; ``recall_err_<type>``: rejected outputs of that type flagged.

Scalar RMs (one document per pair): ``acc`` = share of pairs with score(chosen) > score(rejected),
strictly (a tie is wrong, as in TRBench-BFCL's disc task), per type and category as above;
``tie_rate``, ``margin``; pairs not scored for length are counted in ``skipped_too_long`` only.

Standard errors: binomial for proportions; for balanced accuracy the two recalls' errors combined.
95% intervals of the headline metrics, ``acc_ci_lower`` / ``acc_ci_upper`` and
``balanced_accuracy_ci_lower`` / ``_ci_upper``: the seeded percentile bootstrap of
:mod:`harness_tasks.uncertainty` (1,000 rounds), over pairs for ``acc`` (a pair's judgments in both
orders move together) and over rows within each label for balanced accuracy (the label counts are
fixed by the benchmark), so the leaderboard shows a 95% CI and Rank for these tasks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from harness_tasks import uncertainty
from harness_tasks.fc_rewardbench.dataset import CATEGORIES, ERROR_TYPE_KEYS, OTHER


Record = dict[str, Any]
Aggregation = Callable[[list[Record]], float]
ERROR_GROUPS = (*ERROR_TYPE_KEYS, OTHER)
CATEGORY_GROUPS = (*CATEGORIES, OTHER)


def proportion(successes: float, total: int) -> float:
    return successes / total if total else math.nan


def proportion_stderr(successes: float, total: int) -> float:
    """As lm-eval's ``mean_stderr`` for 0/1 values (sample standard deviation over sqrt(n))."""
    if total < 2:
        return math.nan
    p = successes / total
    return math.sqrt(p * (1 - p) / (total - 1))


def _rate(
    select: Callable[[Record], bool], hit: Callable[[Record], bool], stderr: bool = False
) -> Aggregation:
    def aggregate(records: list[Record]) -> float:
        chosen = [r for r in records if select(r)]
        count = sum(1 for r in chosen if hit(r))
        return (proportion_stderr if stderr else proportion)(count, len(chosen))

    return aggregate


def _with_stderr(name: str, select, hit, higher: bool) -> dict[str, tuple[Aggregation, bool]]:
    return {name: (_rate(select, hit), higher), f"{name}_stderr": (_rate(select, hit, True), False)}


def _every(_: Record) -> bool:
    return True


def _carried(field: str) -> Aggregation:
    """A count the loader put on every document (the same on all of them)."""
    return lambda records: max((int(r.get(field, 0)) for r in records), default=0)


def interval_bounds(name: str, interval_of: Callable[[list[Record]], uncertainty.Interval]) -> dict:
    """``<name>_ci_lower`` / ``<name>_ci_upper`` aggregations (NaN when nothing was scored)."""

    def bound(which: str) -> Aggregation:
        return lambda records: getattr(interval_of(records), which)

    return {f"{name}_ci_lower": (bound("lower"), True), f"{name}_ci_upper": (bound("upper"), True)}


@lru_cache(maxsize=8)
def _bootstrap(units: tuple[tuple[str, float, float], ...], macro: bool) -> uncertainty.Interval:
    """One interval from ``(stratum, hits, count)`` units: pooled ratio, or the mean of the
    strata's ratios (``macro``); cached because lm-eval asks for each bound separately."""
    statistic = uncertainty.mean_of_stratum_ratios() if macro else uncertainty.pooled_ratio()
    columns = [(hits, count) for _, hits, count in units]
    strata = [stratum for stratum, _, _ in units]
    return uncertainty.bootstrap(columns, {"value": statistic}, strata=strata if macro else None)["value"]


# The units each headline metric averages over: the intervals below resample them, and the
# leaderboard's paired comparisons (``toolrm_leaderboard.paired``) read them from the sample log.


def acc_units(records: list[Record]) -> list[tuple[str, float, float]]:
    """Judges' ``acc`` by pair: ``(pair id, right judgments, judgments)`` in pair-id order; a pair's
    two orders are one unit (a lone row is a unit of one), so sum(right) / sum(judgments) = ``acc``."""
    by_pair: dict[str, list[float]] = {}
    for record in records:
        by_pair.setdefault(str(record["pair_id"]), []).append(float(_right(record)))
    return [(pair, sum(hits), float(len(hits))) for pair, hits in sorted(by_pair.items())]


def rm_acc_units(records: list[Record]) -> list[tuple[str, float, float]]:
    """Scalar RMs' ``acc`` by scored pair: ``(pair id, 1 if chosen scored strictly higher, 1)``."""
    return sorted((str(r["pair_id"]), float(_rm_right(r)), 1.0) for r in records if _scored(r))


def balanced_accuracy_units(records: list[Record]) -> list[tuple[str, str, float]]:
    """Pointwise rows: ``(row id, label, 1 if the scored label is right)``; a row is one output of a
    pair (``<pair id>:<label>``). Balanced accuracy is the mean over labels of each label's mean."""
    return [
        (f"{record['pair_id']}:{record['label']}", str(record["label"]), _row_right(record))
        for record in records
    ]


def _acc_interval(records: list[Record]) -> uncertainty.Interval:
    """``acc`` over pairs: each pair's judgments (both orders; a lone row alone) are one unit."""
    return _bootstrap(tuple(("all", hits, count) for _, hits, count in acc_units(records)), macro=False)


def _rm_acc_interval(records: list[Record]) -> uncertainty.Interval:
    return _bootstrap(tuple(("all", hit, 1.0) for _, hit, _ in rm_acc_units(records)), macro=False)


def _balanced_accuracy_interval(records: list[Record]) -> uncertainty.Interval:
    """Rows resampled within their label; the statistic is the mean of the two recalls."""
    units = sorted((str(record["label"]), _row_right(record), 1.0) for record in records)
    return _bootstrap(tuple(units), macro=True)


# --- pairwise judges ---------------------------------------------------------------------------


def pairs_of(records: Iterable[Record]) -> tuple[list[tuple[Record, Record]], int]:
    """``([(chosen-first row, chosen-second row)], incomplete rows)``, paired by ``pair_id``."""
    by_pair: dict[str, dict[str, Record]] = {}
    for record in records:
        orders = by_pair.setdefault(record["pair_id"], {})
        if record["truth"] in orders:
            raise ValueError(
                f"pair {record['pair_id']!r} has two rows with chosen in position {record['truth']}"
            )
        orders[record["truth"]] = record
    pairs, incomplete = [], 0
    for orders in by_pair.values():
        if set(orders) == {"1", "2"}:
            pairs.append((orders["1"], orders["2"]))
        else:
            incomplete += len(orders)
    return pairs, incomplete


def _right(record: Record) -> bool:
    return record["answer"] == record["truth"]


def _pair_rate(hit: Callable[[Record, Record], bool], stderr: bool = False) -> Aggregation:
    def aggregate(records: list[Record]) -> float:
        pairs, _ = pairs_of(records)
        count = sum(1 for first, second in pairs if hit(first, second))
        return (proportion_stderr if stderr else proportion)(count, len(pairs))

    return aggregate


def _consistent(first: Record, second: Record) -> bool:
    return None not in (first["answer"], second["answer"]) and first["answer"] != second["answer"]


def _pairwise_table() -> dict[str, tuple[Aggregation, bool]]:
    table = _with_stderr("acc", _every, _right, True)
    table |= interval_bounds("acc", _acc_interval)
    table["pair_acc"] = (_pair_rate(lambda a, b: _right(a) and _right(b)), True)
    table["pair_acc_stderr"] = (_pair_rate(lambda a, b: _right(a) and _right(b), True), False)
    for group in ERROR_GROUPS:
        table[f"acc_err_{group}"] = (_rate(lambda r, g=group: r["error_type_key"] == g, _right), True)
    for group in CATEGORY_GROUPS:
        table[f"acc_cat_{group}"] = (_rate(lambda r, g=group: r["category_key"] == g, _right), True)
    table["position_consistency"] = (_pair_rate(_consistent), True)
    table["first_position_rate"] = (
        _rate(lambda r: r["answer"] is not None, lambda r: r["answer"] == "1"),
        False,
    )
    table["strict_parse_rate"] = (_rate(_every, lambda r: r["match"] == "strict"), True)
    table["soft_parse_rate"] = (_rate(_every, lambda r: r["match"] == "soft"), False)
    table["invalid_rate"] = (_rate(_every, lambda r: r["answer"] is None), False)
    table["n_pairs"] = (lambda records: len(pairs_of(records)[0]), True)
    table["incomplete_pairs"] = (lambda records: pairs_of(records)[1], False)
    table["skipped_context"] = (_carried("skipped_context"), False)
    return table


PAIRWISE_METRICS = _pairwise_table()


# --- pointwise (Granite Guardian) --------------------------------------------------------------


def predicted_label(record: Record) -> int:
    """The label scored: a missing prediction is the wrong label (Granite's rule)."""
    return record["pred"] if record["pred"] is not None else 1 - record["label"]


def _row_right(record: Record) -> float:
    return float(predicted_label(record) == record["label"])


def confusion(records: list[Record]) -> tuple[int, int, int, int]:
    """``(true positives, false negatives, true negatives, false positives)``, label 1 positive."""
    tp = fn = tn = fp = 0
    for record in records:
        predicted = predicted_label(record)
        if record["label"] == 1:
            tp, fn = tp + (predicted == 1), fn + (predicted != 1)
        else:
            tn, fp = tn + (predicted == 0), fp + (predicted != 0)
    return tp, fn, tn, fp


def balanced_accuracy(records: list[Record]) -> float:
    tp, fn, tn, fp = confusion(records)
    recalls = [proportion(tp, tp + fn), proportion(tn, tn + fp)]
    present = [r for r in recalls if not math.isnan(r)]
    return sum(present) / len(present) if present else math.nan  # sklearn: mean over classes present


def balanced_accuracy_stderr(records: list[Record]) -> float:
    tp, fn, tn, fp = confusion(records)
    return math.sqrt(proportion_stderr(tp, tp + fn) ** 2 + proportion_stderr(tn, tn + fp) ** 2) / 2


def f1(records: list[Record]) -> float:
    tp, fn, _, fp = confusion(records)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0  # sklearn's zero_division=0


def _pointwise_table() -> dict[str, tuple[Aggregation, bool]]:
    table: dict[str, tuple[Aggregation, bool]] = {
        "balanced_accuracy": (balanced_accuracy, True),
        "balanced_accuracy_stderr": (balanced_accuracy_stderr, False),
        **interval_bounds("balanced_accuracy", _balanced_accuracy_interval),
    }
    table |= _with_stderr("accuracy", _every, lambda r: predicted_label(r) == r["label"], True)
    table["f1"] = (f1, True)
    table["fpr"] = (_rate(lambda r: r["label"] == 0, lambda r: predicted_label(r) == 1), False)
    table["fnr"] = (_rate(lambda r: r["label"] == 1, lambda r: predicted_label(r) == 0), False)
    table["parse_failure_rate"] = (_rate(_every, lambda r: r["pred"] is None), False)
    for group in ERROR_GROUPS:
        table[f"recall_err_{group}"] = (
            _rate(
                lambda r, g=group: r["label"] == 1 and r["error_type_key"] == g,
                lambda r: predicted_label(r) == 1,
            ),
            True,
        )
    table["n_rows"] = (len, True)
    table["skipped_context"] = (_carried("skipped_context"), False)
    return table


POINTWISE_METRICS = _pointwise_table()


# --- scalar reward models ----------------------------------------------------------------------


def _scored(record: Record) -> bool:
    return not record["skipped"]


def _rm_right(record: Record) -> bool:
    return record["chosen"] > record["rejected"]  # NaN compares false: never right


def _margin(records: list[Record]) -> float:
    margins = [r["chosen"] - r["rejected"] for r in records if _scored(r)]
    return sum(margins) / len(margins) if margins else math.nan


def _disc_table() -> dict[str, tuple[Aggregation, bool]]:
    table = _with_stderr("acc", _scored, _rm_right, True)
    table |= interval_bounds("acc", _rm_acc_interval)
    for group in ERROR_GROUPS:
        table[f"acc_err_{group}"] = (
            _rate(lambda r, g=group: _scored(r) and r["error_type_key"] == g, _rm_right),
            True,
        )
    for group in CATEGORY_GROUPS:
        table[f"acc_cat_{group}"] = (
            _rate(lambda r, g=group: _scored(r) and r["category_key"] == g, _rm_right),
            True,
        )
    table["tie_rate"] = (_rate(_scored, lambda r: r["chosen"] == r["rejected"]), False)
    table["margin"] = (_margin, True)
    table["n_pairs"] = (lambda records: sum(map(_scored, records)), True)
    table["skipped_too_long"] = (lambda records: sum(1 for r in records if r["skipped"]), False)
    return table


DISC_METRICS = _disc_table()
