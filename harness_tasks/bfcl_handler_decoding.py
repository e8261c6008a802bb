"""An assistant turn decoded as BFCL's Qwen function-calling handler decodes it, and BFCL's verdict on it.

BFCL scores a Qwen FC model's text with ``QwenFCHandler`` (``bfcl_eval/model_handler/
local_inference/qwen_fc.py``). Its module cannot be imported without ``tree_sitter``,
``overrides`` and ``tenacity`` (none needed for decoding), so its behaviour is reproduced here and
checked against the handler itself by the golden table in ``harness_tasks/source_verdicts/``:

* the reasoning goes first: ``_parse_query_response_prompting`` keeps what follows the **last**
  ``</think>`` (leading newlines dropped) and only that is stored and decoded. Without a
  ``</think>`` the whole turn is kept, so an unclosed ``<think>`` is *not* removed and a
  ``<tool_call>`` inside it counts; a ``<tool_call>`` inside a closed ``<think>`` does not
  (:func:`handler_response`, one ``str.rfind``: linear time);
* blocks are what ``re.findall(r"<tool_call>\\n(.*?)\\n</tool_call>", text, re.DOTALL)`` finds:
  the newline after ``<tool_call>`` and before ``</tool_call>`` are required (tags on one line, a
  space after the tag or ``\\r\\n`` line ends give no block). Found here with ``str.find`` in
  linear time (:func:`harness_tasks.tool_calls.iter_tagged_blocks`), the same blocks;
* a block that is not JSON is skipped; any decoded block that is not an object fails the whole
  turn, and so does an object without ``name`` or ``arguments`` or whose ``arguments`` is not an
  object (``decode_ast``: ``ast_decoder:decoder_failed``);
* multi-turn steps use ``decode_execute`` instead, where ``arguments`` may be a JSON string; a
  turn it cannot decode ends the step with no calls (BFCL's inference loop moves on).

``reading="corrected"`` keeps our lenient reading (:func:`harness_tasks.tool_calls.parse_tool_calls`:
surrounding whitespace optional, string ``arguments`` decoded, malformed blocks skipped) of the same
reasoning-free text, so the two readings differ on the format of the calls only.
"""

from __future__ import annotations

from typing import Any

from harness_tasks.input_boundary import UnreadableJSON, loads_json
from harness_tasks.tool_calls import ToolCall, iter_tagged_blocks, parse_tool_calls
from harness_tasks.trbench_build.bfcl_source import BfclItem
from harness_tasks.trbench_build.checkers import CheckerCrashedError, Verdict, check_calls


SOURCE, CORRECTED = "source", "corrected"
READINGS = (SOURCE, CORRECTED)
DECODER_FAILED = "ast_decoder:decoder_failed"
THINK_CLOSE = "</think>"


class BfclDecodeError(ValueError):
    """The handler's decoder raises on this turn (BFCL: ``ast_decoder:decoder_failed``)."""


def handler_response(text: str) -> str:
    """The turn as BFCL stores it for decoding: after the last ``</think>``, leading newlines dropped.

    ``QwenFCHandler._parse_query_response_prompting``: ``model_response.split("</think>")[-1].lstrip("\\n")``
    when ``</think>`` occurs, else the raw text (an unclosed ``<think>`` stays in).
    """
    closing = text.rfind(THINK_CLOSE)
    if closing == -1:
        return text
    return text[closing + len(THINK_CLOSE) :].lstrip("\n")


def _json_blocks(text: str) -> list[Any]:
    decoded = []
    for _start, _end, body in iter_tagged_blocks(text, "<tool_call>\n", "\n</tool_call>"):
        try:  # bounded (100 levels): the handler's own json.loads only stops at ~1,000 (RecursionError)
            decoded.append(loads_json(body))
        except UnreadableJSON:
            continue  # the handler skips a block it cannot parse
    if any(type(entry) is not dict for entry in decoded):
        raise BfclDecodeError("Model did not return a list of function calls")
    return decoded


def _call(entry: dict, arguments_may_be_string: bool) -> ToolCall:
    if "name" not in entry or "arguments" not in entry:
        raise BfclDecodeError(f"a call without {'name' if 'name' not in entry else 'arguments'}")
    name, arguments = entry["name"], entry["arguments"]
    if arguments_may_be_string and isinstance(arguments, str):
        try:
            arguments = loads_json(arguments)
        except UnreadableJSON as error:
            raise BfclDecodeError(f"arguments string is not JSON: {error}") from None
    if type(arguments) is not dict:
        raise BfclDecodeError(f"arguments is a {type(arguments).__name__}, not an object")
    if isinstance(name, list | dict):
        raise BfclDecodeError("the function name is not hashable")
    return ToolCall(name, dict(arguments))


def decode_ast(text: str) -> list[ToolCall]:
    """``QwenFCHandler.decode_ast`` (single-turn categories) on a stored response (:func:`handler_response`).

    Raises :class:`BfclDecodeError`.
    """
    return [_call(entry, False) for entry in _json_blocks(text)]


def decode_execute(text: str) -> list[ToolCall]:
    """``QwenFCHandler.decode_execute`` (multi-turn steps): string ``arguments`` are JSON-decoded."""
    return [_call(entry, True) for entry in _json_blocks(text)]


def check_turn(item: BfclItem, turn_index: int, text: str, reading: str = SOURCE) -> Verdict:
    """BFCL's verdict on an assistant turn: decoded by the handler (default) or our lenient reading.

    Raises :class:`~harness_tasks.trbench_build.checkers.CheckerCrashedError` where BFCL's checker
    raises; callers ask :func:`harness_tasks.turn_verdicts.check_turn`, whose ``on_crash`` says
    whether that is a wrong turn (scoring) or a skipped candidate (building).
    """
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {READINGS}, got {reading!r}")
    text = handler_response(text)  # BFCL decodes the stored response, reasoning removed
    if reading == CORRECTED:
        return check_calls(item, turn_index, parse_tool_calls(text).calls)
    if item.is_multi_turn:
        try:
            calls = decode_execute(text)
        except BfclDecodeError:
            calls = []
        return check_calls(item, turn_index, calls)
    try:
        calls = decode_ast(text)
    except BfclDecodeError as error:
        return Verdict(False, DECODER_FAILED, f"Invalid syntax. Failed to decode AST. {error}")
    return check_calls(item, turn_index, calls)


__all__ = [
    "CORRECTED",
    "READINGS",
    "SOURCE",
    "BfclDecodeError",
    "CheckerCrashedError",
    "check_turn",
    "decode_ast",
    "decode_execute",
    "handler_response",
]
