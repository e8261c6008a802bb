"""ACEBench items for self-correction.

Reuses :mod:`harness_tasks.acebench` (the shipped English subset, the re-implemented rule checker,
and the one Python-call <-> Hermes conversion). A candidate in Hermes form is judged by the one
dispatcher, :func:`harness_tasks.turn_verdicts.check_turn` (``"acebench"``: converted with
:func:`~harness_tasks.acebench.convert.hermes_to_acebench`, then
:func:`~harness_tasks.acebench.check_acebench`), so a call is scored in ACEBench's native format.

Only the ``normal`` categories are used, less the items whose ground truth ACEBench's own
checker rejects. ``special`` items are answered with fixed sentences
("Missing necessary parameters (...) for the api (...)") that ACEBench's own system prompt asks
for; in the Hermes conversation a critic and reviser read, nothing asks for them, so the keyword
checker would score the sentence format rather than the correction.
"""

from __future__ import annotations

import random
import re
from typing import Any

from harness_tasks.acebench import load_acebench_items, rejects_own_ground_truth
from harness_tasks.acebench.reader import AceItem
from harness_tasks.tool_calls import ToolCall, format_tool_calls
from harness_tasks.trbench_build.reject_sampling import SINGLE_TURN_WEIGHTS, NoRejectError, draw_reject
from harness_tasks.turn_verdicts import check_turn


_CALL_SUFFIX = re.compile(r"_\d+$")


def truth_calls(item: AceItem) -> list[ToolCall]:
    """The first ground-truth alternative as calls (``f_1`` keys name a second call of ``f``)."""
    truth = item.ground_truth[0] if isinstance(item.ground_truth, list) else item.ground_truth
    names = {doc["name"] for doc in item.tools}
    return [ToolCall(key if key in names else _CALL_SUFFIX.sub("", key), args) for key, args in truth.items()]


def acebench_items(
    seed: int, correct_share: float, max_per_category: int | None, rng_of, correct_positions
) -> tuple[list[dict[str, Any]], list[str]]:
    """Items of the ``normal`` categories, and the ids skipped because no error operator applied.

    Items whose ground truth ACEBench's own checker rejects are left out (listed in the README).
    """
    by_category: dict[str, list[AceItem]] = {}
    for item in load_acebench_items():
        if item.group == "normal" and not rejects_own_ground_truth(item):
            by_category.setdefault(item.category, []).append(item)
    items, skipped = [], []
    for category, members in by_category.items():
        members = rng_of(seed, "acebench", category, "order").sample(members, len(members))
        if max_per_category is not None:
            members = members[:max_per_category]
        correct = correct_positions(
            len(members), correct_share, rng_of(seed, "acebench", category, "correct")
        )
        for position, item in enumerate(members):
            calls = truth_calls(item)
            reference = format_tool_calls(calls)
            where = f"acebench {category} {item.id}"
            if not check_turn("acebench", item, 0, reference).correct:
                raise RuntimeError(f"{where}: ACEBench's checker rejects the ground truth {reference!r}")
            candidate, operator, error_type, message = reference, "", "", ""
            if position not in correct:
                rng: random.Random = rng_of(seed, "acebench", category, item.id, "reject")

                def check(text: str, item: AceItem = item):
                    return check_turn("acebench", item, 0, text)

                try:
                    reject = draw_reject(
                        calls, item.tools, item.question, check, rng, SINGLE_TURN_WEIGHTS,
                        avoid_texts=[reference], where=where,
                    )  # fmt: skip
                except NoRejectError:
                    skipped.append(item.id)
                    continue
                result = check_turn("acebench", item, 0, reject.text)
                candidate, operator = reject.text, reject.operator
                error_type, message = result.error_type or "", result.message or ""
            items.append(
                {
                    "id": f"acebench/{category}/{item.id}",
                    "source": "acebench",
                    "category": category,
                    "raw_id": item.id,
                    "turn_index": 0,
                    "chat_history": [dict(m) for m in item.messages],
                    "candidate": candidate,
                    "candidate_correct": position in correct,
                    "error_operator": operator,
                    "error_type": error_type,
                    "checker_message": message,
                    "reference_response": reference,
                    "answer_kind": "calls",
                }
            )
    return items, skipped
