"""Where a candidate set's item and context come from: ACEBench (shipped) or BFCL (``bfcl-eval``).

Verdicts on a candidate are the source checker's, asked through the one dispatcher
(:mod:`harness_tasks.turn_verdicts`) with the item found here by its id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from harness_tasks.acebench import SOURCE
from harness_tasks.acebench.reader import AceItem, item_by_id


if TYPE_CHECKING:
    from harness_tasks.turn_verdicts import TurnVerdict


@dataclass(frozen=True)
class Verdict:
    correct: bool
    error_type: str | None


class UnknownItemError(KeyError):
    pass


class LabelContradictsCheckerError(ValueError):
    """A stored ``correct`` label the source checker does not give (a user's file labelled by hand)."""

    def __init__(self, index: int, stored: bool, verdict: Verdict) -> None:
        self.index, self.stored, self.verdict = index, stored, verdict
        said = "passes it" if verdict.correct else f"fails it ({verdict.error_type or 'no error type'})"
        super().__init__(
            f"is {str(stored).lower()}, but the source checker (ACEBench's or BFCL's own reading) {said}"
        )


def acebench_item(item_id: str) -> AceItem:
    local = item_id.removeprefix("acebench:")
    found = item_by_id().get(local)
    if found is None:
        raise UnknownItemError(f"{item_id!r} is not an item of the shipped ACEBench subset")
    return found


@cache
def _bfcl_items() -> dict[str, object]:
    from harness_tasks.categories import CATEGORY_NAMES
    from harness_tasks.trbench_build.bfcl_source import load_category

    return {
        item.id: item for name in CATEGORY_NAMES if name != "multi_turn_base" for item in load_category(name)
    }


def bfcl_item(item_id: str):
    found = _bfcl_items().get(item_id.removeprefix("bfcl:"))
    if found is None:
        raise UnknownItemError(f"{item_id!r} is not a single-turn BFCL item of the installed bfcl-eval")
    return found


def chat_history(source: str, item_id: str) -> list[dict[str, str]]:
    if source == "acebench":
        return [dict(m) for m in acebench_item(item_id).messages]
    from harness_tasks.trbench_build.build import single_turn_context

    return [dict(m) for m in single_turn_context(bfcl_item(item_id)).chat_history]


ITEM_FINDERS = {"acebench": acebench_item, "bfcl": bfcl_item}


def _verdict(verdict: TurnVerdict) -> Verdict:
    """The dispatcher's verdict as Best-of-N stores it (no error type on a correct candidate)."""
    return Verdict(verdict.correct, None if verdict.correct else verdict.error_type)


def check_turn(source: str, item_id: str, text: str, reading: str = SOURCE) -> Verdict:
    """Score one assistant turn (Hermes form) with the source's own checker, via the one dispatcher
    (:mod:`harness_tasks.turn_verdicts`).

    ``reading="source"`` reads the turn as the source does (ACEBench: the call list its evaluator
    reads; BFCL: its Qwen FC handler's decoder); ``"corrected"`` with our lenient readings.
    """
    from harness_tasks import turn_verdicts

    return _verdict(turn_verdicts.check_turn(source, ITEM_FINDERS[source](item_id), 0, text, reading))


def check_native(source: str, item_id: str, answer: str | Sequence, reading: str = SOURCE) -> Verdict:
    """ACEBench: score the answer in ACEBench's own format (a policy sampled with its prompt)."""
    if source != "acebench":
        return check_turn(source, item_id, answer if isinstance(answer, str) else "", reading)
    from harness_tasks import turn_verdicts

    result = turn_verdicts.check_native(source, acebench_item(item_id), answer, reading)
    return Verdict(result.correct, result.error_type)


def check_candidate(
    source: str, item_id: str, text: str, native: str | None, reading: str = SOURCE
) -> Verdict:
    """A stored candidate re-checked: its ``native`` answer where it has one, else its text."""
    if native is not None and source == "acebench":
        return check_native(source, item_id, native, reading)
    return check_turn(source, item_id, text, reading)


def labels_under(
    source: str, item_id: str, candidates: Sequence, checker: str
) -> tuple[list[bool], int, int]:
    """The candidates' correctness under ``checker`` and how often the two readings disagree.

    ``checker="source"`` keeps the stored labels (the source's own verdicts); ``"corrected"``
    re-checks every candidate with our corrected reading. Either way each candidate is scored under
    both readings to count ``(disagreements, compared)``; a candidate of an item we cannot re-check
    (a user's own item outside the shipped ACEBench subset and the installed BFCL) is not compared,
    and under ``"corrected"`` such an item is an error.

    A stored label that the source reading contradicts raises :class:`LabelContradictsCheckerError`
    (``index`` names the candidate): the source verdict is computed here anyway, so this costs
    nothing, and a hand-labelled file cannot make a wrong candidate count as correct (or the
    reverse). The verdict is :func:`check_candidate`'s, the dispatcher that re-checks stored
    candidates (``native`` answer for ACEBench, the Hermes text for BFCL).
    """
    from harness_tasks.acebench import CORRECTED, READINGS

    if checker not in READINGS:
        raise ValueError(f"checker must be one of {READINGS}, got {checker!r}")
    labels, disagreements, compared = [], 0, 0
    for index, candidate in enumerate(candidates):
        try:
            full = {
                reading: check_candidate(source, item_id, candidate.text, candidate.native, reading)
                for reading in READINGS
            }
        except UnknownItemError:
            if checker == CORRECTED:
                raise
            labels.append(candidate.correct)
            continue
        if full[SOURCE].correct != candidate.correct:
            raise LabelContradictsCheckerError(index, candidate.correct, full[SOURCE])
        verdicts = {reading: verdict.correct for reading, verdict in full.items()}
        compared += 1
        disagreements += verdicts[SOURCE] != verdicts[CORRECTED]
        labels.append(candidate.correct if checker == SOURCE else verdicts[CORRECTED])
    return labels, disagreements, compared
