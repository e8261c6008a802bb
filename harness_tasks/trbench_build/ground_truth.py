"""Ground truth as tool calls: canonical single-turn calls, and multi-turn call strings ⇄ tool calls.

Single-turn: a BFCL possible answer lists the allowed values of each parameter (``""`` = may be
omitted); :func:`canonical_calls` picks one concrete call that BFCL's checker accepts.

Multi-turn: BFCL's ground truth is Python call strings executed on its back-ends, some with
positional arguments (``sort('final_report.pdf')``). :func:`parse_call_string` reads them with
``ast`` (literals only, never ``eval``) and names positional arguments from the back-end method's
signature; :func:`call_string` writes a call back in keyword form for BFCL's executor.
"""

from __future__ import annotations

import ast
import inspect
import keyword
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from harness_tasks.tool_calls import ToolCall
from harness_tasks.trbench_build.bfcl_runtime import backend_class


OMITTABLE = ""
"""BFCL's marker, in a list of allowed values, for "this parameter may be left out"."""


def _function_doc(functions: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    for doc in functions:
        if doc["name"] == name:
            return doc
    raise ValueError(
        f"ground truth calls {name!r}, which is not among the functions {[f['name'] for f in functions]}"
    )


def _realize_value(allowed: Any, schema: Mapping[str, Any]) -> Any:
    """One concrete value from an allowed value: dicts hold allowed-value lists per key (one level)."""
    kind = schema.get("type")
    if kind == "dict" and isinstance(allowed, dict):
        return _realize_dict(allowed)
    items = schema.get("items") or {}
    if kind == "array" and items.get("type") == "dict" and isinstance(allowed, list):
        return [_realize_dict(entry) if isinstance(entry, dict) else entry for entry in allowed]
    return allowed


def _realize_dict(allowed_by_key: Mapping[str, Any]) -> dict[str, Any]:
    realized = {}
    for key, allowed in allowed_by_key.items():
        options = allowed if isinstance(allowed, list) else [allowed]
        non_empty = [value for value in options if value != OMITTABLE]
        if non_empty:
            realized[key] = non_empty[0]
    return realized


def canonical_calls(
    functions: Sequence[Mapping[str, Any]], ground_truth: Sequence[Mapping[str, Any]]
) -> list[ToolCall]:
    """The chosen calls for a single-turn item (shared/research/bfcl.md §4.4).

    A parameter is left out when ``""`` is allowed and it is optional (or unknown to the schema, or
    has no other value); otherwise it gets its first allowed value. Leaving optional parameters out
    mirrors how a model that relies on defaults answers; the rule passes BFCL's checker on every
    item except the five broken ones.
    """
    calls = []
    for expected in ground_truth:
        ((name, allowed_by_param),) = expected.items()
        parameters = _function_doc(functions, name).get("parameters", {})
        required = set(parameters.get("required", []))
        properties = parameters.get("properties", {})
        arguments = {}
        for param, allowed in allowed_by_param.items():
            non_empty = [value for value in allowed if value != OMITTABLE]
            if OMITTABLE in allowed and (param not in required or param not in properties or not non_empty):
                continue
            if non_empty:
                arguments[param] = _realize_value(non_empty[0], properties.get(param, {}))
        calls.append(ToolCall(name, arguments))
    return calls


# ---------------------------------------------------------------- multi-turn call strings


@cache
def backend_signatures(involved_classes: tuple[str, ...]) -> dict[str, inspect.Signature]:
    """Public method name → signature (without ``self``) over the involved back-end classes.

    A later class wins a name clash, as in BFCL's executor (its method → instance mapping is
    filled class by class).
    """
    signatures: dict[str, inspect.Signature] = {}
    for class_name in involved_classes:
        for name, function in inspect.getmembers(backend_class(class_name), predicate=inspect.isfunction):
            if name.startswith("_"):
                continue
            signature = inspect.signature(function)
            parameters = list(signature.parameters.values())[1:]  # drop self
            signatures[name] = signature.replace(parameters=parameters)
    return signatures


def _json_compatible(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_json_compatible(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_compatible(item) for key, item in value.items()}
    return value


def parse_call_string(text: str, signatures: Mapping[str, inspect.Signature]) -> ToolCall:
    """A BFCL ground-truth call string as a tool call; positional arguments get their parameter names."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as error:
        raise ValueError(f"ground-truth call {text!r} is not a Python call: {error}") from None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"ground-truth call {text!r} is not a plain function call")
    name = node.func.id
    if name not in signatures:
        raise ValueError(
            f"ground-truth call {text!r} names {name!r}, which no involved back-end class defines"
        )
    parameters = list(signatures[name].parameters)
    if len(node.args) > len(parameters):
        raise ValueError(
            f"ground-truth call {text!r} passes {len(node.args)} positional arguments "
            f"to {name}{signatures[name]}"
        )
    arguments: dict[str, Any] = {}
    try:
        for position, value in enumerate(node.args):
            arguments[parameters[position]] = _json_compatible(ast.literal_eval(value))
        for keyword_arg in node.keywords:
            if keyword_arg.arg is None:
                raise ValueError("**kwargs")
            arguments[keyword_arg.arg] = _json_compatible(ast.literal_eval(keyword_arg.value))
    except ValueError as error:
        raise ValueError(f"ground-truth call {text!r} has a non-literal argument ({error})") from None
    return ToolCall(name, arguments)


def is_plain_name(name: str) -> bool:
    """A name BFCL's executor can call and we can write into a call string safely."""
    return name.isidentifier() and not keyword.iskeyword(name)


def call_string(call: ToolCall) -> str:
    """``name(key=value, ...)`` with Python literals, for BFCL's multi-turn executor.

    Values come from JSON, so ``repr`` gives literals only; the name and keys must be plain
    identifiers (checked), so the string can never be more than one call of one function.
    """
    if not is_plain_name(call.name):
        raise ValueError(f"cannot write a call to {call.name!r}: not a plain function name")
    bad_keys = [key for key in call.arguments if not is_plain_name(key)]
    if bad_keys:
        raise ValueError(f"cannot write a call to {call.name} with argument names {bad_keys}")
    arguments = ", ".join(f"{key}={value!r}" for key, value in call.arguments.items())
    return f"{call.name}({arguments})"


def multi_turn_ground_truth_calls(
    ground_truth: Sequence[Sequence[str]], involved_classes: Sequence[str]
) -> list[list[ToolCall]]:
    """Every turn's ground-truth call strings as tool calls."""
    signatures = backend_signatures(tuple(involved_classes))
    return [[parse_call_string(text, signatures) for text in turn] for turn in ground_truth]
