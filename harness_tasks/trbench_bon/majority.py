"""Majority vote over candidates (self-consistency): the baseline a Best-of-N judge must beat.

Candidates vote by their *canonical call*: the tool calls :func:`harness_tasks.tool_calls.parse_tool_calls`
reads from the text, each as ``{"name", "arguments"}`` JSON with sorted keys, the calls of one turn
sorted (the order of parallel calls does not matter: BFCL and ACEBench checkers accept any order).
A turn with no parseable call votes with its whitespace-normalised text (malformed call bodies
included), so two identical non-call answers agree and a non-call never agrees with a call.

Ties: among the most frequent keys, the one whose first candidate comes earliest wins (the earliest
sample), and the vote's correctness is that first candidate's checker verdict.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from harness_tasks.tool_calls import parse_tool_calls


def canonical_key(text: str) -> str:
    """The call a candidate makes, independent of formatting, key order and parallel-call order."""
    parsed = parse_tool_calls(text)
    if parsed.calls and not parsed.malformed:
        calls = sorted(
            json.dumps({"name": c.name, "arguments": c.arguments}, sort_keys=True, ensure_ascii=False)
            for c in parsed.calls
        )
        return "calls:" + "\n".join(calls)
    return "text:" + " ".join(text.split())


def candidate_groups(texts: Sequence[str]) -> list[int]:
    """Per candidate, the index of the first candidate with the same canonical key."""
    first: dict[str, int] = {}
    return [first.setdefault(canonical_key(text), index) for index, text in enumerate(texts)]


def majority_pick(groups: Sequence[int], n: int) -> int | None:
    """The candidate the vote among the first ``n`` picks (the first of the winning group)."""
    if not groups or n < 1:
        return None
    counts: dict[int, int] = {}
    for group in groups[:n]:
        counts[group] = counts.get(group, 0) + 1
    # groups are first-occurrence indices, so the smallest wins a tie: the earliest sample
    return min(counts, key=lambda group: (-counts[group], group))
