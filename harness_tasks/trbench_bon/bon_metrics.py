"""Best-of-N metrics, defined once. Every metric aggregates the same per-item record.

For item i with candidate correctness y_i1..y_iN (the source checker's verdicts) and selection s(i):

- ``acc_at_n_<N>``: mean of y_{i,s(i)}, the headline (no valid selection counts as wrong);
  ``acc_at_n_1`` is the first candidate's correctness (the first sample, the no-selection
  baseline); scalar RMs also report every power of two below N on prefix subsets (free: one score
  per candidate);
- ``oracle_at_n_<N>``: mean of max_j y_ij (pass@N, the ceiling);
- ``random_at_n_<N>``: mean of mean_j y_ij (expected accuracy of a uniformly random choice);
- ``majority_at_n_<N>``: accuracy of the majority vote among the first N candidates
  (self-consistency; canonical calls, ties to the earliest sample: :mod:`.majority`); needs no judge,
  so it, ``oracle_at_n_<N>`` and ``random_at_n_<N>`` are reported at every power of two up to the
  set size (and the set size itself) from one run; NaN for records without candidate groups;
- ``gain_over_random``: (acc - random) / (oracle - random) over the whole set: the share of the
  headroom above random selection the judge recovers (1 = oracle, 0 = random, < 0 worse);
- ``acc_mixed``: accuracy on items with some but not all candidates correct (where selection matters);
- ``invalid_selection_rate``: items whose selection rests on no valid judge answer;
  ``invalid_answer_rate``: judge answers with no valid ``<choice>``, over all judge calls;
- ``judge_calls`` / ``comparisons`` / ``gen_tokens``: per item, the cost: model calls (generations
  or RM forwards), pairwise comparisons, tokens the judge generated (the model's tokenizer; words
  when the model has none);
- ``first_position_rate`` (listwise): share of valid answers naming display position 1 (1/N
  for a position-blind judge); ``position_consistency`` (two permutations): share of items where
  both answers are valid and name the same candidate; ``acc_tie_split`` (scalar): accuracy with
  ties split evenly;
- ``acc_<source>``, ``oracle_<source>``, ``random_<source>`` and ``acc_<category>`` per source and
  per category; NaN when the run covered none of its items (``--limit``);
- ``checker_disagreement_rate``: share of the candidates scored whose verdict under the source's
  own reading of the answer differs from the corrected reading (``checker`` option; 0 on ground
  truths);
- ``n_problems``: items evaluated.

Every ``acc_at_n_<N>`` carries ``acc_at_n_<N>_ci_lower`` / ``_ci_upper``: the 95% percentile
interval of 1,000 seeded bootstrap rounds over items (:mod:`harness_tasks.uncertainty`; items in
item-id order, so a re-scoring reproduces it exactly).

A task run with ``repeats: k`` (the ``_passk`` tasks) judges every item k times, as independent
trials; the metrics above are the first trial's (a plain run's numbers), and
``pass_hat_k_<j>`` for every j of :func:`harness_tasks.pass_hat_k.reported_ks` adds tau-bench's
reliability: mean over items of C(c, j) / C(k, j), c the trials whose selection was correct
(``pass_hat_k_1`` is the accuracy averaged over the k trials), each with ``_ci_lower`` /
``_ci_upper`` as above over the items' C(c, j) / C(k, j). Their per-item value is the item's
trial outcomes (:func:`trial_outcomes`), so the sample log shows them and a re-scoring needs
nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from harness_tasks import uncertainty
from harness_tasks.acebench.build_data import CATEGORIES as ACEBENCH_ALL_CATEGORIES
from harness_tasks.pass_hat_k import item_pass_hat_k, pass_hat_k, reported_ks
from harness_tasks.trbench_bon.majority import majority_pick


ACEBENCH_CATEGORIES = ACEBENCH_ALL_CATEGORIES
BFCL_CATEGORIES = ("simple", "multiple", "live_simple")
CATEGORIES = ACEBENCH_CATEGORIES + BFCL_CATEGORIES
SOURCES = ("acebench", "bfcl")
N_VALUES = (1, 2, 4, 8, 16)
MAX_NAMED_REPEATS = 16
"""``utils.py`` exports ``agg_pass_hat_k_<j>`` for the j of up to this many repeats (a task with
more builds its aggregations itself: :meth:`harness_tasks.trbench_bon.task.BonTask`)."""


@dataclass
class BonRecord:
    item_id: str
    source: str
    category: str
    correct: list[bool]
    selected: int | None
    invalid_selection: bool = False
    judge_calls: int = 0
    comparisons: int = 0
    gen_tokens: int = 0
    invalid_answers: int = 0
    answered_positions: list[int] = field(default_factory=list)
    consistent: bool | None = None
    tie_split: float | None = None
    prefix_selected: dict[str, int] = field(default_factory=dict)
    """Scalar RMs: selection among the first n candidates, for each smaller power of two n."""
    checker_disagreements: int = 0
    checker_compared: int = 0
    """Candidates whose verdict differs between the source's and the corrected reading, of those compared."""
    candidate_groups: list[int] = field(default_factory=list)
    """Per candidate, the first candidate with the same canonical call (:mod:`.majority`)."""

    def to_record(self) -> dict:
        return asdict(self)


Record = dict
Aggregation = Callable[[Sequence[Record]], float]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _hit(record: Record) -> float:
    selected = record["selected"]
    return float(selected is not None and record["correct"][selected])


def _oracle(record: Record) -> float:
    return float(any(record["correct"]))


def _random(record: Record) -> float:
    return sum(record["correct"]) / len(record["correct"])


def hit_at(n: int, record: Record) -> float:
    """Correctness of the selection among the first ``n`` candidates (``n`` = N: the selection)."""
    if n == len(record["correct"]):
        return _hit(record)
    if n == 1:
        return float(record["correct"][0])
    selected = record["prefix_selected"].get(str(n))
    return float(selected is not None and record["correct"][selected])


def _acc_at(n: int) -> Aggregation:
    return lambda records: _mean([hit_at(n, r) for r in records])


def _acc_at_bound(n: int, which: str) -> Aggregation:
    def aggregate(records: Sequence[Record]) -> float:
        ordered = sorted(records, key=lambda r: str(r["item_id"]))
        if not ordered:
            return math.nan
        return getattr(uncertainty.proportion_interval([hit_at(n, r) for r in ordered]), which)

    return aggregate


def _majority(n: int) -> Aggregation:
    def aggregate(records: Sequence[Record]) -> float:
        hits = []
        for record in records:
            groups = record.get("candidate_groups") or []
            if len(groups) >= n:
                hits.append(float(record["correct"][majority_pick(groups, n)]))
        return _mean(hits)

    return aggregate


def reference_sizes(n: int) -> list[int]:
    """Where the judge-free baselines are reported: every power of two up to ``n``, and ``n``."""
    return sorted({m for m in N_VALUES if m <= n} | {n})


def _prefix(n: int, fn: Callable[[Record], float]) -> Aggregation:
    return lambda records: _mean([fn({**r, "correct": r["correct"][:n]}) for r in records])


def _where(keep: Callable[[Record], bool], fn: Callable[[Record], float]) -> Aggregation:
    return lambda records: _mean([fn(r) for r in records if keep(r)])


def gain_over_random(records: Sequence[Record]) -> float:
    acc = _mean([_hit(r) for r in records])
    oracle = _mean([_oracle(r) for r in records])
    rand = _mean([_random(r) for r in records])
    return (acc - rand) / (oracle - rand) if oracle - rand > 0 else math.nan


def invalid_answer_rate(records: Sequence[Record]) -> float:
    calls = sum(r["judge_calls"] for r in records)
    return sum(r["invalid_answers"] for r in records) / calls if calls else math.nan


def first_position_rate(records: Sequence[Record]) -> float:
    positions = [p for r in records for p in r["answered_positions"]]
    return _mean([float(p == 1) for p in positions])


def position_consistency(records: Sequence[Record]) -> float:
    return _mean([float(bool(r["consistent"])) for r in records if r["consistent"] is not None])


def checker_disagreement_rate(records: Sequence[Record]) -> float:
    compared = sum(r.get("checker_compared", 0) for r in records)
    return sum(r.get("checker_disagreements", 0) for r in records) / compared if compared else math.nan


def trial_outcomes(item_id: str, records: Sequence[Record]) -> dict:
    """The per-item value of the pass^k metrics: whether each trial's selection was correct."""
    return {"item_id": item_id, "hits": [bool(_hit(r)) for r in records]}


def _pass_hat(k: int) -> Aggregation:
    return lambda values: pass_hat_k([v["hits"] for v in values], k) if values else math.nan


def _pass_hat_bound(k: int, which: str) -> Aggregation:
    def aggregate(values: Sequence[dict]) -> float:
        ordered = sorted(values, key=lambda v: str(v["item_id"]))
        if not ordered:
            return math.nan
        scores = [item_pass_hat_k(sum(v["hits"]), len(v["hits"]), k) for v in ordered]
        return getattr(uncertainty.proportion_interval(scores), which)

    return aggregate


def pass_hat_k_metrics(repeats: int) -> dict[str, tuple[Aggregation, bool]]:
    """``pass_hat_k_<j>`` and its interval bounds for every reported j of a run with ``repeats`` trials."""
    metrics: dict[str, tuple[Aggregation, bool]] = {}
    for k in reported_ks(repeats):
        metrics[f"pass_hat_k_{k}"] = (_pass_hat(k), True)
        metrics[f"pass_hat_k_{k}_ci_lower"] = (_pass_hat_bound(k, "lower"), True)
        metrics[f"pass_hat_k_{k}_ci_upper"] = (_pass_hat_bound(k, "upper"), True)
    return metrics


def is_pass_hat_k_metric(name: str) -> bool:
    return name.startswith("pass_hat_k_")


def metrics_for(n: int, protocol: str, repeats: int = 1) -> dict[str, tuple[Aggregation, bool]]:
    """``{metric name: (aggregation, higher_is_better)}`` of a task with ``n`` candidates (and, with
    ``repeats`` > 1, the pass^k metrics of that many trials)."""
    metrics: dict[str, tuple[Aggregation, bool]] = {}
    curve = [m for m in N_VALUES if m <= n] if protocol == "scalar" else sorted({1, n})
    for m in curve:
        metrics[f"acc_at_n_{m}"] = (_acc_at(m), True)
        metrics[f"acc_at_n_{m}_ci_lower"] = (_acc_at_bound(m, "lower"), True)
        metrics[f"acc_at_n_{m}_ci_upper"] = (_acc_at_bound(m, "upper"), True)
    for m in reference_sizes(n):
        metrics[f"oracle_at_n_{m}"] = (_prefix(m, _oracle), True)
        metrics[f"random_at_n_{m}"] = (_prefix(m, _random), True)
        metrics[f"majority_at_n_{m}"] = (_majority(m), True)
    metrics["gain_over_random"] = (gain_over_random, True)
    metrics["acc_mixed"] = (_where(lambda r: 0 < sum(r["correct"]) < len(r["correct"]), _hit), True)
    metrics["invalid_selection_rate"] = (lambda rs: _mean([float(r["invalid_selection"]) for r in rs]), False)
    metrics["invalid_answer_rate"] = (invalid_answer_rate, False)
    metrics["judge_calls"] = (lambda rs: _mean([r["judge_calls"] for r in rs]), False)
    metrics["comparisons"] = (lambda rs: _mean([r["comparisons"] for r in rs]), False)
    metrics["gen_tokens"] = (lambda rs: _mean([r["gen_tokens"] for r in rs]), False)
    if protocol in ("listwise", "listwise_2perm"):
        metrics["first_position_rate"] = (first_position_rate, False)
    if protocol == "listwise_2perm":
        metrics["position_consistency"] = (position_consistency, True)
    if protocol == "scalar":
        metrics["acc_tie_split"] = (lambda rs: _mean([r["tie_split"] for r in rs]), True)
    for source in SOURCES:
        in_source = (lambda s: lambda r: r["source"] == s)(source)
        metrics[f"acc_{source}"] = (_where(in_source, _hit), True)
        metrics[f"oracle_{source}"] = (_where(in_source, _oracle), True)
        metrics[f"random_{source}"] = (_where(in_source, _random), True)
    for category in CATEGORIES:
        in_category = (lambda c: lambda r: r["category"] == c)(category)
        metrics[f"acc_{category}"] = (_where(in_category, _hit), True)
    metrics["checker_disagreement_rate"] = (checker_disagreement_rate, False)
    metrics["n_problems"] = (lambda rs: float(len(rs)), True)
    if repeats > 1:
        metrics.update(pass_hat_k_metrics(repeats))
    return metrics


def all_metric_names() -> dict[str, tuple[Aggregation, bool]]:
    """Every metric any task reports (each task's ``utils.py`` exports one aggregation per name)."""
    merged: dict[str, tuple[Aggregation, bool]] = {}
    for n in N_VALUES:
        for protocol in ("listwise_2perm", "scalar"):
            merged.update(metrics_for(n, protocol))
    merged.update(pass_hat_k_metrics(MAX_NAMED_REPEATS))
    return merged
