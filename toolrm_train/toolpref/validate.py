"""Self-check: is a trajectory, and each ground-truth assistant turn in it, fit to train on?

Follows the paper's "Self-Check" (paper.md §3.2c): tool schemas must be OpenAI-style function
schemas; a ground-truth turn's calls must be well-formed, name existing tools, and have arguments
that validate against the tool's JSON schema; duplicated calls and turns whose tool results report
a failure are excluded. Each check returns a :class:`Problem` (reason, field, detail) or ``None``;
the caller counts problems by reason, nothing is dropped without a count.

Arguments are validated with the ``jsonschema`` library. BFCL's schema dialect (``dict``,
``float``, ``tuple``, ``any``) is mapped to JSON Schema first. Top-level argument objects are
closed (an argument the schema does not define is an error unless the schema sets
``additionalProperties``), because a hallucinated argument is exactly what the check is for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema

from harness_tasks.input_boundary import UnreadableJSON, loads_json
from harness_tasks.tool_calls import parse_tool_calls
from toolrm_train.toolpref.trajectory import Trajectory


@dataclass(frozen=True)
class Problem:
    reason: str
    field: str = ""
    detail: str = ""


_BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array", "int": "integer", "str": "string"}
_JSON_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}


def to_json_schema(schema: Any) -> Any:
    """A copy of a parameter schema in JSON Schema terms (BFCL type names mapped, ``any`` unconstrained)."""
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            mapped = _BFCL_TYPES.get(value, value)
            if mapped in _JSON_TYPES:
                converted["type"] = mapped
            # "any" and unknown type names constrain nothing
        elif key in ("properties", "definitions", "$defs") and isinstance(value, Mapping):
            converted[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "not"):
            converted[key] = to_json_schema(value)
        elif key in ("optional", "format"):
            continue  # BFCL's "optional" flag is not JSON Schema; free-form "format" values are hints
        else:
            converted[key] = value
    return converted


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    if "properties" in schema and "additionalProperties" not in schema:
        return {**schema, "additionalProperties": False}
    return schema


@lru_cache(maxsize=4096)
def _validator_for(schema_json: str):
    schema = loads_json(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    cls.check_schema(schema)
    return cls(schema)


def argument_errors(parameters: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[str]:
    """Messages for every way ``arguments`` violate the (closed) ``parameters`` schema."""
    schema = _closed(to_json_schema(dict(parameters)))
    validator = _validator_for(json.dumps(schema, sort_keys=True))
    return sorted(error.message for error in validator.iter_errors(dict(arguments)))


def tool_schema_problem(tools: list[dict[str, Any]]) -> Problem | None:
    """Tools must be OpenAI-style function docs: a unique string name and an object parameter schema."""
    if not tools:
        return Problem("no_tools", "tools", "a tool-use trajectory needs at least one tool")
    seen: set[str] = set()
    for index, doc in enumerate(tools):
        field = f"tools[{index}]"
        name = doc.get("name")
        if not isinstance(name, str) or not name:
            return Problem("invalid_tool_schema", f"{field}.name", "missing or not a string")
        if name in seen:
            return Problem("duplicate_tool_name", f"{field}.name", name)
        seen.add(name)
        parameters = doc.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(parameters, Mapping):
            return Problem("invalid_tool_schema", f"{field}.parameters", "must be an object")
        converted = to_json_schema(dict(parameters))
        if converted.get("type", "object") != "object":
            return Problem("invalid_tool_schema", f"{field}.parameters.type", f"{parameters.get('type')!r}")
        if not isinstance(converted.get("properties", {}), Mapping):
            return Problem("invalid_tool_schema", f"{field}.parameters.properties", "must be an object")
        if jsonschema is not None:
            try:
                _validator_for(json.dumps(_closed(converted), sort_keys=True))
            except jsonschema.SchemaError as error:
                return Problem("invalid_tool_schema", f"{field}.parameters", error.message)
    return None


def trajectory_problem(trajectory: Trajectory) -> Problem | None:
    """Whole-trajectory checks: tool schemas, roles, a user turn before the first assistant turn."""
    problem = tool_schema_problem(trajectory.tools)
    if problem is not None:
        return problem
    roles = [turn["role"] for turn in trajectory.turns]
    for index, role in enumerate(roles):
        if role not in ("user", "assistant", "tool"):
            return Problem("unknown_role", f"turns[{index}].role", role)
        if not isinstance(trajectory.turns[index].get("content"), str):
            return Problem("invalid_content", f"turns[{index}].content", "must be a string")
    if "assistant" not in roles:
        return Problem("no_assistant_turn", "turns")
    if "user" not in roles[: roles.index("assistant")]:
        return Problem("no_user_turn", "turns", "the first assistant turn must follow a user turn")
    return None


_FAILURE_PREFIXES = ("error", "traceback", "exception", "failed")


def is_failed_tool_result(content: str) -> bool:
    """A tool result reporting failure: ``{"error": ...}`` JSON or text starting with Error/Traceback."""
    text = content.strip()
    try:
        value = loads_json(text)
    except UnreadableJSON:
        return text.lower().startswith(_FAILURE_PREFIXES)
    return isinstance(value, Mapping) and bool(value.get("error"))


def turn_problem(trajectory: Trajectory, turn_index: int) -> Problem | None:
    """Checks on one ground-truth assistant turn (paper's Self-Check on y_j)."""
    field = f"turns[{turn_index}].content"
    parsed = parse_tool_calls(trajectory.turns[turn_index]["content"])
    if not parsed.is_well_formed:
        return Problem("malformed_tool_call", field, parsed.malformed[0][:120])
    tools = {doc["name"]: doc for doc in trajectory.tools}
    seen: set[str] = set()
    for call_index, call in enumerate(parsed.calls):
        call_field = f"{field}.<tool_call>[{call_index}]"
        if call.name not in tools:
            return Problem("unknown_tool", call_field, call.name)
        errors = argument_errors(tools[call.name].get("parameters") or {}, call.arguments)
        if errors:
            return Problem("argument_schema_violation", call_field, f"{call.name}: {errors[0]}")
        key = call.to_json()
        if key in seen:
            return Problem("duplicate_tool_call", call_field, call.name)
        seen.add(key)
    for later in range(turn_index + 1, len(trajectory.turns)):
        turn = trajectory.turns[later]
        if turn["role"] != "tool":
            break
        if parsed.calls and is_failed_tool_result(turn["content"]):
            return Problem("failed_tool_response", f"turns[{later}].content", turn["content"][:120])
    return None
