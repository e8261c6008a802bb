"""Rule-based score of a candidate assistant turn against the ground-truth turn: what a correct tool call is.

The preference-data pipeline (``toolrm_train.toolpref``) scores sampled responses with this function,
the benchmark and trainers import it, so "how right is this call" has one definition. It is a pure
function of the two turns and, optionally, the tool schemas.

Definition (ToolRM's own formula is not public; paper.md §1 recovers that the score lies in [0, 1],
is fine-grained, and that its first rule concerns the number of calls; the rest follows ToolRL's
name/key/value decomposition, adapted as documented here):

1. **Format.** A ``<tool_call>`` block that is not ``{"name": str, "arguments": object}`` JSON makes
   the whole turn score 0 (``malformed_tool_call``): a runtime could not execute it.
2. **Text turns.** If the ground truth makes no call (a text answer was expected), a candidate
   without calls scores 1 (``text_answer``; free text cannot be checked by rules) and one with calls
   scores 0 (``unexpected_tool_call``). If calls were expected and the candidate makes none it
   scores 0 (``missing_tool_call``). Text next to calls is ignored.
3. **Count** (the paper's first rule). A different number of calls scores 0 (``wrong_call_count``).
4. **Partial credit.** Otherwise the calls are matched one to one, order-insensitively (calls of one
   assistant turn are issued together and none can see another's result), by the assignment that
   maximises the credit below; pass ``ordered=True`` to match them by position instead (for
   stateful tools whose effects depend on order; ``R_name`` stays order-free). Then

   ``score = (R_name + R_key + R_value) / (1 + n + sum_i |K(g_i)|)``

   over the ``n`` ground-truth calls ``g_i`` and their matched candidates ``c_i``:

   * ``R_name`` = multiset intersection-over-union of the called names (at most 1);
   * ``R_key`` = sum over pairs **with the same name** of ``|K(c) ∩ K(g)| / |K(c) ∪ K(g)|``
     (argument-key Jaccard; 1 when both calls take no arguments);
   * ``R_value`` = sum over pairs **with the same name** of the ground-truth keys whose candidate
     value is equal after normalisation (below).

   Keys and values of a call to a *different* function earn nothing: arguments of another function
   answer another request, and crediting them would rank a wrong-function call above a correct
   call with one wrong value. Labels: ``exact_match`` (score 1), ``partial_match``, ``no_match``.

Value normalisation (decided here; BFCL's checker motivates each rule):

* numbers compare numerically, so ``5 == 5.0`` (JSON does not distinguish them; BFCL accepts an int
  for a float); booleans are not numbers (``True != 1``);
* no cross-type coercion: ``"5"`` does not equal ``5``. A string where the schema wants an integer is
  a type error that BFCL rejects and that a strict runtime fails on, so it must not score as correct;
* strings compare after Unicode NFKC, trimming, collapsing runs of whitespace and case-folding
  (BFCL is case-insensitive; we keep punctuation, which carries meaning in paths, dates and codes);
* lists compare element-wise in order; objects compare key-wise, recursively with the same rules;
* with ``tools``: an optional argument whose value equals its schema ``default`` is treated as
  omitted, on both sides (passing the default and leaving it out call the tool the same way).
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness_tasks.tool_calls import ToolCall, parse_tool_calls


MESSAGES = (
    "exact_match",
    "partial_match",
    "no_match",
    "wrong_call_count",
    "malformed_tool_call",
    "missing_tool_call",
    "unexpected_tool_call",
    "text_answer",
)
"""Every ``ToolCallScore.message`` label, like the release's ``*_reward_message`` columns."""

_MAX_EXACT_ASSIGNMENT = 12
"""Above this many calls the optimal assignment (bitmask DP, O(n² 2ⁿ)) gives way to a greedy one."""


@dataclass(frozen=True)
class ToolCallScore:
    score: float
    """In [0, 1]; 1 only for a turn equivalent to the ground truth."""
    message: str
    """Short label saying why (one of :data:`MESSAGES`)."""
    name_credit: float = 0.0
    key_credit: float = 0.0
    value_credit: float = 0.0
    max_credit: float = 0.0
    """``1 + n + Σ|K(g)|``; 0 when the score was decided by a rule before partial credit."""


def _as_calls(response: str | Sequence[ToolCall]) -> tuple[tuple[ToolCall, ...], bool]:
    """The calls of a turn and whether any block was malformed."""
    if isinstance(response, str):
        parsed = parse_tool_calls(response)
        return parsed.calls, not parsed.is_well_formed
    return tuple(response), False


def _tool_schemas(tools: Sequence[Mapping[str, Any]] | None) -> dict[str, Mapping[str, Any]]:
    """Function name → its ``parameters`` schema; accepts raw docs or ``{"type": "function", ...}``."""
    schemas: dict[str, Mapping[str, Any]] = {}
    for tool in tools or ():
        doc = tool.get("function", tool) if isinstance(tool, Mapping) else {}
        if isinstance(doc, Mapping) and isinstance(doc.get("name"), str):
            parameters = doc.get("parameters")
            schemas[doc["name"]] = parameters if isinstance(parameters, Mapping) else {}
    return schemas


def normalise_value(value: Any) -> Any:
    """Canonical form for comparing argument values (rules in the module docstring)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        number = float(value)
        return ("number", number) if math.isfinite(number) else ("number", repr(number))
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value)
        return ("string", " ".join(text.split()).casefold())
    if isinstance(value, Mapping):
        return ("object", tuple(sorted((str(k), normalise_value(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("array", tuple(normalise_value(item) for item in value))
    return ("other", json.dumps(value, sort_keys=True, default=str))


def values_equal(candidate: Any, ground_truth: Any) -> bool:
    return normalise_value(candidate) == normalise_value(ground_truth)


def _effective_arguments(call: ToolCall, schemas: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Arguments with optional ones that equal their schema default removed."""
    schema = schemas.get(call.name)
    if not schema:
        return dict(call.arguments)
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    effective = {}
    for key, value in call.arguments.items():
        spec = properties.get(key)
        if (
            key not in required
            and isinstance(spec, Mapping)
            and "default" in spec
            and values_equal(value, spec["default"])
        ):
            continue
        effective[key] = value
    return effective


def _pair_credit(candidate: dict[str, Any], ground_truth: dict[str, Any]) -> tuple[float, int]:
    """(key Jaccard, number of ground-truth keys with an equal value) for two same-name calls."""
    union = candidate.keys() | ground_truth.keys()
    key_credit = len(candidate.keys() & ground_truth.keys()) / len(union) if union else 1.0
    value_credit = sum(
        1 for key, value in ground_truth.items() if key in candidate and values_equal(candidate[key], value)
    )
    return key_credit, value_credit


def _best_assignment(credit: list[list[float]]) -> list[int]:
    """``assignment[i]`` = candidate index matched to ground-truth call ``i``, maximising total credit.

    Exact (DP over subsets of candidates) up to ``_MAX_EXACT_ASSIGNMENT`` calls, which covers every
    BFCL and ToolPref turn; beyond that a greedy best-pair-first assignment.
    """
    n = len(credit)
    if n <= _MAX_EXACT_ASSIGNMENT:
        best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
        for i in range(n):
            step: dict[int, tuple[float, tuple[int, ...]]] = {}
            for used, (total, chosen) in best.items():
                for j in range(n):
                    if used & (1 << j):
                        continue
                    key = used | (1 << j)
                    value = total + credit[i][j]
                    if key not in step or value > step[key][0] + 1e-12:
                        step[key] = (value, (*chosen, j))
            best = step
        return list(best[(1 << n) - 1][1])
    pairs = sorted((-credit[i][j], i, j) for i in range(n) for j in range(n))
    assignment = [-1] * n
    taken: set[int] = set()
    for _, i, j in pairs:
        if assignment[i] == -1 and j not in taken:
            assignment[i] = j
            taken.add(j)
    return assignment


def score_tool_calls(
    candidate: str | Sequence[ToolCall],
    ground_truth: str | Sequence[ToolCall],
    tools: Sequence[Mapping[str, Any]] | None = None,
    *,
    ordered: bool = False,
) -> ToolCallScore:
    """Score a candidate assistant turn against the ground-truth turn (definition: module docstring).

    ``candidate`` and ``ground_truth`` are Hermes assistant-turn text or already parsed calls;
    ``tools`` (function docs) enables the schema-default rule; ``ordered`` matches calls by position.
    """
    candidate_calls, malformed = _as_calls(candidate)
    truth_calls, truth_malformed = _as_calls(ground_truth)
    if truth_malformed:
        raise ValueError("ground truth holds a malformed <tool_call> block; validate it before scoring")
    if malformed:
        return ToolCallScore(0.0, "malformed_tool_call")
    if not truth_calls:
        if candidate_calls:
            return ToolCallScore(0.0, "unexpected_tool_call")
        return ToolCallScore(1.0, "text_answer")
    if not candidate_calls:
        return ToolCallScore(0.0, "missing_tool_call")
    if len(candidate_calls) != len(truth_calls):
        return ToolCallScore(0.0, "wrong_call_count")

    schemas = _tool_schemas(tools)
    truth_args = [_effective_arguments(call, schemas) for call in truth_calls]
    cand_args = [_effective_arguments(call, schemas) for call in candidate_calls]
    n = len(truth_calls)
    pair_credit: list[list[tuple[float, int]]] = [
        [
            _pair_credit(cand_args[j], truth_args[i])
            if candidate_calls[j].name == truth_calls[i].name
            else (0.0, 0)
            for j in range(n)
        ]
        for i in range(n)
    ]
    # different-name pairs earn nothing, so maximising argument credit is the whole objective
    totals = [[key + value for key, value in row] for row in pair_credit]
    assignment = list(range(n)) if ordered else _best_assignment(totals)

    truth_names = Counter(call.name for call in truth_calls)
    cand_names = Counter(call.name for call in candidate_calls)
    name_credit = sum((truth_names & cand_names).values()) / sum((truth_names | cand_names).values())
    key_credit = sum(pair_credit[i][assignment[i]][0] for i in range(n))
    value_credit = float(sum(pair_credit[i][assignment[i]][1] for i in range(n)))
    max_credit = 1.0 + n + sum(len(args) for args in truth_args)
    score = (name_credit + key_credit + value_credit) / max_credit
    score = min(1.0, max(0.0, score))
    if math.isclose(score, 1.0, abs_tol=1e-9):
        score, message = 1.0, "exact_match"
    elif score <= 0.0:
        message = "no_match"
    else:
        message = "partial_match"
    return ToolCallScore(round(score, 6), message, name_credit, key_credit, value_credit, max_credit)
