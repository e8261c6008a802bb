"""What a source's own checker says about one assistant turn: the one dispatcher.

source → checker, each reading the turn as that source does (``reading="source"``) or with our
lenient reading (``"corrected"``, a documented option):

* ``bfcl``: decoded as BFCL's Qwen FC handler decodes it, then BFCL's own checker
  (:func:`harness_tasks.bfcl_handler_decoding.check_turn`; the AST or multi-turn checker of
  :mod:`harness_tasks.trbench_build.checkers`);
* ``acebench``: converted to ACEBench's native call list and judged by the ACEBench checker
  (:func:`harness_tasks.acebench.check_acebench`).

Three ways to hand over the answer, one per kind of caller:

* :func:`check_turn`: an assistant turn in Hermes form (what a judge reads and a model writes);
* :func:`check_calls`: calls already decoded (a builder's ground-truth variants);
* :func:`check_native`: an answer in the source's own format (ACEBench's Python call list, as a
  policy prompted the ACEBench way writes it).

A checker crash (BFCL's checker raises on values it cannot type-check) means different things to
different callers, so they say which they need (``on_crash``):

* ``"verdict"`` (scoring model output, the default): the turn is wrong with error type
  ``checker_crashed``; the crash is the response's fault and the item is never dropped;
* ``"raise"`` (building data): :class:`CheckerCrashedError` propagates, so reject sampling can
  skip the candidate instead of storing a reject whose "error" is our checker's crash.

Callers: the TRBench-BFCL builder (:mod:`harness_tasks.trbench_build.build`), the Best-of-N
builder, sampler and re-checks (:mod:`harness_tasks.trbench_bon`), and the self-correction builder
and scorer (:mod:`harness_tasks.trbench_selfcorrect`). ``tests/test_turn_verdicts.py`` fails if
any other product module imports a checker directly. The ToolPref pipeline asks another question
("how close is this turn to the ground truth", a graded score for any input source, not just those
with a checker); that has its own one definition, :mod:`harness_tasks.tool_call_score`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness_tasks.acebench import (
    CORRECTED,
    READINGS,
    SOURCE,
    check_acebench,
    hermes_to_acebench,
    to_python_calls,
)
from harness_tasks.tool_calls import ToolCall
from harness_tasks.trbench_build.checkers import CheckerCrashedError


CHECKER_CRASHED = "checker_crashed"
ON_CRASH = ("verdict", "raise")


@dataclass(frozen=True)
class TurnVerdict:
    correct: bool
    error_type: str | None
    """The checker's error type for a wrong turn (BFCL: ``""`` for a right one; ACEBench: ``None``)."""
    message: str | None
    """The checker's own message (the self-correction oracle critic hands it to the reviser)."""


def _crash_verdict(run: Callable[[], TurnVerdict], on_crash: str) -> TurnVerdict:
    if on_crash not in ON_CRASH:
        raise ValueError(f"on_crash must be one of {ON_CRASH}, got {on_crash!r}")
    try:
        return run()
    except CheckerCrashedError as error:
        if on_crash == "raise":
            raise
        return TurnVerdict(False, CHECKER_CRASHED, str(error))


def _bfcl_turn(item: Any, turn_index: int, text: str, reading: str) -> TurnVerdict:
    from harness_tasks.bfcl_handler_decoding import check_turn as check_bfcl_turn

    verdict = check_bfcl_turn(item, turn_index, text, reading)
    return TurnVerdict(verdict.valid, verdict.error_type, verdict.message)


def _bfcl_calls(item: Any, turn_index: int, calls: Sequence[ToolCall]) -> TurnVerdict:
    from harness_tasks.trbench_build.checkers import check_calls as check_bfcl_calls

    verdict = check_bfcl_calls(item, turn_index, calls)
    return TurnVerdict(verdict.valid, verdict.error_type, verdict.message)


def _acebench_native(item: Any, answer: str | Sequence[Any], reading: str) -> TurnVerdict:
    result = check_acebench(item, answer, reading=reading)
    return TurnVerdict(result.correct, result.error_type, result.message)


def _acebench_turn(item: Any, turn_index: int, text: str, reading: str) -> TurnVerdict:
    return _acebench_native(item, hermes_to_acebench(text), reading)


def _acebench_calls(item: Any, turn_index: int, calls: Sequence[ToolCall]) -> TurnVerdict:
    return _acebench_native(item, to_python_calls(list(calls)), SOURCE)


TURN_CHECKERS: dict[str, Callable[[Any, int, str, str], TurnVerdict]] = {
    "bfcl": _bfcl_turn,
    "acebench": _acebench_turn,
}
CALL_CHECKERS: dict[str, Callable[[Any, int, Sequence[ToolCall]], TurnVerdict]] = {
    "bfcl": _bfcl_calls,
    "acebench": _acebench_calls,
}
NATIVE_CHECKERS: dict[str, Callable[[Any, Any, str], TurnVerdict]] = {"acebench": _acebench_native}


def _checker(table: dict[str, Any], source: str) -> Any:
    if source not in table:
        raise ValueError(f"unknown checker source {source!r}; expected one of {sorted(table)}")
    return table[source]


def check_turn(
    source: str, item: Any, turn_index: int, text: str, reading: str = SOURCE, *, on_crash: str = "verdict"
) -> TurnVerdict:
    """The ``source`` checker's verdict on ``text`` (Hermes form) as turn ``turn_index`` of ``item``.

    ``item`` is the source's own item (a ``BfclItem`` or an ``AceItem``); ACEBench items have one turn.
    """
    checker = _checker(TURN_CHECKERS, source)
    return _crash_verdict(lambda: checker(item, turn_index, text, reading), on_crash)


def check_calls(
    source: str, item: Any, turn_index: int, calls: Sequence[ToolCall], *, on_crash: str = "verdict"
) -> TurnVerdict:
    """The ``source`` checker's verdict on decoded ``calls`` as turn ``turn_index`` of ``item``
    (no decoding step, so no reading to choose)."""
    checker = _checker(CALL_CHECKERS, source)
    return _crash_verdict(lambda: checker(item, turn_index, calls), on_crash)


def check_native(source: str, item: Any, answer: str | Sequence[Any], reading: str = SOURCE) -> TurnVerdict:
    """The ``source`` checker's verdict on an answer in the source's own format (ACEBench only:
    BFCL's own format for a Qwen FC model is the Hermes turn, :func:`check_turn`)."""
    return _checker(NATIVE_CHECKERS, source)(item, answer, reading)


__all__ = [
    "CHECKER_CRASHED",
    "CORRECTED",
    "ON_CRASH",
    "READINGS",
    "SOURCE",
    "CheckerCrashedError",
    "TurnVerdict",
    "check_calls",
    "check_native",
    "check_turn",
]
