"""What a generative judge answered, and whether that answer is right.

The evaluation tasks and the GRPO training reward both call these functions, so a judgment is
scored the same way in both places. Parsing follows the ToolRM reference evaluation: reasoning in
``<think>...</think>`` is removed first, then the strict pattern ``<choice>\\n(.*?)\\n</choice>`` is
tried, then the soft pattern ``<choice>(.*?)</choice>``; the answer must be ``1`` or ``2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal


STRICT_CHOICE = re.compile(r"<choice>\n(.*?)\n</choice>", re.DOTALL)
SOFT_CHOICE = re.compile(r"<choice>(.*?)</choice>", re.DOTALL)
VALID_ANSWERS = ("1", "2")

MatchKind = Literal["strict", "soft", "none"]


@dataclass(frozen=True)
class ParsedChoice:
    answer: str | None
    """``"1"``, ``"2"`` or ``None`` when no valid answer was found."""
    match: MatchKind
    """Which pattern produced the answer; ``"none"`` when neither gave a valid one."""


def strip_think(text: str) -> str:
    """Drop the judge's reasoning so a ``<choice>`` quoted inside it is never read as the answer.

    Everything up to the last ``</think>`` is reasoning (chat templates may open the block in the
    prompt, so the output can hold a closing tag only). A ``<think>`` that is never closed means
    the reasoning was cut off, so nothing after it counts as an answer.
    """
    closing = text.rfind("</think>")
    if closing != -1:
        text = text[closing + len("</think>") :]
    opening = text.find("<think>")
    if opening != -1:
        text = text[:opening]
    return text


def parse_choice(text: str, *, allow_soft: bool = True) -> ParsedChoice:
    """Read the judge's ``<choice>`` answer from its raw output."""
    visible = strip_think(text)
    patterns: list[tuple[MatchKind, re.Pattern[str]]] = [("strict", STRICT_CHOICE)]
    if allow_soft:
        patterns.append(("soft", SOFT_CHOICE))
    for kind, pattern in patterns:
        found = pattern.search(visible)
        if found is not None and found.group(1).strip() in VALID_ANSWERS:
            return ParsedChoice(found.group(1).strip(), kind)
    return ParsedChoice(None, "none")


def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: dict[str, Any] | None = None
) -> dict[str, Any]:
    """GRPO reward for a pairwise judgment, with verl's custom-reward signature.

    As in the reference training run, only the strict format earns the reward: 1.0 when the
    strictly parsed answer equals the ground-truth position, else 0.0 (no partial format credit).
    """
    parsed = parse_choice(solution_str, allow_soft=False)
    score = 1.0 if parsed.answer is not None and parsed.answer == str(ground_truth).strip() else 0.0
    return {
        "score": score,
        "pred_answer": parsed.answer,
        "gt_answer": str(ground_truth),
        "data_source": data_source,
    }
