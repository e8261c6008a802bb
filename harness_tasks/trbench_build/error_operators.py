"""Error operators: realistic tool-use mistakes made by altering correct (ground-truth) calls.

Each operator is a small pure function ``(calls, tools, question, rng) -> Candidate | None``:

* ``calls``: the correct calls of one assistant turn (never mutated);
* ``tools``: the function docs offered to the model (BFCL-style JSON schemas);
* ``question``: the user's request for this turn (a source of plausible wrong values);
* ``rng``: a ``random.Random``; all randomness comes from it, so a seeded rng gives the same output.

It returns the altered assistant turn as a :class:`Candidate` (its Hermes text, and its calls unless
it is a text answer), or ``None`` when it does not apply (e.g. ``missing_call`` with one call) or
could not produce anything different from ``calls``. Operators know nothing about a checker: an
operator's output is a *plausible* mistake, and whether it is actually wrong is for the caller to
verify (the TRBench builder runs BFCL's checker; the ToolPref pipeline scores against the ground
truth). :data:`OPERATORS` is the registry, in a fixed order.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness_tasks.tool_calls import ToolCall, format_tool_calls


# ---------------------------------------------------------------- the operator contract


@dataclass(frozen=True)
class Candidate:
    """An operator's output: the assistant turn as text, and the calls it makes (``None``: text only)."""

    text: str
    calls: tuple[ToolCall, ...] | None = None

    @classmethod
    def of_calls(cls, calls: Sequence[ToolCall]) -> Candidate:
        return cls(format_tool_calls(list(calls)), tuple(calls))

    @classmethod
    def of_text(cls, text: str) -> Candidate:
        return cls(text, None)


ErrorOperator = Callable[[list[ToolCall], list[dict[str, Any]], str, random.Random], Candidate | None]
"""``(ground-truth calls, function docs, user question, rng) -> Candidate | None``."""


# ---------------------------------------------------------------- schema and text helpers


def _docs_by_name(tools: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {doc["name"]: doc for doc in tools if isinstance(doc, Mapping) and "name" in doc}


def _properties(doc: Mapping[str, Any] | None) -> dict[str, Any]:
    if not doc:
        return {}
    return dict((doc.get("parameters") or {}).get("properties") or {})


def _required(doc: Mapping[str, Any] | None) -> list[str]:
    if not doc:
        return []
    return list((doc.get("parameters") or {}).get("required") or [])


def _json_type(value: Any) -> str:
    """The BFCL schema type a JSON value has (``bool`` before ``int``: ``True`` is an int in Python)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "dict"
    return "null"


def _standard(text: str) -> str:
    """A loose form for "is this the same value": case and spacing/punctuation ignored."""
    return re.sub(r"[\s,./\-_*^'\"]", "", text).lower()


def words_of_name(name: str) -> list[str]:
    """``spotify.play`` → ``['spotify', 'play']``; ``lockDoors`` → ``['lock', 'doors']``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [word.lower() for word in re.split(r"[\s._\-/]+", spaced) if word]


def _param_phrase(name: str) -> str:
    return " ".join(words_of_name(name)) or name


def _format_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_format_value(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{_param_phrase(k)} {_format_value(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_QUOTED = re.compile(r"\"([^\"\n]{1,80})\"|“([^”\n]{1,80})”|(?<![\w])'([^'\n]{1,80})'(?![\w])")
_CAPITALISED = re.compile(r"\b[A-Z][\w&'-]*(?:\s+(?:(?:of|de|la|the|and|&)\s+)?[A-Z0-9][\w&'-]*)*")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_NOT_ENTITIES = _word_set(
    "i i'm i'd i'll can could would will please find what what's how who when where which get give "
    "tell show calculate compute help let make use also and but then the a an is are my me it this "
    "that there here hi hello hey yes no ok okay thanks thank sure first next after before now "
    "play book order send search set create list check convert buy add remove delete update retrieve "
    "fetch look plan schedule translate move post provide locate display draft estimate generate "
    "turn open close start stop reserve cancel analyze analyse predict identify determine recommend "
    "suggest share invite register rate call run"
)


def question_entities(question: str) -> list[str]:
    """Names and phrases the user mentioned (quoted text, capitalised words), in order, deduplicated.

    They are the most plausible wrong values: a model that confuses two things the user said.
    """
    found: list[str] = []
    for match in _QUOTED.finditer(question):
        found.append(next(group for group in match.groups() if group))
    for match in _CAPITALISED.finditer(question):
        words = match.group(0).strip(" '-").split()
        while words and words[0].lower() in _NOT_ENTITIES:  # "Play Taylor Swift" -> "Taylor Swift"
            words = words[1:]
        if words and not words[0][0].isdigit():
            found.append(" ".join(words))
    unique: list[str] = []
    seen: set[str] = set()
    for phrase in found:
        key = _standard(phrase)
        if key and key not in seen:
            seen.add(key)
            unique.append(phrase)
    return unique


def question_numbers(question: str) -> list[int | float]:
    numbers: list[int | float] = []
    for match in _NUMBER.finditer(question):
        text = match.group(0)
        numbers.append(float(text) if "." in text else int(text))
    return numbers


def _string_values(calls: Sequence[ToolCall]) -> list[str]:
    values: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, str) and value.strip():
            values.append(value)
        elif isinstance(value, list):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    for call in calls:
        visit(call.arguments)
    return values


def _changed(original: Sequence[ToolCall], altered: Sequence[ToolCall]) -> Candidate | None:
    """A candidate for ``altered`` calls, or ``None`` when the operator changed nothing."""
    if list(altered) == list(original):
        return None
    return Candidate.of_calls(altered)


def _with_arguments(call: ToolCall, arguments: dict[str, Any]) -> ToolCall:
    return ToolCall(call.name, arguments)


# ---------------------------------------------------------------- value alterations

_NO_VALUE = object()
"""Returned by value alterations that cannot change a value."""


def _other_enum_member(value: Any, schema: Mapping[str, Any], rng: random.Random) -> Any:
    members = schema.get("enum")
    if not isinstance(members, list):
        return _NO_VALUE
    others = [
        m
        for m in members
        if m != value
        and not (isinstance(m, str) and isinstance(value, str) and _standard(m) == _standard(value))
    ]
    return rng.choice(others) if others else _NO_VALUE


def _shift_number_in_text(text: str, rng: random.Random) -> Any:
    """``2023-04-15`` → ``2023-04-16``: one number in the text moved by one (zero padding kept)."""
    matches = list(re.finditer(r"\d+", text))
    if not matches:
        return _NO_VALUE
    match = rng.choice(matches)
    number = int(match.group(0))
    shifted = number + 1 if number == 0 or rng.random() < 0.5 else number - 1
    digits = str(shifted).zfill(len(match.group(0)))
    return text[: match.start()] + digits + text[match.end() :]


def _typo(text: str, rng: random.Random) -> Any:
    """A light misspelling: two neighbouring letters swapped, or one letter dropped."""
    letters = [
        i
        for i in range(1, len(text) - 1)
        if text[i].isalpha() and text[i + 1].isalpha() and text[i] != text[i + 1]
    ]
    if not letters:
        return _NO_VALUE
    i = rng.choice(letters)
    if rng.random() < 0.5:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + text[i + 1 :]


def _wrong_string(
    value: str, schema: Mapping[str, Any], question: str, pool: Sequence[str], rng: random.Random
) -> Any:
    """Another entity the user mentioned; else a shifted number (dates, ids), a word less, a typo."""
    member = _other_enum_member(value, schema, rng)
    if member is not _NO_VALUE:
        return member
    alternatives = [
        e for e in [*question_entities(question), *pool] if _standard(e) != _standard(value) and _standard(e)
    ]
    alternatives = list(dict.fromkeys(alternatives))
    options: list[Callable[[], Any]] = []
    if alternatives:
        options.append(lambda: rng.choice(alternatives))
    if re.search(r"\d", value):
        options.append(lambda: _shift_number_in_text(value, rng))
    words = value.split()
    if len(words) > 4:  # free text (a message, a note): cut short
        options.append(lambda: " ".join(words[: max(2, len(words) // 2)]))
    elif len(words) > 1:  # a name or place: a word missing
        options.append(lambda: " ".join(words[:-1]) if rng.random() < 0.5 else " ".join(words[1:]))
    options.append(lambda: _typo(value, rng))
    # the first option (another entity) is the most realistic mistake: try it first half of the time
    order = options if rng.random() < 0.5 else rng.sample(options, len(options))
    for option in order:
        altered = option()
        if altered is not _NO_VALUE and isinstance(altered, str) and _standard(altered) != _standard(value):
            return altered
    return _NO_VALUE


def _wrong_int(value: int, question: str, rng: random.Random) -> Any:
    mentioned = [n for n in question_numbers(question) if isinstance(n, int) and n != value]
    if mentioned and rng.random() < 0.4:
        return rng.choice(mentioned)
    options = {value + 1, value - 1, value * 2, value * 10}
    if abs(value) > 1:
        options.add(value // 2)
    if value == 0:
        options = {1, 10}
    options.discard(value)
    return rng.choice(sorted(options))


def _wrong_float(value: float, question: str, rng: random.Random) -> Any:
    mentioned = [float(n) for n in question_numbers(question) if float(n) != value]
    if mentioned and rng.random() < 0.4:
        return rng.choice(mentioned)
    options = {round(value * 1.5, 4), round(value + 1.0, 4), round(value / 2, 4), round(value * 10, 4)}
    if value == 0:
        options = {1.0, 0.5}
    options.discard(value)
    return float(rng.choice(sorted(options)))


def alter_value(
    value: Any, schema: Mapping[str, Any], question: str, rng: random.Random, pool: Sequence[str] = ()
) -> Any:
    """A plausible wrong value of the same type, or :data:`_NO_VALUE`.

    Numbers are shifted or scaled (or swapped for another number in the question), strings swapped
    for another entity or lightly altered, booleans flipped, enums moved to another member, lists
    lose or change an element, dicts change one entry.
    """
    schema = schema if isinstance(schema, Mapping) else {}
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float) and schema.get("enum"):
        return _other_enum_member(value, schema, rng)
    if isinstance(value, int):
        return _wrong_int(value, question, rng)
    if isinstance(value, float):
        return _wrong_float(value, question, rng)
    if isinstance(value, str):
        return _wrong_string(value, schema, question, pool, rng)
    if isinstance(value, list):
        if not value:
            return _NO_VALUE
        if len(value) > 1 and rng.random() < 0.5:
            dropped = list(value)
            del dropped[rng.randrange(len(dropped))]
            return dropped
        index = rng.randrange(len(value))
        item = alter_value(value[index], schema.get("items") or {}, question, rng, pool)
        if item is _NO_VALUE:
            return _NO_VALUE
        return [*value[:index], item, *value[index + 1 :]]
    if isinstance(value, dict):
        keys = [key for key in value if value[key] is not None]
        if not keys:
            return _NO_VALUE
        key = rng.choice(keys)
        item = alter_value(value[key], _properties({"parameters": schema}).get(key, {}), question, rng, pool)
        if item is _NO_VALUE:
            return _NO_VALUE
        return {**value, key: item}
    return _NO_VALUE


def mistype_value(value: Any, schema: Mapping[str, Any], rng: random.Random) -> Any:
    """The value in a type the schema does not declare: ``"10"`` for 10, ``10.5`` for an integer,
    ``"true"`` for a boolean, a scalar (or a comma-joined string) for an array, JSON text for a dict."""
    declared = schema.get("type") if isinstance(schema, Mapping) else None
    if declared == "any":
        return _NO_VALUE
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value) if rng.random() < 0.6 else value + 0.5
    if isinstance(value, float):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if re.fullmatch(r"-?\d+\.\d+", text):
            return float(text)
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        return [value] if declared == "string" and text else _NO_VALUE
    if isinstance(value, list):
        if not value:
            return _NO_VALUE
        if all(isinstance(item, str) for item in value) and len(value) > 1 and rng.random() < 0.5:
            return ", ".join(value)
        return value[0]
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else _NO_VALUE
    return _NO_VALUE


# ---------------------------------------------------------------- arguments for calls the model invents

_PLAUSIBLE_EXTRA_ARGUMENTS: tuple[tuple[str, Any], ...] = (
    ("unit", "metric"),
    ("units", "imperial"),
    ("format", "json"),
    ("language", "en"),
    ("limit", 10),
    ("max_results", 5),
    ("verbose", True),
    ("include_details", True),
    ("timezone", "UTC"),
    ("currency", "USD"),
    ("sort_by", "relevance"),
    ("page", 1),
    ("precision", 2),
    ("region", "US"),
    ("timeout", 30),
    ("detailed", True),
    ("confirm", True),
    ("case_sensitive", False),
)
"""Names and values a model plausibly invents for a parameter the schema does not have."""


def _fabricate(schema: Mapping[str, Any], question: str, used: Sequence[str], rng: random.Random) -> Any:
    """A made-up value for a parameter the user never asked to set (avoiding its default)."""
    kind = schema.get("type")
    default = schema.get("default", _NO_VALUE)
    members = schema.get("enum")
    if isinstance(members, list) and members:
        others = [m for m in members if m != default]
        return rng.choice(others) if others else _NO_VALUE
    if kind == "boolean":
        if isinstance(default, str) and default.lower() in ("true", "false"):
            default = default.lower() == "true"
        return not default if isinstance(default, bool) else rng.random() < 0.7
    if kind == "integer":
        return rng.choice([n for n in (1, 3, 5, 10, 20, 50, 100) if n != default])
    if kind == "float":
        return rng.choice([n for n in (0.5, 1.5, 2.0, 10.0) if n != default])
    if kind in ("string", "any"):
        unused = [e for e in question_entities(question) if _standard(e) not in {_standard(u) for u in used}]
        return rng.choice(unused) if unused else _NO_VALUE
    if kind == "array":
        item = _fabricate(schema.get("items") or {"type": "string"}, question, used, rng)
        return [item] if item is not _NO_VALUE else _NO_VALUE
    return _NO_VALUE


def _fits(value: Any, schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    members = schema.get("enum")
    if isinstance(members, list) and members and value not in members:
        return False
    return kind == "any" or _json_type(value) == kind or (kind == "float" and _json_type(value) == "integer")


def _related_value(
    param: str,
    schema: Mapping[str, Any],
    given: Sequence[tuple[str, Any]],
    taken: Mapping[str, Any],
    question: str,
    rng: random.Random,
) -> Any:
    """A value for ``param`` that a model would take from the conversation: a value given under the
    same name, then under a name sharing a word (``date_of_journey`` ← ``departure_date``), then
    any not-yet-used value of the right type, else a made-up one."""
    words = set(words_of_name(param))
    same = [v for k, v in given if k == param and _fits(v, schema)]
    related = [v for k, v in given if words & set(words_of_name(k)) and _fits(v, schema)]
    unused = [v for _, v in given if _fits(v, schema) and v not in taken.values()]
    for group in (same, related, unused):
        if group:
            return copy.deepcopy(group[0])
    return _fabricate(schema, question, [str(v) for v in taken.values()], rng)


def _fill_required(
    doc: Mapping[str, Any],
    known: Mapping[str, Any],
    calls: Sequence[ToolCall],
    question: str,
    rng: random.Random,
) -> dict[str, Any] | None:
    """Arguments for a call the model invents: ``known`` ones the tool accepts, plus every required
    one filled from the conversation (see :func:`_related_value`); ``None`` if one cannot be filled."""
    properties = _properties(doc)
    given = [(key, value) for call in calls for key, value in call.arguments.items()]
    arguments: dict[str, Any] = {
        key: copy.deepcopy(value) for key, value in known.items() if key in properties
    }
    for param in _required(doc):
        if param in arguments:
            continue
        value = _related_value(param, properties.get(param, {}), given, arguments, question, rng)
        if value is _NO_VALUE:
            return None
        arguments[param] = value
    return arguments


# ---------------------------------------------------------------- function names

_VERB_SYNONYMS: dict[str, tuple[str, ...]] = {
    "get": ("fetch", "retrieve", "find"),
    "fetch": ("get", "retrieve"),
    "retrieve": ("get", "fetch"),
    "find": ("search", "get", "lookup"),
    "search": ("find", "lookup"),
    "calculate": ("compute", "calc", "get"),
    "calc": ("calculate", "compute"),
    "compute": ("calculate", "get"),
    "create": ("make", "add", "new"),
    "add": ("create", "insert"),
    "update": ("modify", "edit", "set"),
    "set": ("update", "change"),
    "delete": ("remove",),
    "remove": ("delete",),
    "list": ("get", "show"),
    "check": ("verify", "get"),
    "send": ("post",),
    "book": ("reserve",),
    "play": ("start", "stream"),
    "convert": ("transform",),
}


def near_miss_names(name: str) -> list[str]:
    """Names a model plausibly writes instead of ``name``: ``.``→``_``, the namespace dropped,
    snake_case↔camelCase, a synonym verb, a word dropped, singular/plural."""
    variants: list[str] = []
    if "." in name:
        variants.append(name.replace(".", "_"))
        variants.append(name.rsplit(".", 1)[1])
    prefix, _, last = name.rpartition(".")
    prefix = prefix + "." if prefix else ""
    words = words_of_name(last)
    if "_" in last and len(words) > 1:
        variants.append(prefix + words[0] + "".join(w.capitalize() for w in words[1:]))
    elif re.search(r"[a-z][A-Z]", last):
        variants.append(prefix + "_".join(words))
    joiner = "_" if "_" in last or not re.search(r"[a-z][A-Z]", last) else ""

    def join(parts: list[str]) -> str:
        if joiner:
            return prefix + "_".join(parts)
        return prefix + parts[0] + "".join(w.capitalize() for w in parts[1:])

    if words and words[0] in _VERB_SYNONYMS:
        variants.extend(join([synonym, *words[1:]]) for synonym in _VERB_SYNONYMS[words[0]])
    elif words:
        variants.append(join(["get", *words]))
    if len(words) >= 3:
        variants.append(join(words[1:]))
        variants.append(join(words[:-1]))
    if words:
        last_word = words[-1]
        plural = last_word[:-1] if last_word.endswith("s") and len(last_word) > 3 else last_word + "s"
        variants.append(join([*words[:-1], plural]))
    return [v for v in dict.fromkeys(variants) if v and v != name]


_STATE_CHANGING_VERBS = _word_set(
    "add append archive authenticate book buy cancel cd close comment cp create delete echo edit fill "
    "follow fund insert lock login logout make mention mkdir modify move mv place post press purchase "
    "register release remove reset resolve retweet rm rmdir send set sort start stop submit touch "
    "transfer unfollow unlock update upload withdraw activate adjust"
)


def is_state_changing_name(name: str) -> bool:
    """Whether a function name reads as an action that changes something (``post_tweet``, ``rm``)."""
    words = words_of_name(name.rsplit(".", 1)[-1])
    return bool(words) and words[0] in _STATE_CHANGING_VERBS


# ---------------------------------------------------------------- operators


def wrong_function(
    calls: list[ToolCall], tools: list[dict[str, Any]], question: str, rng: random.Random
) -> Candidate | None:
    """One call goes to the wrong function: another offered tool (similar ones preferred, arguments
    carried over where names match) or a near-miss of the right name (``spotify_play``, ``play``)."""
    if not calls:
        return None
    index = rng.randrange(len(calls))
    call = calls[index]
    docs = _docs_by_name(tools)
    others = [name for name in docs if name != call.name]
    if others and rng.random() < 0.7:
        namespace = call.name.rpartition(".")[0]

        def similarity(name: str) -> float:
            shared = len(set(_properties(docs[name])) & set(call.arguments))
            same_namespace = 2 if namespace and name.rpartition(".")[0] == namespace else 0
            return 1.0 + shared + same_namespace

        for target in _weighted_order(others, [similarity(n) for n in others], rng)[:5]:
            arguments = _fill_required(docs[target], call.arguments, calls, question, rng)
            if arguments is not None:
                altered = [*calls[:index], ToolCall(target, arguments), *calls[index + 1 :]]
                return _changed(calls, altered)
    names = [n for n in near_miss_names(call.name) if n not in docs]
    if not names:
        return None
    altered = [
        *calls[:index],
        ToolCall(rng.choice(names), copy.deepcopy(call.arguments)),
        *calls[index + 1 :],
    ]
    return _changed(calls, altered)


def missing_required_argument(
    calls: list[ToolCall], tools: list[dict[str, Any]], question: str, rng: random.Random
) -> Candidate | None:
    """A required argument is left out of one call."""
    docs = _docs_by_name(tools)
    options = [
        (i, p) for i, call in enumerate(calls) for p in _required(docs.get(call.name)) if p in call.arguments
    ]
    if not options:
        return None
    index, param = rng.choice(options)
    arguments = {k: v for k, v in calls[index].arguments.items() if k != param}
    return _changed(calls, [*calls[:index], _with_arguments(calls[index], arguments), *calls[index + 1 :]])


def wrong_value(
    calls: list[ToolCall], tools: list[dict[str, Any]], question: str, rng: random.Random
) -> Candidate | None:
    """One argument gets a plausible but wrong value (see :func:`alter_value`)."""
    docs = _docs_by_name(tools)
    options = [(i, p) for i, call in enumerate(calls) for p in call.arguments]
    pool = _string_values(calls)
    for index, param in rng.sample(options, len(options)):
        call = calls[index]
        schema = _properties(docs.get(call.name)).get(param, {})
        value = alter_value(call.arguments[param], schema, question, rng, pool)
        if value is _NO_VALUE or value == call.arguments[param]:
            continue
        arguments = {**copy.deepcopy(call.arguments), param: value}
        return _changed(calls, [*calls[:index], _with_arguments(call, arguments), *calls[index + 1 :]])
    return None


def _plain_text(value: Any) -> bool:
    return isinstance(value, str) and not re.fullmatch(
        r"\s*(-?\d+(\.\d+)?|true|false)\s*", value, re.IGNORECASE
    )


def wrong_type(
    calls: list[ToolCall], tools: list[dict[str, Any]], question: str, rng: random.Random
) -> Candidate | None:
    """One argument has the right content in the wrong type (see :func:`mistype_value`)."""
    docs = _docs_by_name(tools)
    options = [(i, p) for i, call in enumerate(calls) for p in call.arguments]
    # a string wrapped in a list is the least common slip: try every other value first
    options = sorted(
        rng.sample(options, len(options)), key=lambda o: _plain_text(calls[o[0]].arguments[o[1]])
    )
    for index, param in options:
        call = calls[index]
        schema = _properties(docs.get(call.name)).get(param, {})
        value = mistype_value(call.arguments[param], schema, rng)
        if value is _NO_VALUE:
            continue
        arguments = {**copy.deepcopy(call.arguments), param: value}
        return _changed(calls, [*calls[:index], _with_arguments(call, arguments), *calls[index + 1 :]])
    return None


def hallucinated_argument(
    calls: list[ToolCall], tools: list[dict[str, Any]], question: str, rng: random.Random
) -> Candidate | None:
    """One call gets an argument nobody asked for: a parameter the schema does not have (with a
    plausible name and value), or a made-up value for an optional parameter the user never set."""
    if not calls:
        return None
    docs = _docs_by_name(tools)
    index = rng.randrange(len(calls))
    call = calls[index]
    properties = _properties(docs.get(call.name))
    optional_unset = [
        p for p in properties if p not in call.arguments and p not in _required(docs.get(call.name))
    ]
    invented = [
        (n, v) for n, v in _PLAUSIBLE_EXTRA_ARGUMENTS if n not in properties and n not in call.arguments
    ]
    arguments = copy.deepcopy(call.arguments)
    if optional_unset and (rng.random() < 0.5 or not invented):
        for param in rng.sample(optional_unset, len(optional_unset)):
            value = _fabricate(properties[param], question, _string_values(calls), rng)
            if value is not _NO_VALUE:
                arguments[param] = value
                break
    if arguments == call.arguments and invented:
        # names the context talks about ("unit" near "units", "currency" near "USD") are likelier slips
        context = " ".join([question, str((docs.get(call.name) or {}).get("description", ""))]).lower()
        weights = [4.0 if any(w[:4] in context for w in words_of_name(n)) else 1.0 for n, _ in invented]
        name, value = rng.choices(invented, weights=weights)[0]
        arguments[name] = value
    return _changed(calls, [*calls[:index], _with_arguments(call, arguments), *calls[index + 1 :]])


def missing_call(
    calls: list[ToolCall], tools: list[dict[str, Any]], question: str, rng: random.Random
) -> Candidate | None:
    """One of several calls is left out (a parallel request answered only in part)."""
    if len(calls) < 2:
        return None
    index = rng.randrange(len(calls))
    return _changed(calls, [*calls[:index], *calls[index + 1 :]])


def extra_call(
    calls: list[ToolCall], tools: list[dict[str, Any]], question: str, rng: random.Random
) -> Candidate | None:
    """One call too many: a duplicate, the same function once more with another value, or another
    offered tool the request did not need."""
    if not calls:
        return None
    docs = _docs_by_name(tools)
    index = rng.randrange(len(calls))
    call = calls[index]
    unused_tools = [name for name in docs if name not in {c.name for c in calls}]
    mode = rng.choice(["duplicate", "variant", "other_tool"] if unused_tools else ["duplicate", "variant"])
    extra: ToolCall | None = None
    if mode == "other_tool":
        target = rng.choice(unused_tools)
        arguments = _fill_required(docs[target], {}, calls, question, rng)
        if arguments is not None:
            extra = ToolCall(target, arguments)
    elif mode == "variant" and call.arguments:
        param = rng.choice(list(call.arguments))
        value = alter_value(
            call.arguments[param], _properties(docs.get(call.name)).get(param, {}), question, rng
        )
        if value is not _NO_VALUE and value != call.arguments[param]:
            extra = _with_arguments(call, {**copy.deepcopy(call.arguments), param: value})
    if extra is None:
        extra = ToolCall(call.name, copy.deepcopy(call.arguments))
    return _changed(calls, [*calls[: index + 1], extra, *calls[index + 1 :]])


def extra_state_changing_call(
    calls: list[ToolCall], tools: list[dict[str, Any]], question: str, rng: random.Random
) -> Candidate | None:
    """An unrequested action that changes something: a state-changing call repeated, or another
    state-changing tool (``rm``, ``post_tweet``, ``cancel_booking``, ...) called with plausible arguments."""
    docs = _docs_by_name(tools)
    repeatable = [i for i, call in enumerate(calls) if is_state_changing_name(call.name)]
    actions = [name for name in docs if is_state_changing_name(name)]
    if not actions and not repeatable:
        return None
    if repeatable and (not actions or rng.random() < 0.3):
        index = rng.choice(repeatable)
        duplicate = ToolCall(calls[index].name, copy.deepcopy(calls[index].arguments))
        return _changed(calls, [*calls[: index + 1], duplicate, *calls[index + 1 :]])
    for target in rng.sample(actions, len(actions)):
        arguments = _fill_required(docs[target], {}, calls, question, rng)
        if arguments is not None:
            return _changed(calls, [*calls, ToolCall(target, arguments)])
    return None


def _value_shape(value: Any) -> str:
    """What kind of thing a value is, so only look-alikes get swapped: two numbers, two dates, two
    codes (``JFK``/``LAX``), two ids, two phrases — never a place with a travel class."""
    if isinstance(value, bool):
        return "other"
    if isinstance(value, int | float):
        return "number"
    if not isinstance(value, str) or not value.strip():
        return "other"
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}.*|\d{1,2}/\d{1,2}/\d{2,4}", text):
        return "date"
    if re.fullmatch(r"[\d\s.:,-]+", text):
        return "numeric text"
    if re.fullmatch(r"[A-Z0-9]{2,5}", text):
        return "code"
    if " " not in text and re.search(r"\d", text):
        return "id"
    if " " in text or "," in text:
        return "phrase"
    return "word"


def _swappable(first: Any, second: Any, schema_a: Mapping[str, Any], schema_b: Mapping[str, Any]) -> bool:
    """Two arguments of one call a model could plausibly mix up (origin/destination, width/height)."""
    if first == second or schema_a.get("enum") or schema_b.get("enum"):
        return False
    if schema_a.get("type") != schema_b.get("type"):
        return False
    shape = _value_shape(first)
    return shape not in ("other", "word") and shape == _value_shape(second)


def swapped_values(
    calls: list[ToolCall], tools: list[dict[str, Any]], question: str, rng: random.Random
) -> Candidate | None:
    """Values end up in the wrong place: swapped between two calls of the same function (durations of
    two songs), or between two same-typed arguments of one call (origin and destination)."""
    across = [
        (i, j, key)
        for i in range(len(calls))
        for j in range(i + 1, len(calls))
        if calls[i].name == calls[j].name
        for key in calls[i].arguments
        if key in calls[j].arguments and calls[i].arguments[key] != calls[j].arguments[key]
    ]
    docs = _docs_by_name(tools)
    within = []
    for i, call in enumerate(calls):
        properties = _properties(docs.get(call.name))
        keys = list(call.arguments)
        for a in range(len(keys)):
            for b in range(a + 1, len(keys)):
                first, second = call.arguments[keys[a]], call.arguments[keys[b]]
                if _swappable(first, second, properties.get(keys[a]) or {}, properties.get(keys[b]) or {}):
                    within.append((i, keys[a], keys[b]))
    if across and (not within or rng.random() < 0.75):
        i, j, key = rng.choice(across)
        first = {**copy.deepcopy(calls[i].arguments), key: copy.deepcopy(calls[j].arguments[key])}
        second = {**copy.deepcopy(calls[j].arguments), key: copy.deepcopy(calls[i].arguments[key])}
        altered = list(calls)
        altered[i], altered[j] = _with_arguments(calls[i], first), _with_arguments(calls[j], second)
        return _changed(calls, altered)
    if within:
        i, key_a, key_b = rng.choice(within)
        arguments = copy.deepcopy(calls[i].arguments)
        arguments[key_a], arguments[key_b] = arguments[key_b], arguments[key_a]
        return _changed(calls, [*calls[:i], _with_arguments(calls[i], arguments), *calls[i + 1 :]])
    return None


_CLARIFICATIONS = (
    "Before I proceed, could you confirm the {params} you'd like me to use?",
    "I can help with that. To make sure I get it right, could you tell me the {params}?",
    "Happy to help! Just to double-check: what {params} should I use?",
    "Sure. Could you please specify the {params} first? I want to avoid making any assumptions.",
    "Just to confirm before I go ahead: {values}. Is that correct?",
    "I need a bit more information before I call {function}. Which {params} did you have in mind?",
)
_CLAIMED_RESULTS = (
    "Done! I've taken care of that ({values}). Let me know if you need anything else.",
    "I have completed your request with {values}. Everything went through successfully.",
    "All set: I called {function} with {values} and it was processed without any issues.",
    "Here you go: your request ({values}) completed successfully.",
    "Your request has been handled using {values}. Is there anything else I can help with?",
    "I ran {function} for you ({values}) and it finished successfully.",
)


def text_answer(
    calls: list[ToolCall], tools: list[dict[str, Any]], question: str, rng: random.Random
) -> Candidate | None:
    """A reply in words where calls were needed: a needless clarification question that re-asks for
    values the user already gave, or a claim that the work is done without calling anything."""
    if not calls:
        return None
    function = " and ".join(f"`{name}`" for name in list(dict.fromkeys(call.name for call in calls))[:2])
    argument_items = [(k, v) for call in calls for k, v in call.arguments.items()]
    param_names = list(dict.fromkeys(_param_phrase(k) for k, _ in argument_items))[:3]
    if len(param_names) > 1:
        params = ", ".join(param_names[:-1]) + " and " + param_names[-1]
    else:
        params = param_names[0] if param_names else "details"
    values = (
        "; ".join(f"{_param_phrase(k)}: {_format_value(v)}" for k, v in argument_items[:4])
        or "the details you gave"
    )
    templates = _CLARIFICATIONS if rng.random() < 0.5 else _CLAIMED_RESULTS
    return Candidate.of_text(rng.choice(templates).format(function=function, params=params, values=values))


def _weighted_order(names: Sequence[str], weights: Sequence[float], rng: random.Random) -> list[str]:
    """A seeded weighted shuffle (Efraimidis–Spirakis keys): heavier names tend to come first."""
    keyed = [
        (rng.random() ** (1.0 / weight), name)
        for name, weight in zip(names, weights, strict=True)
        if weight > 0
    ]
    return [name for _, name in sorted(keyed, reverse=True)]


OPERATORS: dict[str, ErrorOperator] = {
    "wrong_function": wrong_function,
    "missing_required_argument": missing_required_argument,
    "wrong_value": wrong_value,
    "wrong_type": wrong_type,
    "hallucinated_argument": hallucinated_argument,
    "missing_call": missing_call,
    "extra_call": extra_call,
    "extra_state_changing_call": extra_state_changing_call,
    "swapped_values": swapped_values,
    "text_answer": text_answer,
}
"""Operator name → operator, in a fixed order (iteration order is part of determinism)."""
