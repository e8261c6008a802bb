"""Where a candidate set's context and checker come from: ACEBench (shipped) or BFCL (``bfcl-eval``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from harness_tasks.acebench import check_acebench, hermes_to_acebench
from harness_tasks.acebench.reader import AceItem, item_by_id
from harness_tasks.tool_calls import parse_tool_calls


@dataclass(frozen=True)
class Verdict:
    correct: bool
    error_type: str | None


class UnknownItemError(KeyError):
    pass


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


def category_of(source: str, item_id: str) -> str:
    return acebench_item(item_id).category if source == "acebench" else bfcl_item(item_id).category


def check_turn(source: str, item_id: str, text: str) -> Verdict:
    """Score one assistant turn (Hermes form) with the source's own checker."""
    if source == "acebench":
        result = check_acebench(acebench_item(item_id), hermes_to_acebench(text))
        return Verdict(result.correct, result.error_type)
    from harness_tasks.trbench_build.checkers import CheckerCrashedError, check_response_text

    try:
        verdict = check_response_text(bfcl_item(item_id), 0, text)
    except CheckerCrashedError:
        return Verdict(False, "checker_crashed")
    return Verdict(verdict.valid, None if verdict.valid else verdict.error_type)


def check_native(source: str, item_id: str, answer: str | Sequence) -> Verdict:
    """ACEBench: score the answer in ACEBench's own format (a policy sampled with its prompt)."""
    if source != "acebench":
        return check_turn(source, item_id, answer if isinstance(answer, str) else "")
    result = check_acebench(acebench_item(item_id), answer)
    return Verdict(result.correct, result.error_type)


def parse_calls(text: str):
    return parse_tool_calls(text).calls
