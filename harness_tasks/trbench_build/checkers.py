"""BFCL's own verdict on decoded calls: the AST checker (single-turn) or the multi-turn checker.

How a response's text becomes calls is :mod:`harness_tasks.bfcl_handler_decoding`'s job (as BFCL's
Qwen FC handler decodes it, or our lenient reading); callers ask the one dispatcher,
:mod:`harness_tasks.turn_verdicts`, never this module. Multi-turn candidates are spliced into the
ground-truth trajectory: the earlier turns replay the ground truth, turn ``k`` is the candidate as
one step, and the checker compares back-end states and execution results turn by turn. A checker
that raises becomes :class:`CheckerCrashedError`; the dispatcher's caller says whether that is a
wrong turn (scoring) or a skipped candidate (building).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness_tasks.tool_calls import ToolCall
from harness_tasks.trbench_build.bfcl_runtime import (
    CHECKER_MODEL_NAME,
    ast_checker_module,
    backend_scope,
    multi_turn_checker_module,
    python_language,
)
from harness_tasks.trbench_build.bfcl_source import BfclItem
from harness_tasks.trbench_build.ground_truth import call_string, is_plain_name, multi_turn_ground_truth_calls


UNKNOWN_FUNCTION_CALL = "toolrm_unknown_function()"
"""Stands in for a call BFCL's executor could only answer with an error (a function outside the tool
list, or argument names that are not identifiers): it fails with a NameError, changes no state, and
keeps the model's own text out of ``eval``."""


@dataclass(frozen=True)
class Verdict:
    valid: bool
    error_type: str
    """The checker's ``error_type`` for an invalid response; ``""`` for a valid one."""
    message: str = ""
    """The checker's own error message(s) for an invalid response, joined by newlines; ``""`` for a
    valid one (the self-correction oracle critic hands it to the reviser)."""


def _error_message(result: dict) -> str:
    """BFCL reports errors as a string or a list of strings (``error``, ``error_message``)."""
    error = result.get("error", result.get("error_message", ""))
    if isinstance(error, list | tuple):
        return "\n".join(str(part) for part in error)
    return str(error)


class CheckerCrashedError(RuntimeError):
    """BFCL's checker raised on a candidate (e.g. a value it cannot type-check); the candidate is unusable."""


def check_single_turn_calls(item: BfclItem, calls: Sequence[ToolCall]) -> Verdict:
    """``ast_checker`` on decoded calls; dispatches on the category name as BFCL does."""
    module = ast_checker_module()
    model_output = [{call.name: call.arguments} for call in calls]
    try:
        result = module.ast_checker(
            item.functions,
            model_output,
            item.ground_truth,
            python_language(),
            item.category,
            CHECKER_MODEL_NAME,
        )
    except Exception as error:  # BFCL's checker assumes well-typed schemas and values
        raise CheckerCrashedError(f"ast_checker raised on {item.id}: {error!r}") from error
    if result["valid"]:
        return Verdict(True, "")  # a valid result may still carry error_type "...:unclear"
    return Verdict(False, str(result["error_type"]), _error_message(result))


def executable_call_strings(calls: Sequence[ToolCall], tool_names: set[str]) -> list[str]:
    """Call strings for BFCL's executor; calls it could only fail on become :data:`UNKNOWN_FUNCTION_CALL`."""
    strings = []
    for call in calls:
        known = call.name in tool_names and is_plain_name(call.name)
        if known and all(is_plain_name(key) for key in call.arguments):
            strings.append(call_string(call))
        else:
            strings.append(UNKNOWN_FUNCTION_CALL)
    return strings


def check_multi_turn_calls(item: BfclItem, turn_index: int, calls: Sequence[ToolCall]) -> Verdict:
    """``multi_turn_checker`` on turns ``0..turn_index``: ground truth before, then ``calls``."""
    if not 0 <= turn_index < len(item.ground_truth):
        raise ValueError(f"{item.id} has {len(item.ground_truth)} turns; turn {turn_index} does not exist")
    tool_names = {doc["name"] for doc in item.functions}
    earlier = multi_turn_ground_truth_calls(item.ground_truth[:turn_index], item.entry["involved_classes"])
    decoded = [[executable_call_strings(turn, tool_names)] for turn in earlier]
    decoded.append([executable_call_strings(calls, tool_names)])
    module = multi_turn_checker_module()
    with backend_scope("check") as model_name:
        try:
            result = module.multi_turn_checker(
                decoded, item.ground_truth[: turn_index + 1], item.entry, item.category, model_name
            )
        except Exception as error:
            raise CheckerCrashedError(
                f"multi_turn_checker raised on {item.id} turn {turn_index}: {error!r}"
            ) from error
    if result["valid"]:
        return Verdict(True, "")
    return Verdict(False, str(result["error_type"]), _error_message(result))


def check_calls(item: BfclItem, turn_index: int, calls: Sequence[ToolCall]) -> Verdict:
    if item.is_multi_turn:
        return check_multi_turn_calls(item, turn_index, calls)
    return check_single_turn_calls(item, calls)
