"""The shipped ACEBench subset as :class:`AceItem` records, validated row by row.

Each row of ``data/acebench_en_subset.jsonl.gz`` is one ACEBench prompt row joined with its
``possible_answer`` row (see ``build_data.py``). An item carries both views of the prompt:

- ``policy_messages()``: ACEBench's own system + user prompt (Python-call answer format), what a
  policy sees when we sample candidates, so samples are comparable with ACEBench's leaderboard;
- ``messages``: the conversation as a judge reads it in our Hermes format: a system turn listing
  the tools (``<tools>`` block; the date and, for ``preference``, the user's profile before it),
  then the dialogue's ``user:`` / ``system:`` lines as user / assistant turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from harness_tasks.acebench.build_data import CATEGORIES, DATA_FILE, SPECIAL_CATEGORIES
from harness_tasks.acebench.convert import acebench_to_hermes
from harness_tasks.input_boundary import DataFormatError, iter_lines, loads_json_line, read_bytes
from harness_tasks.tool_calls import render_tools_system_prompt


class AceDataError(ValueError):
    """A row of an ACEBench file is not what the reader expects (message names file, row, field)."""


@dataclass(frozen=True)
class AceItem:
    id: str
    category: str
    """ACEBench's file stem, e.g. ``normal_atom_bool`` or ``special_incomplete``."""
    question: str
    """The dialogue as ACEBench stores it: ``user: ...\\nsystem: ...\\n`` lines."""
    functions: tuple[dict[str, Any], ...]
    """The function docs exactly as ACEBench gives them (some use ``arguments`` for ``parameters``)."""
    ground_truth: Any
    """``possible_answer``: ``{name: {param: value}}``, a list of alternatives, or a special answer."""
    time: str = ""
    profile: str = ""
    messages: tuple[dict[str, str], ...] = ()
    """System turn with the tools, then the dialogue as user / assistant turns (judge view)."""

    @property
    def group(self) -> str:
        """``normal`` or ``special``."""
        return "special" if self.category in SPECIAL_CATEGORIES else "normal"

    @property
    def tools(self) -> list[dict[str, Any]]:
        """Function docs with a ``parameters`` key (ACEBench spells it ``arguments`` in some)."""
        return [_as_tool(doc) for doc in self.functions]

    def policy_messages(self) -> list[dict[str, str]]:
        """ACEBench's prompt for this item (system prompt of its category + the dialogue)."""
        from harness_tasks.acebench.prompts import policy_system_prompt

        return [
            {"role": "system", "content": policy_system_prompt(self)},
            {"role": "user", "content": f"Conversation history 1..t:\n{self.question}"},
        ]


def _as_tool(doc: dict[str, Any]) -> dict[str, Any]:
    if "parameters" in doc or "arguments" not in doc:
        return doc
    return {("parameters" if key == "arguments" else key): value for key, value in doc.items()}


def dialogue_turns(question: str) -> list[dict[str, str]]:
    """``"user: a\\nsystem: b\\nmore\\n"`` -> user / assistant turns (a line without a prefix continues)."""
    turns: list[dict[str, str]] = []
    for line in question.split("\n"):
        role = None
        for prefix, mapped in (("user:", "user"), ("system:", "assistant")):
            if line.startswith(prefix):
                role, line = mapped, line[len(prefix) :].lstrip()
                break
        if role is not None:
            turns.append({"role": role, "content": line})
        elif turns:
            turns[-1]["content"] += "\n" + line
        elif line.strip():
            turns.append({"role": "user", "content": line})
    after_call = False
    for turn in turns:
        turn["content"] = turn["content"].strip()
        if turn["role"] != "assistant":
            after_call = False
            continue
        if after_call:  # the line after an API request holds its result
            turn["role"], after_call = "tool", False
            continue
        hermes = acebench_to_hermes(turn["content"])
        if hermes.startswith("<tool_call>"):
            turn["content"], after_call = hermes, True
    return turns


def judge_system_text(time: str, profile: str) -> str | None:
    profile_part = f"Character profile:\n{profile.strip()}" if profile else ""
    parts = [part for part in (time.strip(), profile_part) if part]
    return "\n\n".join(parts) or None


def _require(row: dict, field: str, kind: type | tuple[type, ...], where: str) -> Any:
    if field not in row:
        raise AceDataError(f"{where}: field {field!r} is missing")
    value = row[field]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise AceDataError(f"{where}: field {field!r} should be {names}, found {type(value).__name__}")
    return value


def item_from_row(row: Any, where: str) -> AceItem:
    if not isinstance(row, dict):
        raise AceDataError(f"{where}: row is not a JSON object")
    category = _require(row, "category", str, where)
    if category not in CATEGORIES:
        raise AceDataError(f"{where}: field 'category' is {category!r}, not one of {', '.join(CATEGORIES)}")
    item_id = _require(row, "id", str, where)
    question = _require(row, "question", str, where)
    functions = _require(row, "function", list, where)
    for index, doc in enumerate(functions):
        if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
            raise AceDataError(f"{where}: field 'function[{index}]' is not a function doc with a 'name'")
    if "ground_truth" not in row:
        raise AceDataError(f"{where}: field 'ground_truth' is missing")
    truth = row["ground_truth"]
    if category == "special_irrelevant":
        if not isinstance(truth, str):
            raise AceDataError(f"{where}: field 'ground_truth' should be the refusal sentence (str)")
    elif not isinstance(truth, dict | list) or not truth:
        raise AceDataError(f"{where}: field 'ground_truth' should be a non-empty object or list")
    time = row.get("time") or ""
    profile = row.get("profile") or ""
    if not isinstance(time, str) or not isinstance(profile, str):
        raise AceDataError(f"{where}: fields 'time' and 'profile' should be strings")
    tools = [_as_tool(doc) for doc in functions]
    messages = (
        {"role": "system", "content": render_tools_system_prompt(tools, judge_system_text(time, profile))},
        *dialogue_turns(question),
    )
    return AceItem(item_id, category, question, tuple(functions), truth, time, profile, messages)


def read_items_file(path: Path) -> list[AceItem]:
    items = []
    seen: set[str] = set()
    try:
        data = read_bytes(path)
    except DataFormatError as error:
        raise AceDataError(str(error)) from None
    for row_no, raw in iter_lines(data):
        where = f"{path}: row {row_no}"
        try:
            row = loads_json_line(raw, where)
        except DataFormatError as error:
            raise AceDataError(str(error)) from None
        item = item_from_row(row, where)
        if item.id in seen:
            raise AceDataError(f"{where}: field 'id' {item.id!r} repeats an earlier row")
        seen.add(item.id)
        items.append(item)
    return items


@cache
def _shipped_items() -> tuple[AceItem, ...]:
    return tuple(read_items_file(DATA_FILE))


def load_acebench_items(categories: list[str] | tuple[str, ...] | None = None) -> list[AceItem]:
    """The shipped items, optionally only some categories (``normal`` / ``special`` select a group)."""
    items = _shipped_items()
    if categories is None:
        return list(items)
    wanted = set()
    for name in categories:
        if name in ("normal", "special"):
            wanted.update(c for c in CATEGORIES if c.startswith(name + "_"))
        elif name in CATEGORIES:
            wanted.add(name)
        else:
            raise ValueError(
                f"unknown ACEBench category {name!r}; expected normal, special or one of {CATEGORIES}"
            )
    return [item for item in items if item.category in wanted]


def item_by_id() -> dict[str, AceItem]:
    return {item.id: item for item in _shipped_items()}
