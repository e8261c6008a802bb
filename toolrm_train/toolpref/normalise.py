"""Turn a raw row of any supported shape into a :class:`~toolrm_train.toolpref.trajectory.Trajectory`.

The target is the Hermes function-calling form that the released ToolPref and TRBench data use:
the tool list belongs to the system turn (rendered by :mod:`harness_tasks.tool_calls`), assistant
calls are ``<tool_call>`` JSON blocks in the assistant content, and tool results are ``tool`` turns
holding the bare result (the chat template adds the ``<tool_response>`` tags). A row that cannot be
normalised raises :class:`NormaliseError` with the field at fault; the pipeline counts it.
"""

from __future__ import annotations

import ast
import json
import math
import operator
from collections.abc import Callable
from typing import Any

from harness_tasks.input_boundary import UnreadableJSON, loads_json
from harness_tasks.tool_calls import (
    ToolCall,
    format_tool_calls,
    iter_tagged_blocks,
    iter_tool_call_blocks,
    parse_tool_calls,
    parse_tools_system_prompt,
)
from toolrm_train.toolpref.readers import RawRow, detect_shape
from toolrm_train.toolpref.trajectory import Message, Trajectory


class NormaliseError(ValueError):
    """A row that cannot become a trajectory; ``reason`` is the counted skip reason."""

    def __init__(self, reason: str, field: str, detail: str = "") -> None:
        super().__init__(f"{reason} in field {field!r}" + (f": {detail}" if detail else ""))
        self.reason = reason
        self.field = field
        self.detail = detail


_ROLE_ALIASES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "function_call": "assistant",
    "tool_call": "assistant",
    "observation": "tool",
    "tool": "tool",
    "function": "tool",
    "function_response": "tool",
    "ipython": "tool",
}
_RESPONSE_OPEN, _RESPONSE_CLOSE = "<tool_response>", "</tool_response>"
# Tag scans use str.find (harness_tasks.tool_calls.iter_tagged_blocks), never regexes such as
# <x>(.*?)</x>: those take quadratic time on text with many opening tags and no closing one.


# ---------------------------------------------------------------- tools


def _json_field(value: Any, field: str) -> Any:
    """Several datasets store lists and objects as JSON strings; accept both."""
    if isinstance(value, str):
        try:
            return loads_json(value)
        except UnreadableJSON as error:
            raise NormaliseError("invalid_json_field", field, str(error)) from None
    return value


_XLAM_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "dict": "object"}


def _xlam_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """APIGen/xlam list parameters as ``{name: {"type": "str, optional", ...}}``; make it a JSON schema."""
    properties: dict[str, Any] = {}
    required = []
    for name, spec in parameters.items():
        spec = dict(spec) if isinstance(spec, dict) else {"description": str(spec)}
        type_text = str(spec.pop("type", "")).strip()
        optional = type_text.endswith(", optional") or "default" in spec
        base = type_text.removesuffix(", optional").strip()
        if base.lower().startswith(("list", "tuple")):
            spec["type"] = "array"
        elif base.lower().startswith("dict"):
            spec["type"] = "object"
        elif base in _XLAM_TYPES:
            spec["type"] = _XLAM_TYPES[base]
        properties[name] = spec
        if not optional:
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}


def normalise_tools(value: Any, field: str = "tools") -> list[dict[str, Any]]:
    """Function docs from an OpenAI ``tools`` list, raw docs, or either as a JSON string."""
    value = _json_field(value, field)
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        found = type(value).__name__
        raise NormaliseError("invalid_tools", field, f"expected a list of tools, found {found}")
    docs = []
    for index, tool in enumerate(value):
        tool = _json_field(tool, f"{field}[{index}]")
        if not isinstance(tool, dict):
            raise NormaliseError("invalid_tools", f"{field}[{index}]", "a tool must be an object")
        doc = tool.get("function", tool) if tool.get("type", "function") == "function" else tool
        if not isinstance(doc, dict):
            raise NormaliseError("invalid_tools", f"{field}[{index}].function", "must be an object")
        doc = dict(doc)
        parameters = doc.get("parameters")
        if isinstance(parameters, dict) and "properties" not in parameters and "type" not in parameters:
            doc["parameters"] = _xlam_parameters(parameters)
        docs.append(doc)
    return docs


def _tools_from_system(text: str) -> list[dict[str, Any]] | None:
    """Tool docs listed in a ``<tools>`` block of a system turn (one JSON per line, or a JSON list)."""
    if "<tools>" not in text:
        return None
    try:
        docs = parse_tools_system_prompt(text)
    except ValueError:
        docs = []
    if docs:
        return normalise_tools(docs, "system")
    # the block that lists tools is the longest one ("<tools></tools>" also appears in prose)
    body = max(
        (block.strip() for _, _, block in iter_tagged_blocks(text, "<tools>", "</tools>")),
        key=len,
        default="",
    )
    try:
        return normalise_tools(loads_json(body), "system.<tools>")
    except (UnreadableJSON, NormaliseError):
        pass
    try:  # Hermes-FC prints a Python list of dicts
        return normalise_tools(ast.literal_eval(body), "system.<tools>")
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
        raise NormaliseError("invalid_tools", "system.<tools>", str(error)[:200]) from None


# ---------------------------------------------------------------- messages


def _text(content: Any, field: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    if isinstance(content, dict):
        return json.dumps(content, ensure_ascii=False)
    raise NormaliseError("invalid_content", field, f"found {type(content).__name__}")


def _call_from_object(obj: Any, field: str) -> ToolCall:
    """``{"name", "arguments"}`` (arguments may be a JSON string) or OpenAI ``{"function": {...}}``."""
    if isinstance(obj, dict) and isinstance(obj.get("function"), dict):
        obj = obj["function"]
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise NormaliseError("malformed_tool_call", field, "expected {'name': str, 'arguments': object}")
    arguments = obj.get("arguments", obj.get("parameters", {}))
    try:
        arguments = _json_field(arguments, f"{field}.arguments") if arguments != "" else {}
    except NormaliseError as error:
        raise NormaliseError("malformed_tool_call", error.field, error.detail) from None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise NormaliseError("malformed_tool_call", f"{field}.arguments", "arguments must be an object")
    return ToolCall(obj["name"], arguments)


def assistant_text(text: str, calls: list[ToolCall]) -> str:
    """Assistant content: free text first, then one ``<tool_call>`` block per call."""
    blocks = format_tool_calls(calls)
    return "\n".join(part for part in (text.strip(), blocks) if part)


def _python_literal_call(body: str) -> ToolCall | None:
    """Hermes-Function-Calling writes calls as Python dicts (``{'name': 'f', 'arguments': {...}}``)."""
    try:
        obj = ast.literal_eval(body.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if (
        isinstance(obj, dict)
        and isinstance(obj.get("name"), str)
        and isinstance(obj.get("arguments", {}), dict)
    ):
        return ToolCall(obj["name"], obj.get("arguments", {}))
    return None


def _canonical_assistant(text: str) -> str:
    """Re-render ``<tool_call>`` blocks canonically (JSON, fixed key order, calls after the text).

    Blocks in Python-literal form are converted; if any block is neither JSON nor a Python literal
    call, the text is left as it is, so the self-check reports it as malformed.
    """
    parsed = parse_tool_calls(text)
    if not parsed.calls and not parsed.malformed:
        return text
    calls = []
    for start, end, body in iter_tool_call_blocks(text):
        block = parse_tool_calls(text[start:end])
        call = block.calls[0] if block.calls else _python_literal_call(body)
        if call is None:
            return text
        calls.append(call)
    return assistant_text(parsed.text, calls)


def _tool_result(text: str) -> str:
    """The bare result inside one ``<tool_response>…</tool_response>`` wrapper, else the text as is."""
    stripped = text.strip()
    if (
        len(stripped) >= len(_RESPONSE_OPEN) + len(_RESPONSE_CLOSE)
        and stripped.startswith(_RESPONSE_OPEN)
        and stripped.endswith(_RESPONSE_CLOSE)
    ):
        return stripped[len(_RESPONSE_OPEN) : -len(_RESPONSE_CLOSE)].strip()
    return text


def _merge_assistant(turns: list[Message], calls_text: str) -> None:
    """A call right after an assistant text turn (ShareGPT ``gpt`` + ``function_call``) is one turn."""
    if turns and turns[-1]["role"] == "assistant" and "<tool_call>" not in turns[-1]["content"]:
        text = turns[-1]["content"].strip()
        turns[-1] = {"role": "assistant", "content": "\n".join(p for p in (text, calls_text) if p)}
    else:
        turns.append({"role": "assistant", "content": calls_text})


def _split_system(turns: list[Message]) -> tuple[str | None, list[Message]]:
    systems = [t["content"] for t in turns if t["role"] == "system"]
    rest = [t for t in turns if t["role"] != "system"]
    return ("\n\n".join(systems) if systems else None), rest


def _system_tools_turns(
    turns: list[Message], tools: list[dict[str, Any]]
) -> tuple[str | None, list[dict[str, Any]], list[Message]]:
    system, rest = _split_system(turns)
    system, tools = _system_and_tools(system, tools)
    return system, tools, rest


def _system_and_tools(
    system: str | None, tools: list[dict[str, Any]]
) -> tuple[str | None, list[dict[str, Any]]]:
    """Take tools from a ``<tools>`` system block when the row has no tool list of its own.

    Such system text describes the tool format that our rendered tool block states again, so it
    is replaced rather than kept (the whole text otherwise repeats the tool list twice).
    """
    if system and "<tools>" in system:
        return None, tools or (_tools_from_system(system) or [])
    return system, tools


def _from_openai(row: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]], list[Message]]:
    tools = normalise_tools(row.get("tools", row.get("functions")), "tools")
    turns: list[Message] = []
    for index, message in enumerate(row["messages"]):
        field = f"messages[{index}]"
        if not isinstance(message, dict):
            raise NormaliseError("invalid_message", field, "a message must be an object")
        role = _ROLE_ALIASES.get(str(message.get("role", "")))
        if role is None:
            raise NormaliseError("unknown_role", f"{field}.role", repr(message.get("role")))
        content = _text(message.get("content"), f"{field}.content")
        if role == "assistant":
            raw_calls = message.get("tool_calls") or (
                [message["function_call"]] if message.get("function_call") else []
            )
            calls = [_call_from_object(c, f"{field}.tool_calls[{i}]") for i, c in enumerate(raw_calls)]
            content = assistant_text(content, calls) if calls else _canonical_assistant(content)
        elif role == "tool":
            content = _tool_result(content)
        turns.append({"role": role, "content": content})
    return _system_tools_turns(turns, tools)


def _from_sharegpt(row: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]], list[Message]]:
    tools = normalise_tools(row.get("tools"), "tools")
    turns: list[Message] = []
    if isinstance(row.get("system"), str) and row["system"].strip():
        turns.append({"role": "system", "content": row["system"]})
    for index, message in enumerate(row["conversations"]):
        field = f"conversations[{index}]"
        if not isinstance(message, dict):
            raise NormaliseError("invalid_message", field, "a message must be an object")
        speaker = message.get("from", message.get("role"))
        role = _ROLE_ALIASES.get(str(speaker))
        if role is None:
            raise NormaliseError("unknown_role", f"{field}.from", repr(speaker))
        value = message.get("value", message.get("content"))
        if speaker in ("function_call", "tool_call"):
            payload = _json_field(value, f"{field}.value")
            objects = payload if isinstance(payload, list) else [payload]
            calls = [_call_from_object(obj, f"{field}.value") for obj in objects]
            _merge_assistant(turns, format_tool_calls(calls))
            continue
        content = _text(value, f"{field}.value")
        if role == "assistant":
            content = _canonical_assistant(content)
        elif role == "tool":
            content = _tool_result(content)
        turns.append({"role": role, "content": content})
    return _system_tools_turns(turns, tools)


# ---------------------------------------------------------------- BFCL


_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
MAX_CALL_TEXT = 20_000
"""Longest call string accepted (characters); BFCL's longest is a few hundred."""
MAX_LITERAL_NODES = 2_000
MAX_LITERAL_DEPTH = 50
MAX_INT_BITS = 256
"""Integers (inputs and every intermediate result) stay below 2**256; BFCL answers need far less."""
MAX_EXPONENT = 1_024


class LiteralLimit(ValueError):
    """A call string outside the bounds of the literal evaluator (size, depth, magnitude)."""


def _check_literal_tree(tree: ast.AST) -> None:
    """Refuse trees too large or too deep before evaluating anything (an iterative walk: no recursion)."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_LITERAL_NODES:
            raise LiteralLimit(f"more than {MAX_LITERAL_NODES} syntax nodes")
        if depth > MAX_LITERAL_DEPTH:
            raise LiteralLimit(f"nested deeper than {MAX_LITERAL_DEPTH}")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _bounded_number(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise LiteralLimit(f"integer above 2**{MAX_INT_BITS}")
    if isinstance(value, float) and not math.isfinite(value):
        raise LiteralLimit("float overflow")
    return value


def _arithmetic(op: type, left: int | float, right: int | float) -> int | float:
    """One bounded operation: sizes are checked BEFORE computing (``9**9**9`` would run for hours)."""
    if op is ast.Pow and abs(right) > MAX_EXPONENT:
        raise LiteralLimit(f"exponent {right!r} above {MAX_EXPONENT}")
    if isinstance(left, int) and isinstance(right, int):
        if op is ast.Pow:
            bits = max(left.bit_length(), 1) * max(right, 0)
        elif op is ast.Mult:
            bits = left.bit_length() + right.bit_length()
        else:
            bits = 0
        if bits > MAX_INT_BITS + 64:
            raise LiteralLimit(f"integer above 2**{MAX_INT_BITS}")
    try:
        result = _ARITHMETIC[op](left, right)
    except OverflowError as error:
        raise LiteralLimit(f"overflow: {error}") from None
    if isinstance(result, complex):
        raise ValueError("complex result")
    return _bounded_number(result)


def _literal(node: ast.AST) -> Any:
    """``ast.literal_eval`` plus plain, bounded arithmetic (BFCL exec answers hold ``p=1/6``, ``500*500``).

    The tree was checked by :func:`_check_literal_tree` (so recursion here is at most
    ``MAX_LITERAL_DEPTH`` deep); every number is kept finite and below 2**256.
    """
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        left, right = _literal(node.left), _literal(node.right)
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right)):
            raise ValueError("arithmetic on non-numbers")
        return _arithmetic(type(node.op), left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _literal(node.operand)  # -2**3 is USub(Pow(2, 3)), which literal_eval refuses
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError("sign on a non-number")
        return -value if isinstance(node.op, ast.USub) else value
    value = ast.literal_eval(node)
    return _bounded_number(value)


def parse_python_call(text: str, functions: list[dict[str, Any]]) -> ToolCall:
    """``f(a=1, b=[2])`` → ToolCall; positional arguments take the schema's property order.

    Bounded: a call string over ``MAX_CALL_TEXT`` characters, a tree over ``MAX_LITERAL_NODES``
    nodes or ``MAX_LITERAL_DEPTH`` levels, a number that overflows a float or exceeds 2**256, or an
    exponent over ``MAX_EXPONENT`` is refused (``invalid_ground_truth``) before any work is done.
    """
    shown = text if len(text) <= 120 else text[:117] + "..."
    try:
        if len(text) > MAX_CALL_TEXT:
            raise LiteralLimit(f"call string longer than {MAX_CALL_TEXT} characters")
        node = ast.parse(text.strip(), mode="eval").body
        _check_literal_tree(node)
        if not isinstance(node, ast.Call):
            raise ValueError("not a call")
        name = ast.unparse(node.func)
        docs = {doc.get("name"): doc for doc in functions}
        order = list(((docs.get(name) or {}).get("parameters") or {}).get("properties") or {})
        if len(node.args) > len(order):
            raise ValueError("positional arguments the schema cannot name")
        arguments = {order[i]: _literal(arg) for i, arg in enumerate(node.args)}
        arguments |= {kw.arg: _literal(kw.value) for kw in node.keywords if kw.arg is not None}
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError, MemoryError, RecursionError) as error:
        detail = str(error) or type(error).__name__
        raise NormaliseError("invalid_ground_truth", "ground_truth", f"{shown!r}: {detail}") from None
    return ToolCall(name, arguments)


def _bfcl_turn_messages(question: Any) -> list[list[Any]]:
    """BFCL questions are a list of turns of messages; some files store one flat turn."""
    if isinstance(question, list) and question and all(isinstance(m, dict) for m in question):
        return [question]
    if not isinstance(question, list):
        raise NormaliseError("invalid_question", "question", "expected a list of turns")
    return question


def _from_bfcl(row: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]], list[Message]]:
    functions = normalise_tools(row.get("function"), "function")
    turns_in = _bfcl_turn_messages(row.get("question"))
    if len(turns_in) != 1:
        raise NormaliseError(
            "bfcl_multi_turn_unsupported",
            "question",
            "multi-turn BFCL entries need tool results executed on BFCL's back-ends",
        )
    ground_truth = row.get("ground_truth")
    if ground_truth is None:
        raise NormaliseError(
            "missing_ground_truth",
            "ground_truth",
            "no ground_truth field and no line for this id in BFCL's answer file",
        )
    if not isinstance(ground_truth, list):
        raise NormaliseError("no_ground_truth_calls", "ground_truth", "ground truth is not a list of calls")
    if all(isinstance(item, str) for item in ground_truth):
        calls = [parse_python_call(item, functions) for item in ground_truth]
    elif all(isinstance(item, dict) and len(item) == 1 for item in ground_truth):
        # the benchmark builder's rule (bfcl.md §4.4), so training and test ground truths agree
        from harness_tasks.trbench_build.ground_truth import canonical_calls

        try:
            calls = canonical_calls(functions, ground_truth)
        except (ValueError, TypeError, AttributeError) as error:
            raise NormaliseError("invalid_ground_truth", "ground_truth", str(error)) from None
    else:
        raise NormaliseError(
            "invalid_ground_truth", "ground_truth", "expected [{name: {param: [values]}}] or call strings"
        )
    turns: list[Message] = []
    for index, message in enumerate(turns_in[0]):
        role = _ROLE_ALIASES.get(str(message.get("role")) if isinstance(message, dict) else "")
        if role not in ("system", "user"):
            raise NormaliseError("unknown_role", f"question[0][{index}].role", repr(message))
        turns.append({"role": role, "content": _text(message.get("content"), f"question[0][{index}]")})
    turns.append({"role": "assistant", "content": assistant_text("", calls)})
    system, turns = _split_system(turns)
    return system, functions, turns


def _from_xlam(row: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]], list[Message]]:
    tools = normalise_tools(row.get("tools"), "tools")
    answers = _json_field(row.get("answers"), "answers")
    if not isinstance(answers, list):
        raise NormaliseError("no_ground_truth_calls", "answers", "expected a list of calls")
    calls = [_call_from_object(obj, f"answers[{i}]") for i, obj in enumerate(answers)]
    turns: list[Message] = [
        {"role": "user", "content": _text(row.get("query"), "query")},
        {"role": "assistant", "content": assistant_text("", calls)},
    ]
    return None, tools, turns


_CONVERTERS = {"openai": _from_openai, "sharegpt": _from_sharegpt, "bfcl": _from_bfcl, "xlam": _from_xlam}


def _row_id(raw: RawRow) -> str:
    for key in ("id", "raw_id", "uuid", "conversation_id"):
        if raw.row.get(key) not in (None, ""):
            return str(raw.row[key])
    return raw.where.rsplit(" ", 1)[-1]  # the row number


def to_trajectory(raw: RawRow, source: str | None = None) -> Trajectory:
    """Normalise one row; the row's own ``source`` field (if a string) names its data source."""
    shape = detect_shape(raw.row)
    if shape is None:
        raise NormaliseError(
            "unknown_shape",
            "",
            f"keys {sorted(raw.row)[:8]}; expected one of messages/conversations/"
            "question+function/query+answers",
        )
    system, tools, turns = _CONVERTERS[shape](raw.row)
    row_source = raw.row.get("source") if isinstance(raw.row.get("source"), str) else None
    source = source or row_source or raw.default_source
    raw_id = _row_id(raw)
    return Trajectory(
        trajectory_id=f"{source}/{raw_id}",
        source=source,
        raw_id=raw_id,
        tools=tools,
        turns=turns,
        system_prompt=system,
        origin=raw.where,
    )
