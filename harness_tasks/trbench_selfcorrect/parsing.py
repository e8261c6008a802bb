"""Reading a critic's verdict and a reviser's corrected turn. Every scan is ``str.find``-based, so
parsing is linear in the length of the output whatever the model wrote.

A critique **parses** when, after the reasoning is removed (:func:`harness_tasks.judgment.strip_think`),
its last ``<verdict>…</verdict>`` block says ``correct`` or ``incorrect`` (case and surrounding
white space ignored) and, for ``incorrect``, a non-empty ``<critique>…</critique>`` block says
what to change (the reviser needs it).

A revision **parses** when it is a valid Hermes assistant turn of the kind the item needs: no
malformed or unclosed ``<tool_call>`` block and, for items answered by tool calls, at least one
call (parsed by :func:`harness_tasks.tool_calls.parse_tool_calls`); for items answered in text
(ACEBench's special categories), a non-empty text reply also parses. An unparseable critique or
revision is counted, and the item is scored as its candidate (see the task README).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness_tasks.judgment import strip_think
from harness_tasks.tool_calls import parse_tool_calls


Verdict = Literal["correct", "incorrect"]
VERDICTS: tuple[Verdict, ...] = ("correct", "incorrect")


@dataclass(frozen=True)
class ParsedCritique:
    verdict: Verdict | None
    """``None`` when the critique does not parse."""
    critique: str
    """The ``<critique>`` text (``""`` when absent)."""

    @property
    def parsed(self) -> bool:
        return self.verdict is not None


@dataclass(frozen=True)
class ParsedRevision:
    response: str | None
    """The corrected assistant turn, reasoning removed; ``None`` when the revision does not parse."""

    @property
    def parsed(self) -> bool:
        return self.response is not None


def last_block(text: str, tag: str) -> str | None:
    """Content of the last complete ``<tag>…</tag>`` block, or ``None``.

    One backwards search for the closing tag, then one for the opening tag before it: linear.
    """
    closing = text.rfind(f"</{tag}>")
    if closing == -1:
        return None
    opening = text.rfind(f"<{tag}>", 0, closing)
    if opening == -1:
        return None
    return text[opening + len(tag) + 2 : closing]


def parse_critique(output: str) -> ParsedCritique:
    visible = strip_think(output)
    critique = (last_block(visible, "critique") or "").strip()
    verdict_text = last_block(visible, "verdict")
    verdict = verdict_text.strip().lower() if verdict_text is not None else None
    if verdict not in VERDICTS or (verdict == "incorrect" and not critique):
        return ParsedCritique(None, critique)
    return ParsedCritique(verdict, critique)  # type: ignore[arg-type]


def parse_revision(output: str, answer_kind: str) -> ParsedRevision:
    """The corrected turn from a reviser's raw output (see the module docstring for the rule)."""
    visible = strip_think(output).strip()
    parsed = parse_tool_calls(visible)
    if parsed.malformed or "<tool_call>" in parsed.text or "</tool_call>" in parsed.text:
        return ParsedRevision(None)
    if parsed.calls or (answer_kind == "text" and parsed.text):
        return ParsedRevision(visible)
    return ParsedRevision(None)


def parse_single(output: str, answer_kind: str) -> tuple[ParsedCritique, ParsedRevision | None]:
    """Single-model answer: its critique and verdict, and for ``incorrect`` its ``<revision>`` block.

    The revision is ``None`` when the verdict is not ``incorrect`` (nothing to revise); a missing
    or invalid ``<revision>`` block after ``incorrect`` is an unparseable revision.
    """
    visible = strip_think(output)
    revision_block = last_block(visible, "revision")
    # the verdict is read from the text before the revision, so a <verdict> quoted in it cannot count
    head = visible if revision_block is None else visible[: visible.rfind("<revision>")]
    critique = parse_critique(head)
    if critique.verdict != "incorrect":
        return critique, None
    if revision_block is None:
        return critique, ParsedRevision(None)
    return critique, parse_revision(revision_block, answer_kind)
