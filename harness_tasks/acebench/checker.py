"""ACEBench's rule checker for the English ``normal`` and ``special`` categories, re-implemented.

Written from the behaviour of ACEBench's evaluator (``eval_main.py`` and ``model_eval/checker.py``
at e6db74b), not from its code. The rules, in the order ACEBench applies them:

normal (any ``normal_*`` category; a list ground truth means "any of these alternatives"):
1. the answer must decode as a list of calls (``[f(a=1), g()]``), else ``wrong_output_format``;
2. as many calls as the ground truth has (``wrong functions number``); ground-truth keys lose a
   ``_<digits>`` suffix (``f_1`` -> ``f``; how ACEBench stores two calls of one function);
3. the same multiset of function names (``function_mismatch``);
4. every ground-truth call must be matched by some answer call of that name that passes the
   per-call check (the same answer call may match several ground-truth calls, as in ACEBench):
   - an answer with no arguments passes only for a function without parameters (``wrong_param``);
   - every ``required`` parameter present (``lack_args``); no parameter outside the schema or the
     ground truth (``addition_args``);
   - the value's Python type must be the schema type (``string``, ``integer``, ``number`` -> int,
     ``boolean``, ``array``, ``object``; ``"true"``/``"false"`` strings count as booleans, an int
     counts for ``float``). If it is not, the value still passes when it has the ground-truth
     value's type (a "variable" in ACEBench's terms) and is then not compared (``type_error``);
   - values are then compared only for strings (the standardised ground truth must be a
     substring of the standardised answer; standardising drops `` ,./-_*^``, lowercases and turns
     ``'`` into ``"``), lists (equal after standardising string elements), objects (same number of
     keys, every key in the ground truth, nested objects recursively, other values by substring of
     their ``str()``), and lists of objects (same length, element-wise). Integers, numbers and
     booleans that have the schema type are NOT compared: ACEBench accepts any value there.
special:
- ``special_incomplete``: the answer contains "Missing necessary parameters", the function name
  and every missing parameter exactly as the ground truth spells it (``error_detection`` /
  ``error_correction``);
- ``special_error_param``: contains "There is incorrect value" and every wrong value;
- ``special_irrelevant``: contains "the limitations of the function".

Reading the answer (``reading``). By default (``"source"``) the answer is read exactly as
ACEBench's evaluator reads it (:func:`~harness_tasks.acebench.convert.read_as_acebench`): all
whitespace is deleted first, so a string with a space inside a list or object that is itself
nested in an object argument can never match (ACEBench compares such values as whitespace-free
strings; it rejects its own ground truth on 8 of the 144 shipped ``normal`` items this way);
tuples stay tuples (a type error where a list is expected); several calls without the outer
``[ ]`` are read as a tuple of calls and accepted (a single unbracketed call is a format error);
positional arguments are silently dropped. Its nested type check applies too (an empty ``[]`` or
``{}`` ground truth rejects every answer; an array without an ``items`` type is checked as a list
of objects). ``"corrected"`` decodes the answer as written (tuples as lists, unbracketed calls and
positional arguments rejected) and skips the nested type check.

Differences from ACEBench under both readings, all where its code would crash or run model output:
a schema type it does not know is checked as "any" (ACEBench raises KeyError), arithmetic and
lambdas in argument values are a format error (ACEBench ``eval``s them), and a ``_<digits>``
suffix is kept when the full key is itself a function name. The golden table in
``harness_tasks/source_verdicts/`` holds ACEBench's own verdicts; the default reading reproduces
every one of them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness_tasks.acebench.convert import (
    AceCallFormatError,
    parse_python_calls,
    read_as_acebench,
    to_python_calls,
)
from harness_tasks.acebench.reader import AceItem
from harness_tasks.tool_calls import ToolCall


@dataclass(frozen=True)
class CheckResult:
    correct: bool
    error_type: str | None
    """ACEBench's error type (``wrong_output_format``, ``function_mismatch``, ``lack_args``, ...)."""
    message: str


OK = CheckResult(True, None, "")

SCHEMA_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "int": int,
    "float": float,
    "number": int,  # as in ACEBench: a float value then passes only as a "variable" (unchecked)
    "boolean": bool,
    "array": list,
    "tuple": list,
    "list": list,
    "object": dict,
    "dict": dict,
    "any": str,
}
NESTED_CHECK_TYPES = ("array", "tuple", "list(string)", "list(enum)", "object", "objectArray")
"""Schema types whose elements ACEBench type-checks (its ``PYTHON_NESTED_TYPE_CHECK_LIST``)."""
SOURCE, CORRECTED = "source", "corrected"
READINGS = (SOURCE, CORRECTED)
"""How an answer is read: as ACEBench reads it (the default) or our corrected reading."""
_STANDARDISE_DROP = str.maketrans("", "", " ,./-_*^")
_CALL_SUFFIX = re.compile(r"_\d+$")


def standardise(text: str) -> str:
    return text.translate(_STANDARDISE_DROP).lower().replace("'", '"')


def _fail(error_type: str, message: str) -> CheckResult:
    return CheckResult(False, error_type, message)


def _bool_text(value: Any) -> Any:
    if value == "true":
        return True
    if value == "false":
        return False
    return value


def _find_doc(item: AceItem, name: str) -> dict[str, Any] | None:
    """ACEBench picks the first doc whose name is contained in the ground-truth name."""
    for doc in item.tools:
        if doc["name"] in name:
            return doc
    return None


def _check_dict(param: str, value: Any, expected: Any, func: str) -> CheckResult:
    if not isinstance(value, dict):
        return _fail("value_error", f"wrong type for parameter ({param}) of api ({func}): expected an object")
    if not isinstance(expected, dict) or len(value) != len(expected):
        return _fail("value_error", f"wrong value for parameter ({param}) of api ({func}): {value!r}")
    for key, raw in value.items():
        item_value = _bool_text(raw)
        if key not in expected:
            return _fail("value_error", f"wrong value for parameter ({param}) of api ({func}): key {key!r}")
        want = expected[key]
        if isinstance(want, dict):
            result = _check_dict(param, item_value, want, func)
            if not result.correct:
                return result
            continue
        got = standardise(item_value) if isinstance(item_value, str) else item_value
        if isinstance(want, str):
            want = standardise(want)
        if str(want) not in str(got):
            return _fail("value_error", f"wrong value for parameter ({param}.{key}) of api ({func}): {raw!r}")
    return OK


def _check_list(param: str, value: list, expected: Any, func: str) -> CheckResult:
    got = [standardise(v) if isinstance(v, str) else v for v in value]
    want = (
        [standardise(v) if isinstance(v, str) else v for v in expected]
        if isinstance(expected, list)
        else None
    )
    if got != want:
        return _fail(
            "value_error:list/tuple", f"wrong value for parameter ({param}) of api ({func}): {value!r}"
        )
    return OK


def _nested_type(schema: dict[str, Any], schema_type: str, reading: str) -> type | None:
    """The element type ACEBench checks inside an array / tuple / object parameter.

    Source reading: ``items.type`` where given, otherwise ``str`` for a type named ``...string...``
    and ``dict`` for any other (so an array without ``items`` is checked as a list of objects,
    as ACEBench does). Corrected reading: ``items.type`` where given, otherwise none.
    """
    items = schema.get("items")
    item_type = items.get("type") if isinstance(items, dict) else None
    if isinstance(item_type, str) and item_type in SCHEMA_TYPES:
        return SCHEMA_TYPES[item_type]
    if reading != SOURCE or schema_type not in NESTED_CHECK_TYPES:
        return None
    return str if "string" in schema_type else dict


def _nested_types_match(value: Any, expected: Any, nested: type) -> bool:
    """ACEBench's nested type check: passes when some element of the ground-truth value, read as
    an alternative, either is not a list or has every answer element of the nested type (or of
    that alternative's type, or equal to it). An empty ground-truth value has no element, so
    nothing passes (ACEBench rejects its own ``[]`` and ``{}`` ground truths this way)."""
    if not isinstance(expected, list | dict | str | tuple):
        return False
    for alternative in expected:
        if type(alternative) is not list:
            return True
        if all(
            type(_bool_text(element)) in (nested, list) or _bool_text(element) == alternative
            for element in value
        ):
            return True
    return False


def _check_param(
    param: str, value: Any, expected: Any, schema: dict[str, Any], func: str, reading: str = SOURCE
) -> CheckResult:
    schema_type = schema.get("type")
    python_type = SCHEMA_TYPES.get(schema_type) if isinstance(schema_type, str) else None
    if python_type is None:
        return OK  # a type ACEBench does not know (it would crash): checked as "any"
    if schema_type == "tuple" and type(value) is tuple:
        value = list(value)
    if schema_type == "float" and type(value) is int:
        value = float(value)
    value = _bool_text(value)
    variable = expected != "" and type(expected) is not python_type
    nested = _nested_type(schema, schema_type, reading)
    if type(value) is not python_type:
        if expected != "" and (type(value) is type(expected) or value == expected):
            return OK  # ACEBench: a "variable", not compared
        return _fail(
            "type_error",
            f"wrong type for parameter ({param}) of api ({func}): expected {schema_type}, "
            f"got {type(value).__name__}",
        )
    nested_checked = reading == SOURCE and nested is not None and schema_type in NESTED_CHECK_TYPES
    if nested_checked and not _nested_types_match(value, expected, nested):
        return _fail("type_error", f"nested type checking failed for parameter {param!r} of api ({func})")
    if variable:
        return OK
    if python_type is dict:
        return _check_dict(param, value, expected, func)
    if python_type is list:
        if nested is dict:
            if not isinstance(expected, list) or len(value) != len(expected):
                return _fail(
                    "value_error:list_dict_count",
                    f"wrong number of objects for parameter ({param}) of api ({func})",
                )
            for got_item, want_item in zip(value, expected, strict=True):
                result = _check_dict(param, got_item, want_item, func)
                if not result.correct:
                    return result
            return OK
        return _check_list(param, value, expected, func)
    if python_type is str and standardise(str(expected)) not in standardise(value):
        return _fail("value_error:string", f"wrong value for parameter ({param}) of api ({func}): {value!r}")
    return OK  # integers, numbers, booleans of the schema type: not compared (as in ACEBench)


def _check_call(
    doc: dict[str, Any] | None, call: ToolCall, expected: dict[str, Any], name: str, reading: str
) -> CheckResult:
    if doc is None:
        return _fail("function_mismatch", f"no function doc for {name}")
    parameters = doc.get("parameters") or {}
    if call.arguments == {} and parameters == {}:
        return OK
    if call.arguments == {} or parameters == {}:
        return _fail("wrong_param", f"{name}: arguments given for a function without parameters, or none")
    properties = parameters.get("properties") or {}
    if expected == properties:
        return OK
    if expected == {}:
        return _fail("wrong_param", f"{name}: the ground truth has no arguments")
    if doc["name"] != call.name:
        return _fail("wrong_function_name", f"expected {doc['name']}, got {call.name}")
    for param in parameters.get("required") or []:
        if param not in call.arguments:
            return _fail("lack_args", f"lack required_params: {param}")
    for param, value in call.arguments.items():
        if param not in properties or param not in expected:
            return _fail("addition_args", f"addition params: {param}")
        result = _check_param(param, value, expected[param], properties[param], name, reading)
        if not result.correct:
            return result
    return OK


def _check_normal_alternative(
    item: AceItem, calls: Sequence[ToolCall], truth: dict[str, Any], reading: str
) -> CheckResult:
    if len(calls) != len(truth):
        return _fail("wrong functions number", "The number of functions does not match the answer.")
    function_names = {doc["name"] for doc in item.tools}
    expected = [
        (key if key in function_names else _CALL_SUFFIX.sub("", key), arguments)
        for key, arguments in truth.items()
    ]
    got_names = Counter(call.name for call in calls)
    want_names = Counter(name for name, _ in expected)
    for name in got_names:
        if name not in want_names:
            return _fail("function_mismatch", f"extra function detected: {name} is not in the ground truth")
    for name in want_names:
        if name not in got_names:
            return _fail("function_mismatch", f"function {name} of the ground truth is missing")
    for name, count in got_names.items():
        if count != want_names[name]:
            return _fail(
                "function_mismatch",
                f"incorrect count for function {name}: expected {want_names[name]}, got {count}",
            )
    for name, arguments in expected:
        doc = _find_doc(item, name)
        last = _fail("simple_function_checker:unclear", "wrong_function")
        for call in calls:
            if call.name != name:
                continue
            last = _check_call(doc, call, arguments if isinstance(arguments, dict) else {}, name, reading)
            if last.correct:
                break
        if not last.correct:
            return last
    return OK


def _check_normal(item: AceItem, calls: Sequence[ToolCall], reading: str) -> CheckResult:
    alternatives = item.ground_truth if isinstance(item.ground_truth, list) else [item.ground_truth]
    first_failure = None
    for truth in alternatives:
        result = _check_normal_alternative(item, calls, truth, reading)
        if result.correct:
            return OK
        first_failure = first_failure or result
    assert first_failure is not None
    return first_failure


def _check_special(item: AceItem, answer: str) -> CheckResult:
    truth = item.ground_truth
    if item.category == "special_irrelevant":
        if "the limitations of the function" not in answer:
            return _fail(
                "error_detection", "the request is beyond the functions, but the answer does not say so"
            )
        return OK
    if item.category == "special_incomplete":
        for name, missing in truth.items():
            if "Missing necessary parameters" not in answer:
                return _fail(
                    "error_detection", f"parameters {missing} of {name} are missing, not pointed out"
                )
            if name not in answer:
                return _fail("error_correction", f"the answer does not name the api {name}")
            for param in missing:
                if param not in answer:
                    return _fail(
                        "error_correction", f"the answer does not name the missing parameter {param!r}"
                    )
        return OK
    for name, values in truth.items():  # special_error_param: {param: [wrong values]}
        if "There is incorrect value" not in answer:
            return _fail("error_detection", f"the wrong value {values} of {name} is not pointed out")
        for value in values:
            if value not in answer:
                return _fail("error_correction", f"the answer does not name the wrong value {value!r}")
    return OK


def check_acebench(item: AceItem, calls: str | Sequence[ToolCall], *, reading: str = SOURCE) -> CheckResult:
    """Is this answer to ``item`` correct under ACEBench's rules?

    ``calls`` is either the answer text as ACEBench reads it (a Python call list, or the sentence
    of a special category) or already-parsed :class:`ToolCall` s (a Hermes turn parsed with
    :func:`harness_tasks.tool_calls.parse_tool_calls`), which are judged as the call list
    :func:`~harness_tasks.acebench.convert.to_python_calls` writes for them.

    ``reading="source"`` (default) reads the answer exactly as ACEBench's evaluator does
    (:func:`~harness_tasks.acebench.convert.read_as_acebench`: whitespace deleted, tuples kept,
    unbracketed call tuples accepted, positional arguments dropped) and applies its nested type
    check; ``reading="corrected"`` decodes the answer as written
    (:func:`~harness_tasks.acebench.convert.parse_python_calls`).
    """
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {READINGS}, got {reading!r}")
    if item.group == "special":
        answer = calls if isinstance(calls, str) else to_python_calls(calls)
        return _check_special(item, answer)
    if not isinstance(calls, str) and reading == SOURCE:
        try:
            calls = to_python_calls(calls)
        except (TypeError, ValueError) as error:
            return _fail("wrong_output_format", f"Invalid syntax. Failed to decode AST. {error}")
    if isinstance(calls, str):
        try:
            calls = read_as_acebench(calls) if reading == SOURCE else parse_python_calls(calls)
        except AceCallFormatError as error:
            return _fail("wrong_output_format", f"Invalid syntax. Failed to decode AST. {error}")
    return _check_normal(item, calls, reading)


def ground_truth_alternatives(item: AceItem) -> list[list[ToolCall]]:
    """Each ground-truth alternative of a ``normal`` item as calls (``f_1`` keys: a second call of ``f``)."""
    alternatives = item.ground_truth if isinstance(item.ground_truth, list) else [item.ground_truth]
    names = {doc["name"] for doc in item.tools}
    return [
        [ToolCall(key if key in names else _CALL_SUFFIX.sub("", key), args) for key, args in truth.items()]
        for truth in alternatives
    ]


def rejects_own_ground_truth(item: AceItem, reading: str = SOURCE) -> bool:
    """True when the checker accepts none of a ``normal`` item's ground-truth alternatives.

    Under ACEBench's own reading this happens to 8 of the 144 shipped ``normal`` items (mostly a
    string with a space inside a list or object nested in an object argument, which whitespace
    deletion makes unmatchable); no candidate can be judged right on them.
    """
    if item.group != "normal":
        return False
    return not any(
        check_acebench(item, to_python_calls(calls), reading=reading).correct
        for calls in ground_truth_alternatives(item)
    )
