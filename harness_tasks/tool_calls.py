"""The Hermes function-calling text format, the one form of tools and calls used everywhere.

Tools are listed as JSON lines inside ``<tools></tools>`` in the system turn; an assistant calls
them with one ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`` block per call;
tool results come back as ``tool`` turns. This is the format of the released TRBench-BFCL and
ToolPref data (the Qwen2.5/Qwen3 chat-template form), so the benchmark builder, the data pipeline
and the rule-based scorer all read and write it through this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness_tasks.input_boundary import UnreadableJSON, loads_json, parse_json_or_none


TOOLS_PREAMBLE = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
TOOLS_POSTAMBLE = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)

TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"


def iter_tagged_blocks(text: str, open_tag: str, close_tag: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, body)`` of each ``open_tag…close_tag`` block, left to right, in linear time.

    Each block runs from an opening tag to the first closing tag after it (what the non-greedy
    ``<x>(.*?)</x>`` finds), and scanning resumes after it. ``str.find`` is used instead of a regex
    because ``finditer`` over text with many opening tags and no closing tag rescans the rest of the
    text from every opening tag: quadratic time on a model's or a user's output. Once no closing
    tag follows an opening tag, none follows any later one either, so the scan stops.
    """
    position = 0
    while True:
        start = text.find(open_tag, position)
        if start < 0:
            return
        body_start = start + len(open_tag)
        close = text.find(close_tag, body_start)
        if close < 0:
            return
        end = close + len(close_tag)
        yield start, end, text[body_start:close]
        position = end


def iter_tool_call_blocks(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, body)`` of every ``<tool_call>…</tool_call>`` block (body not stripped)."""
    return iter_tagged_blocks(text, TOOL_CALL_OPEN, TOOL_CALL_CLOSE)


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "arguments": self.arguments}, ensure_ascii=False)


@dataclass(frozen=True)
class ParsedResponse:
    """An assistant turn split into its tool calls and the free text around them."""

    calls: tuple[ToolCall, ...]
    text: str
    """Text outside the ``<tool_call>`` blocks, stripped."""
    malformed: tuple[str, ...] = field(default=())
    """Bodies of ``<tool_call>`` blocks that are not ``{"name": str, "arguments": object}`` JSON."""

    @property
    def is_well_formed(self) -> bool:
        return not self.malformed


def tool_json(function_doc: dict[str, Any]) -> str:
    """One tool line: the function doc wrapped as OpenAI-style ``{"type": "function", ...}``."""
    return json.dumps({"type": "function", "function": function_doc}, ensure_ascii=False)


def render_tools_system_prompt(function_docs: list[dict[str, Any]], system_prompt: str | None = None) -> str:
    """System-turn text that lists the tools, after the conversation's own system prompt if any."""
    tools_block = TOOLS_PREAMBLE + "".join("\n" + tool_json(doc) for doc in function_docs) + TOOLS_POSTAMBLE
    return f"{system_prompt}\n\n{tools_block}" if system_prompt else tools_block


def parse_tools_system_prompt(system_text: str) -> list[dict[str, Any]]:
    """Inverse of :func:`render_tools_system_prompt`: the function docs listed in a system turn."""
    # the first "<tools>\n" followed (later) by "\n</tools>", as the regex <tools>\n(.*?)\n</tools> would
    # find it, but with str.find: linear time on any text
    start = system_text.find("<tools>\n")
    if start < 0:
        return []
    body_start = start + len("<tools>\n")
    end = system_text.find("\n</tools>", body_start)
    if end < 0:
        return []
    docs = []
    for line_no, line in enumerate(system_text[body_start:end].split("\n"), start=1):
        if not line.strip():
            continue  # blank lines list nothing (split on "\n" only: U+2028 may sit inside a JSON string)
        try:
            entry = loads_json(line)
        except UnreadableJSON as error:
            raise ValueError(f"tool line {line_no} in <tools> is not JSON: {error}") from None
        docs.append(entry.get("function", entry) if isinstance(entry, dict) else entry)
    return docs


def format_tool_calls(calls: list[ToolCall] | tuple[ToolCall, ...]) -> str:
    """Assistant-turn text for a list of calls, one block per call, blocks joined by newlines."""
    return "\n".join(f"<tool_call>\n{call.to_json()}\n</tool_call>" for call in calls)


def _call_from_json(body: str) -> ToolCall | None:
    obj = parse_json_or_none(body)
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    arguments = obj.get("arguments", {})
    if isinstance(arguments, str):  # some models emit the arguments as a JSON string
        arguments = parse_json_or_none(arguments)
    if not isinstance(arguments, dict):
        return None
    return ToolCall(obj["name"], arguments)


def parse_tool_calls(text: str) -> ParsedResponse:
    """Split an assistant turn into calls and text; malformed blocks are kept, never dropped silently."""
    calls: list[ToolCall] = []
    malformed: list[str] = []
    pieces: list[str] = []
    position = 0
    for start, end, raw_body in iter_tool_call_blocks(text):
        pieces.append(text[position:start])
        position = end
        body = raw_body.strip()
        call = _call_from_json(body)
        if call is None:
            malformed.append(body)
        else:
            calls.append(call)
    pieces.append(text[position:])
    outside = "".join(pieces).strip()
    return ParsedResponse(tuple(calls), outside, tuple(malformed))
