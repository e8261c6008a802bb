"""Plan-RewardBench metrics, from one record (a dict) per scored document.

Judges (each pair judged in both orders, every judgment a sample, as the source):

- a sample scores 1 when the judge names the chosen trajectory, 0.5 for a tie (``[[Tie]]``;
  only the source prompt allows one), 0 for the rejected one or no readable answer;
- ``acc_<split>``: mean sample score within a split (the source's per-split accuracy);
- ``avg``: the unweighted mean of the split accuracies present (the source's AVERAGE, the
  README's **Avg**); ``micro_acc``: mean over all samples;
- ``tie_rate``: ties among samples; ``invalid_rate``: no readable answer;
- ``acc_len_<bin>`` / ``n_len_<bin>``: mean score and samples by the pair's token count
  (0-4k, 4-8k, 8-16k, 16-32k, 32k+; see ``lengths_cl100k``);
- beyond the source: ``pair_acc`` (both orders name the chosen one), ``position_consistency``
  (both orders pick the same trajectory, ties and invalid answers excluded from the hits),
  ``first_position_rate`` (A / 1 among non-tie answers), ``n_pairs``, ``incomplete_pairs``,
  ``skipped_context`` (pairs whose prompt does not fit the judge; never truncated).

Scalar RMs (each trajectory scored alone; a pair is one sample, as the source's ``bt`` path):
1 when score(chosen) - score(rejected) > 1e-4, 0.5 when ``|difference| <= 1e-4``, else 0; the
same split, macro, tie and length metrics; ``margin``; ``skipped_too_long`` pairs (a trajectory
over the model's positions; the source truncates instead) are in no other metric.

``avg_ci_lower`` / ``avg_ci_upper``: the 95% interval of ``avg`` by the seeded percentile bootstrap
of :mod:`harness_tasks.uncertainty` (1,000 rounds), resampling pairs (a judge's two orders move
together) within each split, whose size the benchmark fixes; the leaderboard's 95% CI and Rank.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from harness_tasks import uncertainty
from harness_tasks.plan_rewardbench.dataset import SPLITS
from harness_tasks.plan_rewardbench.rendering import BIN_NAMES


Record = dict[str, Any]
Aggregation = Callable[[list[Record]], float]
TIE_EPS = 1e-4
"""The source's ``tie_eps`` for scalar reward models."""


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def mean_stderr(values: list[float]) -> float:
    """Sample standard deviation over sqrt(n), as lm-eval's ``mean_stderr``."""
    n = len(values)
    if n < 2:
        return math.nan
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1) / n)


# --- samples: judge rows as they are, RM documents joined into pairs ----------------------------


def judge_samples(records: list[Record]) -> list[Record]:
    return list(records)


def rm_samples(records: list[Record]) -> list[Record]:
    """One sample per pair scored on both sides: ``score`` by the source's tie rule."""
    by_pair: dict[str, dict[str, Record]] = {}
    for record in records:
        sides = by_pair.setdefault(record["pair_id"], {})
        if record["side"] in sides:
            raise ValueError(f"pair {record['pair_id']!r} has two {record['side']} documents")
        sides[record["side"]] = record
    samples = []
    for sides in by_pair.values():
        if set(sides) != {"chosen", "reject"}:
            continue
        chosen, rejected = sides["chosen"], sides["reject"]
        if chosen["skipped"] or rejected["skipped"]:
            continue
        difference = chosen["reward"] - rejected["reward"]
        tie = abs(difference) <= TIE_EPS
        score = 0.5 if tie else (1.0 if difference > 0 else 0.0)  # NaN: not a tie, not > 0: 0
        samples.append(
            {**chosen, "score": score, "outcome": "tie" if tie else "scored", "margin": difference}
        )
    return samples


def _split_scores(samples: list[Record]) -> dict[str, list[float]]:
    by_split: dict[str, list[float]] = {}
    for sample in samples:
        by_split.setdefault(sample["split"], []).append(sample["score"])
    return by_split


def macro_average(samples: list[Record]) -> float:
    return mean([mean(scores) for scores in _split_scores(samples).values()])


def macro_average_stderr(samples: list[Record]) -> float:
    """Splits are independent samples, so their errors add in quadrature."""
    by_split = _split_scores(samples)
    if not by_split:
        return math.nan
    return math.sqrt(sum(mean_stderr(s) ** 2 for s in by_split.values())) / len(by_split)


@lru_cache(maxsize=8)
def _macro_interval(units: tuple[tuple[str, str, float, float], ...]) -> uncertainty.Interval:
    """``(split, pair id, score sum, samples)`` units -> the interval of the macro-average."""
    strata = [split for split, _, _, _ in units]
    columns = [(score, count) for _, _, score, count in units]
    statistics = {"avg": uncertainty.mean_of_stratum_ratios()}
    return uncertainty.bootstrap(columns, statistics, strata=strata)["avg"]


def avg_units(samples: list[Record]) -> list[tuple[str, str, float, float]]:
    """The units ``avg`` averages over: ``(split, pair id, score sum, samples)`` in canonical order.

    A judged pair's two orders are one unit; ``avg`` is the mean over splits of sum(scores) /
    sum(samples) within the split. Shared by :func:`avg_interval` and the leaderboard's paired
    comparisons (``toolrm_leaderboard.paired``), so both resample the same units.
    """
    by_pair: dict[tuple[str, str], list[float]] = {}
    for sample in samples:
        by_pair.setdefault((sample["split"], str(sample["pair_id"])), []).append(sample["score"])
    return [
        (split, pair, sum(scores), float(len(scores))) for (split, pair), scores in sorted(by_pair.items())
    ]


def avg_interval(samples: list[Record]) -> uncertainty.Interval:
    """Samples grouped into pairs (both orders of a judged pair are one unit), in canonical order."""
    return _macro_interval(tuple(avg_units(samples)))


def _scores_where(select: Callable[[Record], bool], stat: Callable[[list[float]], float]):
    return lambda samples: stat([s["score"] for s in samples if select(s)])


def _share(select: Callable[[Record], bool], hit: Callable[[Record], bool]):
    def aggregate(samples: list[Record]) -> float:
        chosen = [s for s in samples if select(s)]
        return sum(1 for s in chosen if hit(s)) / len(chosen) if chosen else math.nan

    return aggregate


def _every(_: Record) -> bool:
    return True


def _shared_table(to_samples: Callable[[list[Record]], list[Record]]) -> dict[str, tuple[Aggregation, bool]]:
    def over(aggregate: Callable[[list[Record]], float]) -> Aggregation:
        return lambda records: aggregate(to_samples(records))

    table: dict[str, tuple[Aggregation, bool]] = {
        "avg": (over(macro_average), True),
        "avg_stderr": (over(macro_average_stderr), False),
        "avg_ci_lower": (over(lambda samples: avg_interval(samples).lower), True),
        "avg_ci_upper": (over(lambda samples: avg_interval(samples).upper), True),
        "micro_acc": (over(_scores_where(_every, mean)), True),
        "micro_acc_stderr": (over(_scores_where(_every, mean_stderr)), False),
    }
    for split in SPLITS:
        table[f"acc_{split}"] = (over(_scores_where(lambda s, n=split: s["split"] == n, mean)), True)
    table["tie_rate"] = (over(_share(_every, lambda s: s["outcome"] == "tie")), False)
    for name in BIN_NAMES:
        table[f"acc_len_{name}"] = (over(_scores_where(lambda s, n=name: s["length_bin"] == n, mean)), True)
        table[f"n_len_{name}"] = (
            over(lambda samples, n=name: sum(s["length_bin"] == n for s in samples)),
            False,
        )
    table["lengths_cl100k"] = (
        lambda records: max((int(r["lengths_cl100k"]) for r in records), default=0),
        True,
    )
    return table


# --- judge-only diagnostics --------------------------------------------------------------------


def judged_pairs(records: list[Record]) -> tuple[list[tuple[Record, Record]], int]:
    """``([(chosen-as-A row, rejected-as-A row)], rows without their partner)``, by ``pair_id``."""
    by_pair: dict[str, dict[bool, Record]] = {}
    for record in records:
        orders = by_pair.setdefault(record["pair_id"], {})
        if record["swapped"] in orders:
            raise ValueError(f"pair {record['pair_id']!r} has two rows with swapped={record['swapped']}")
        orders[record["swapped"]] = record
    pairs, incomplete = [], 0
    for orders in by_pair.values():
        if set(orders) == {False, True}:
            pairs.append((orders[False], orders[True]))
        else:
            incomplete += len(orders)
    return pairs, incomplete


def _pair_share(hit: Callable[[Record, Record], bool]) -> Aggregation:
    def aggregate(records: list[Record]) -> float:
        pairs, _ = judged_pairs(records)
        return sum(1 for a, b in pairs if hit(a, b)) / len(pairs) if pairs else math.nan

    return aggregate


def _picked_chosen(record: Record) -> bool:
    return record["outcome"] == "chosen"


def _consistent(original: Record, swapped: Record) -> bool:
    decided = ("chosen", "rejected")
    return original["outcome"] in decided and original["outcome"] == swapped["outcome"]


def _judge_table() -> dict[str, tuple[Aggregation, bool]]:
    table = _shared_table(judge_samples)
    table["invalid_rate"] = (_share(_every, lambda s: s["outcome"] == "invalid"), False)
    table["pair_acc"] = (_pair_share(lambda a, b: _picked_chosen(a) and _picked_chosen(b)), True)
    table["position_consistency"] = (_pair_share(_consistent), True)
    table["first_position_rate"] = (
        _share(lambda s: s["outcome"] in ("chosen", "rejected"), lambda s: s["picked_first"]),
        False,
    )
    table["n_pairs"] = (lambda records: len(judged_pairs(records)[0]), True)
    table["incomplete_pairs"] = (lambda records: judged_pairs(records)[1], False)
    table["skipped_context"] = (
        lambda records: max((r["skipped_context"] for r in records), default=0),
        False,
    )
    return table


def _rm_table() -> dict[str, tuple[Aggregation, bool]]:
    table = _shared_table(rm_samples)
    table["margin"] = (lambda records: mean([s["margin"] for s in rm_samples(records)]), True)
    table["n_pairs"] = (lambda records: len(rm_samples(records)), True)
    table["skipped_too_long"] = (
        lambda records: len({r["pair_id"] for r in records if r["skipped"]}),
        False,
    )
    return table


JUDGE_METRICS = _judge_table()
DISC_METRICS = _rm_table()
