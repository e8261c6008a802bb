"""ACEBench's Python-call answers <-> our Hermes ``<tool_call>`` turns: the ONE place for this.

ACEBench asks a policy for ``[ApiName(key1='value1', key2=2), Other()]`` (a Python list of calls
with keyword arguments and literal values); our judges read Hermes turns, one
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` block per call
(:mod:`harness_tasks.tool_calls`). A turn that is not a call list (the ``special`` categories'
answers, or free text) stays text in both directions.

Parsing uses Python's own parser (``ast.parse``, linear in the input for call lists) and accepts
only what ACEBench's decoder accepts: a list whose elements are calls with keyword arguments, whose
values are literals (numbers, strings, booleans, None, lists, dicts, a leading minus sign).
Dotted names (``geo.location_search``) are kept as one name, as ACEBench does.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from typing import Any

from harness_tasks.tool_calls import ToolCall, format_tool_calls, parse_tool_calls


class AceCallFormatError(ValueError):
    """The text is not an ACEBench call list (the checker's ``wrong_output_format``)."""


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return "..." if node.value is Ellipsis else node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _literal(node.operand)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise AceCallFormatError("a sign applies only to a number")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(element) for element in node.elts]
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise AceCallFormatError("'**' unpacking inside a dict literal")
        return {_literal(key): _literal(value) for key, value in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.Name):  # ACEBench's decoder keeps a bare name as its text
        return node.id
    raise AceCallFormatError(f"argument value is not a literal ({type(node).__name__})")


def _call_name(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise AceCallFormatError("call target is not a (dotted) name")
    parts.append(node.id)
    return ".".join(reversed(parts))


def parse_python_calls(text: str) -> list[ToolCall]:
    """``"[f(a=1), g.h(b='x')]"`` -> ``[ToolCall('f', {'a': 1}), ToolCall('g.h', {'b': 'x'})]``.

    Raises :class:`AceCallFormatError` for anything ACEBench's decoder would reject.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise AceCallFormatError(f"not a Python expression: {error}") from None
    if not isinstance(tree.body, ast.List):
        raise AceCallFormatError("not a list of calls (the answer must start with '[' and end with ']')")
    calls = []
    for element in tree.body.elts:
        if not isinstance(element, ast.Call):
            raise AceCallFormatError("a list element is not a call")
        if element.args:
            raise AceCallFormatError("positional arguments (ACEBench calls use keyword arguments only)")
        arguments: dict[str, Any] = {}
        for keyword in element.keywords:
            if keyword.arg is None:
                raise AceCallFormatError("'**' unpacking in a call")
            try:
                arguments[keyword.arg] = _literal(keyword.value)
            except RecursionError:
                raise AceCallFormatError("argument value nested too deeply") from None
        calls.append(ToolCall(_call_name(element.func), arguments))
    return calls


def _source_value(node: ast.expr) -> Any:
    """A value as ACEBench's decoder (``model_inference/utils.py``) resolves it, for what it can do safely.

    Tuples stay tuples, a bare name is its text, a nested call is ``{name: {keyword: value}}``
    (positional arguments dropped), a subscript is its source text, and a unary operator negates
    its operand's value (so ``+5`` is ``-5``, as there). Arithmetic and lambdas, which ACEBench
    ``eval``s, are a format error here; so is everything its decoder raises on.
    """
    if isinstance(node, ast.Constant):
        return "..." if node.value is Ellipsis else node.value
    if isinstance(node, ast.UnaryOp):
        operand = getattr(node.operand, "value", None)
        if not isinstance(node.operand, ast.Constant) or not isinstance(operand, int | float | complex):
            raise AceCallFormatError("a unary operator on something other than a number")
        return -operand
    if isinstance(node, ast.List):
        return [_source_value(element) for element in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_source_value(element) for element in node.elts)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise AceCallFormatError("'**' unpacking inside a dict literal")
        try:
            return {_source_value(k): _source_value(v) for k, v in zip(node.keys, node.values, strict=True)}
        except TypeError as error:  # an unhashable key
            raise AceCallFormatError(f"dict key: {error}") from None
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return {_call_name_lenient(node.func): _source_keywords(node)}
    if isinstance(node, ast.Subscript):
        return ast.unparse(node.value) + "[" + ast.unparse(node.slice) + "]"
    raise AceCallFormatError(f"unsupported value ({type(node).__name__})")


def _call_name_lenient(node: ast.expr) -> str:
    """ACEBench's name of a called expression: the dotted attribute chain down to a name, else ``""``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _source_keywords(call: ast.Call) -> dict[Any, Any]:
    """Keyword arguments only (positional ones are dropped, as ACEBench drops them); ``**x`` keys ``None``."""
    return {keyword.arg: _source_value(keyword.value) for keyword in call.keywords}


def read_as_acebench(answer: str) -> list[ToolCall]:
    """The calls ACEBench's evaluator reads in ``answer`` (``eval_main.py`` + its ``decode_ast``).

    Reproduced from behaviour: all whitespace is deleted first (``"".join(answer.split())``, so
    ``'New York'`` becomes ``'NewYork'``); the expression may be a list, a tuple or a set of calls
    (``f(a=1),g(b=2)`` is a tuple and is read; a single ``f(a=1)`` is not); positional arguments
    are dropped; tuples stay tuples. Raises :class:`AceCallFormatError` where ACEBench reports
    ``wrong_output_format``. A ``**x`` argument is kept under the key ``None`` (the checker then
    fails the call, as ACEBench does).
    """
    compact = "".join(answer.split())
    try:
        tree = ast.parse(compact, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise AceCallFormatError(f"not a Python expression: {error}") from None
    if not isinstance(tree.body, ast.List | ast.Tuple | ast.Set):
        raise AceCallFormatError("not a list of calls (the answer must start with '[' and end with ']')")
    calls = []
    try:
        for element in tree.body.elts:
            if not isinstance(element, ast.Call):
                raise AceCallFormatError("an element of the list is not a call")
            calls.append(ToolCall(_call_name_lenient(element.func), _source_keywords(element)))
    except RecursionError:
        raise AceCallFormatError("argument value nested too deeply") from None
    return calls


def _python_literal(value: Any) -> str:
    """Python source for a JSON-like value (``repr`` gives ``True``/``None``/quoted strings)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_python_literal(k)}: {_python_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_python_literal(v) for v in value) + "]"
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    raise TypeError(f"value of type {type(value).__name__} has no ACEBench literal form")


def to_python_calls(calls: Sequence[ToolCall]) -> str:
    """``[ToolCall('f', {'a': 1})]`` -> ``"[f(a=1)]"`` (the form ACEBench asks the policy for)."""
    parts = []
    for call in calls:
        for piece in call.name.split("."):
            if not piece.isidentifier():
                raise ValueError(f"function name {call.name!r} cannot be written as an ACEBench call")
        for key in call.arguments:
            if not str(key).isidentifier():
                raise ValueError(f"argument name {key!r} of {call.name} cannot be a Python keyword argument")
        args = ", ".join(f"{key}={_python_literal(value)}" for key, value in call.arguments.items())
        parts.append(f"{call.name}({args})")
    return "[" + ", ".join(parts) + "]"


def _unwrap_text_answer(text: str) -> str:
    """``'["Missing necessary parameters ..."]'`` -> the sentence (special answers are quoted lists)."""
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        try:
            value = ast.literal_eval(stripped)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return text
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
            return value[0]
    return text


def acebench_to_hermes(answer: str) -> str:
    """An ACEBench answer as the assistant turn a judge reads.

    A call list becomes ``<tool_call>`` blocks; anything else (a special-category sentence, free
    text, a malformed call list) is kept as text, quoted-list sentences unwrapped.
    """
    try:
        calls = parse_python_calls(answer)
    except AceCallFormatError:
        return _unwrap_text_answer(answer).strip()
    if not calls:
        return _unwrap_text_answer(answer).strip()
    return format_tool_calls(calls)


def hermes_to_acebench(turn: str) -> str:
    """An assistant turn in Hermes form as the answer ACEBench's checker reads.

    Well-formed ``<tool_call>`` blocks become a Python call list; a turn without calls is its text;
    a malformed block is kept verbatim so that the checker fails it, never dropped silently.
    """
    parsed = parse_tool_calls(turn)
    if parsed.malformed:
        return turn
    if parsed.calls:
        try:
            return to_python_calls(parsed.calls)
        except (TypeError, ValueError):
            return json.dumps([call.to_json() for call in parsed.calls])  # not decodable: fails the checker
    return parsed.text
