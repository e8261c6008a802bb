"""Self-correction metrics, computed from one record per item. Definitions, stated once:

- ``acc_at_round_0``: share of candidates the checker accepts (before correction);
- ``acc_at_round_1``: share of final turns the checker accepts — **accuracy after correction**
  (the final turn is the parsed revision, else the candidate);
- ``delta_acc``: ``acc_at_round_1 - acc_at_round_0``;
- ``fixed_rate``: among wrong candidates, the share right after correction (wrong → right);
- ``broken_rate``: among right candidates, the share wrong after correction (right → wrong: harm);
- ``verdict_acc``: among items with a critic, the share whose verdict is ``correct`` exactly when
  the candidate is correct; an unparseable critique has no verdict and counts as wrong (NaN for
  the protocols without a critic: ``no_critic``, ``oracle``);
- ``flag_rate``: among items with a critic, the share it called ``incorrect``;
- ``critique_parse_rate``: among items with a critic, the share whose critique parses;
- ``revision_rate``: share of items for which a revision was asked for (or, single-model, given);
- ``revision_parse_rate``: among those, the share whose revision parses (a valid Hermes turn);
- ``critic_output_tokens`` / ``reviser_output_tokens`` / ``total_output_tokens``: output tokens
  per item (mean over all items; an item without that call counts 0), in each model's own tokenizer;
- ``checker_disagreement_rate``: share of items whose candidate or final turn gets a different
  verdict under the source's own reading of the answer and under the corrected one (the
  ``checker`` option; 0 on ground truths);
- ``n_problems``: items scored; ``unparsed_critiques`` / ``unparsed_revisions``: how many did not
  parse (counted, and scored as their candidate; never dropped);
- per category ``<metric>_<category>`` for ``acc_at_round_0``, ``acc_at_round_1``, ``fixed_rate``,
  ``broken_rate``; per error type (the error operator that made the wrong candidate)
  ``fixed_rate_<operator>`` and ``verdict_acc_<operator>``.

Proportions come with ``<metric>_stderr`` = ``sqrt(p(1-p)/(n-1))`` over the items counted (NaN below 2).
``acc_at_round_1``, ``fixed_rate``, ``broken_rate`` and ``delta_acc`` (the net change) carry
``<metric>_ci_lower`` / ``_ci_upper``: the 95% percentile interval of 1,000 seeded bootstrap rounds
over items (:mod:`harness_tasks.uncertainty`; items in id order so a re-scoring reproduces it).
A round that draws no wrong (right) candidate has no ``fixed_rate`` (``broken_rate``) and is left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass

from harness_tasks import uncertainty
from harness_tasks.acebench.build_data import NORMAL_CATEGORIES
from harness_tasks.categories import CATEGORIES
from harness_tasks.trbench_bfcl.pairwise_metrics import proportion_stderr
from harness_tasks.trbench_build.error_operators import OPERATORS


@dataclass(frozen=True)
class ItemOutcome:
    """What the aggregations need of one item (stored as a JSON list in lm-eval's sample log)."""

    item_id: str
    source: str
    category: str
    error_operator: str
    candidate_correct: bool
    final_correct: bool
    has_critic: bool
    verdict: str | None
    critique_parsed: bool | None
    revision_requested: bool
    revision_parsed: bool | None
    critic_output_tokens: int
    reviser_output_tokens: int
    checker_disagrees: bool = False
    """The candidate or the final turn gets different verdicts under the two readings (``checker``)."""

    def to_record(self) -> list:
        return list(astuple(self))

    @classmethod
    def from_record(cls, record: Sequence) -> ItemOutcome:
        return cls(*record)

    @property
    def verdict_right(self) -> bool:
        return self.verdict == ("correct" if self.candidate_correct else "incorrect")


Aggregation = Callable[[list[Sequence]], float]
Counter = Callable[[list[ItemOutcome]], tuple[int, int]]


def _count(predicate: Callable[[ItemOutcome], bool], among: Callable[[ItemOutcome], bool]) -> Counter:
    def count(outcomes: list[ItemOutcome]) -> tuple[int, int]:
        chosen = [o for o in outcomes if among(o)]
        return sum(map(predicate, chosen)), len(chosen)

    return count


def _everything(_: ItemOutcome) -> bool:
    return True


def _outcomes(records: list[Sequence]) -> list[ItemOutcome]:
    return [ItemOutcome.from_record(record) for record in records]


def _proportion(counter: Counter) -> Aggregation:
    def aggregate(records: list[Sequence]) -> float:
        successes, total = counter(_outcomes(records))
        return successes / total if total else math.nan

    return aggregate


def _stderr(counter: Counter) -> Aggregation:
    return lambda records: proportion_stderr(*counter(_outcomes(records)))


def _mean(value: Callable[[ItemOutcome], float]) -> Aggregation:
    def aggregate(records: list[Sequence]) -> float:
        outcomes = _outcomes(records)
        return sum(map(value, outcomes)) / len(outcomes) if outcomes else math.nan

    return aggregate


def _total(value: Callable[[ItemOutcome], bool]) -> Aggregation:
    return lambda records: float(sum(map(value, _outcomes(records))))


def _with_stderr(name: str, counter: Counter, higher_is_better: bool) -> dict[str, tuple[Aggregation, bool]]:
    return {name: (_proportion(counter), higher_is_better), f"{name}_stderr": (_stderr(counter), False)}


def _in_category(
    category: str, among: Callable[[ItemOutcome], bool] = _everything
) -> Callable[[ItemOutcome], bool]:
    return lambda o: o.category == category and among(o)


def _wrong(o: ItemOutcome) -> bool:
    return not o.candidate_correct


def _right(o: ItemOutcome) -> bool:
    return o.candidate_correct


def _has_critic(o: ItemOutcome) -> bool:
    return o.has_critic


def _before(o: ItemOutcome) -> bool:
    return o.candidate_correct


def _after(o: ItemOutcome) -> bool:
    return o.final_correct


def _delta(records: list[Sequence]) -> float:
    return _proportion(_count(_after, _everything))(records) - _proportion(_count(_before, _everything))(
        records
    )


# pooled_ratio(numerator, denominator) index the columns of `_item_columns`:
# 0 final, 1 candidate, 2 wrong, 3 fixed, 4 right, 5 broken, 6 item
_INTERVAL_STATISTICS: dict[str, uncertainty.Statistic] = {
    "acc_at_round_1": uncertainty.pooled_ratio(0, 6),
    "fixed_rate": uncertainty.pooled_ratio(3, 2),
    "broken_rate": uncertainty.pooled_ratio(5, 4),
    "delta_acc": uncertainty.difference(uncertainty.pooled_ratio(0, 6), uncertainty.pooled_ratio(1, 6)),
}


def _item_columns(o: ItemOutcome) -> tuple[float, ...]:
    wrong, right = not o.candidate_correct, o.candidate_correct
    return (o.final_correct, o.candidate_correct, wrong, wrong and o.final_correct, right,
            right and not o.final_correct, 1.0)  # fmt: skip


def _bound(name: str, which: str) -> Aggregation:
    def aggregate(records: list[Sequence]) -> float:
        outcomes = sorted(_outcomes(records), key=lambda o: str(o.item_id))
        if not outcomes:
            return math.nan
        columns = [_item_columns(o) for o in outcomes]
        interval = uncertainty.bootstrap(columns, {name: _INTERVAL_STATISTICS[name]})[name]
        return getattr(interval, which)

    return aggregate


def _with_interval(name: str) -> dict[str, tuple[Aggregation, bool]]:
    higher = name != "broken_rate"
    return {
        f"{name}_ci_lower": (_bound(name, "lower"), higher),
        f"{name}_ci_upper": (_bound(name, "upper"), higher),
    }


def core_metrics() -> dict[str, tuple[Aggregation, bool]]:
    """``{name: (aggregation, higher_is_better)}`` of the run-level metrics, in report order."""
    return {
        **_with_stderr("acc_at_round_0", _count(_before, _everything), True),
        **_with_stderr("acc_at_round_1", _count(_after, _everything), True),
        **_with_interval("acc_at_round_1"),
        "delta_acc": (_delta, True),
        **_with_interval("delta_acc"),
        **_with_stderr("fixed_rate", _count(_after, _wrong), True),
        **_with_interval("fixed_rate"),
        **_with_stderr("broken_rate", _count(lambda o: not o.final_correct, _right), False),
        **_with_interval("broken_rate"),
        **_with_stderr("verdict_acc", _count(lambda o: o.verdict_right, _has_critic), True),
        "flag_rate": (_proportion(_count(lambda o: o.verdict == "incorrect", _has_critic)), False),
        "critique_parse_rate": (_proportion(_count(lambda o: bool(o.critique_parsed), _has_critic)), True),
        "revision_rate": (_proportion(_count(lambda o: o.revision_requested, _everything)), False),
        "revision_parse_rate": (
            _proportion(_count(lambda o: bool(o.revision_parsed), lambda o: o.revision_requested)),
            True,
        ),
        "critic_output_tokens": (_mean(lambda o: o.critic_output_tokens), False),
        "reviser_output_tokens": (_mean(lambda o: o.reviser_output_tokens), False),
        "total_output_tokens": (_mean(lambda o: o.critic_output_tokens + o.reviser_output_tokens), False),
        **_with_stderr(
            "checker_disagreement_rate", _count(lambda o: o.checker_disagrees, _everything), False
        ),
        "n_problems": (lambda records: float(len(records)), True),
        "unparsed_critiques": (_total(lambda o: o.has_critic and not o.critique_parsed), False),
        "unparsed_revisions": (_total(lambda o: o.revision_requested and not o.revision_parsed), False),
    }


def category_metrics(category: str) -> dict[str, tuple[Aggregation, bool]]:
    return {
        f"acc_at_round_0_{category}": (_proportion(_count(_before, _in_category(category))), True),
        f"acc_at_round_1_{category}": (_proportion(_count(_after, _in_category(category))), True),
        f"fixed_rate_{category}": (_proportion(_count(_after, _in_category(category, _wrong))), True),
        f"broken_rate_{category}": (
            _proportion(_count(lambda o: not o.final_correct, _in_category(category, _right))),
            False,
        ),
    }


def operator_metrics(operator: str) -> dict[str, tuple[Aggregation, bool]]:
    made_by = lambda o: o.error_operator == operator  # noqa: E731
    return {
        f"fixed_rate_{operator}": (_proportion(_count(_after, made_by)), True),
        f"verdict_acc_{operator}": (
            _proportion(_count(lambda o: o.verdict_right, lambda o: made_by(o) and o.has_critic)),
            True,
        ),
    }


BFCL_CATEGORIES = tuple(c.name for c in CATEGORIES if not c.name.startswith("multi_turn"))
"""Single-turn BFCL categories (the self-correction items never use multi-turn ones)."""
ACEBENCH_CATEGORIES = NORMAL_CATEGORIES
"""ACEBench's English ``normal`` categories (its file stems; ``special`` is not used, see acebench_source)."""


def all_metrics(
    categories: Sequence[str] = (*BFCL_CATEGORIES, *ACEBENCH_CATEGORIES),
) -> dict[str, tuple[Aggregation, bool]]:
    """Every metric a task may report: run-level, then per category, then per error operator."""
    table = core_metrics()
    for category in categories:
        table |= category_metrics(category)
    for operator in OPERATORS:
        table |= operator_metrics(operator)
    return table


METRICS = all_metrics()
"""The superset the task hooks export aggregations for (``utils.agg_<name>``)."""
