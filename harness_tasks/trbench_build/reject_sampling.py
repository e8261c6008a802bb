"""Choose a rejected response for a context: a seeded, weighted error operator whose output BFCL rejects.

Operator weights (relative; only operators that apply to the context compete):

Single-turn categories. Value mistakes dominate what BFCL's leaderboard models get wrong on the AST
categories (``value_error:*`` and, in parallel categories, value mismatches reported as
``cannot_find_match``), so ``wrong_value`` carries the most weight. Wrong call counts are the
next common failure of parallel categories (``missing_call``, ``extra_call``; they only apply with
several calls or as an extra one). Schema slips (hallucinated or missing arguments, wrong types,
wrong function) are each less common but must all be present so a judge is tested on every kind
of error. ``text_answer`` (a needless clarification or a claimed result) is the failure a judge
most easily mistakes for helpfulness, so it is kept visible but small. ``extra_state_changing_call``
is a multi-turn notion and is off here.

``multi_turn_base``. BFCL's multi-turn checker accepts harmless extra calls, so only mistakes that
change state or lose a result count: dropped calls (``missing_call``), wrong values, wrong tools,
unrequested actions (``extra_state_changing_call``) and text answers, as the brief for this
category lists; argument-level slips (which the back-ends answer with an error) are kept small.

Within one context, an operator already used for an earlier reject weighs ``REPEAT_PENALTY`` times
less per use, so an item's several rejects differ in kind, not just in detail.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness_tasks.tool_calls import ToolCall
from harness_tasks.trbench_build.error_operators import OPERATORS
from harness_tasks.turn_verdicts import CheckerCrashedError, TurnVerdict


SINGLE_TURN_WEIGHTS: Mapping[str, float] = {
    "wrong_value": 30,
    "missing_call": 12,
    "hallucinated_argument": 10,
    "wrong_function": 10,
    "missing_required_argument": 8,
    "swapped_values": 8,
    "text_answer": 8,
    "wrong_type": 7,
    "extra_call": 7,
    "extra_state_changing_call": 0,
}
MULTI_TURN_WEIGHTS: Mapping[str, float] = {
    "wrong_value": 25,
    "missing_call": 20,
    "wrong_function": 15,
    "extra_state_changing_call": 15,
    "text_answer": 10,
    "missing_required_argument": 5,
    "hallucinated_argument": 4,
    "wrong_type": 3,
    "swapped_values": 3,
    "extra_call": 0,  # an extra read-only call passes BFCL's multi-turn checker
}
REPEAT_PENALTY = 0.2
ATTEMPTS_PER_OPERATOR = 4
"""Operators are random inside (which call, which value): a few draws before moving on."""


def operator_weights(multi_turn: bool) -> Mapping[str, float]:
    return MULTI_TURN_WEIGHTS if multi_turn else SINGLE_TURN_WEIGHTS


@dataclass(frozen=True)
class Reject:
    text: str
    operator: str
    error_type: str


class NoRejectError(RuntimeError):
    """No operator produced a new response that BFCL's checker rejects."""


def draw_reject(
    calls: Sequence[ToolCall],
    tools: Sequence[Mapping[str, Any]],
    question: str,
    check: Callable[[str], TurnVerdict],
    rng: random.Random,
    weights: Mapping[str, float],
    *,
    avoid_texts: Sequence[str] = (),
    used_operators: Sequence[str] = (),
    where: str = "",
) -> Reject:
    """The first checker-rejected, not-yet-used response from operators drawn by seeded weighted choice.

    ``check`` gets the response text (what is stored), so the recorded error type is the one a
    re-check of the stored text gives; it asks :mod:`harness_tasks.turn_verdicts` with
    ``on_crash="raise"``, and a candidate the checker crashes on is skipped. ``avoid_texts``: the
    chosen response and earlier rejects.
    """
    remaining = {
        name: weights[name] * REPEAT_PENALTY ** used_operators.count(name)
        for name in OPERATORS
        if weights.get(name, 0) > 0
    }
    avoid = set(avoid_texts)
    tried: list[str] = []
    while remaining:
        names = [name for name in OPERATORS if name in remaining]  # registry order: deterministic
        name = rng.choices(names, weights=[remaining[n] for n in names])[0]
        del remaining[name]
        tried.append(name)
        for _ in range(ATTEMPTS_PER_OPERATOR):
            candidate = OPERATORS[name](list(calls), [dict(doc) for doc in tools], question, rng)
            if candidate is None or candidate.text in avoid:
                continue
            try:
                verdict = check(candidate.text)
            except CheckerCrashedError:
                continue
            if not verdict.correct:
                return Reject(candidate.text, name, verdict.error_type or "")
    raise NoRejectError(
        f"{where}: no error operator gave a new response that BFCL's checker rejects "
        f"(tried {', '.join(tried)})"
    )
