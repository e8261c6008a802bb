"""What a source's own checker says about one assistant turn (Hermes form): the one dispatcher.

source → checker, each reading the turn as that source does (``reading="source"``) or with our
lenient reading (``"corrected"``, a documented option):

* ``bfcl``: decoded as BFCL's Qwen FC handler decodes it, then BFCL's own checker
  (:func:`harness_tasks.bfcl_handler_decoding.check_turn`). A turn the checker crashes on is wrong
  with error type ``checker_crashed``: the crash is the response's fault, and the item is never
  dropped;
* ``acebench``: converted to ACEBench's native call list and judged by the ACEBench checker
  (:func:`harness_tasks.acebench.check_acebench`).

Best-of-N (:mod:`harness_tasks.trbench_bon.sources`) and self-correction
(:mod:`harness_tasks.trbench_selfcorrect.checking`) find the item and ask here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness_tasks.acebench import SOURCE, check_acebench, hermes_to_acebench


CHECKER_CRASHED = "checker_crashed"


@dataclass(frozen=True)
class TurnVerdict:
    correct: bool
    error_type: str | None
    """The checker's error type for a wrong turn (BFCL: ``""`` for a right one; ACEBench: ``None``)."""
    message: str | None
    """The checker's own message (the self-correction oracle critic hands it to the reviser)."""


def _check_bfcl(item: Any, turn_index: int, text: str, reading: str) -> TurnVerdict:
    from harness_tasks.bfcl_handler_decoding import CheckerCrashedError, check_turn

    try:
        verdict = check_turn(item, turn_index, text, reading)
    except CheckerCrashedError as error:
        return TurnVerdict(False, CHECKER_CRASHED, str(error))
    return TurnVerdict(verdict.valid, verdict.error_type, verdict.message)


def _check_acebench(item: Any, turn_index: int, text: str, reading: str) -> TurnVerdict:
    result = check_acebench(item, hermes_to_acebench(text), reading=reading)
    return TurnVerdict(result.correct, result.error_type, result.message)


CHECKERS: dict[str, Callable[[Any, int, str, str], TurnVerdict]] = {
    "bfcl": _check_bfcl,
    "acebench": _check_acebench,
}


def check_turn(source: str, item: Any, turn_index: int, text: str, reading: str = SOURCE) -> TurnVerdict:
    """The ``source`` checker's verdict on ``text`` as turn ``turn_index`` of ``item``.

    ``item`` is the source's own item (a ``BfclItem`` or an ``AceItem``); ACEBench items have one turn.
    """
    if source not in CHECKERS:
        raise ValueError(f"unknown checker source {source!r}; expected one of {sorted(CHECKERS)}")
    return CHECKERS[source](item, turn_index, text, reading)
