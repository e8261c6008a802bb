"""A self-correction item: a tool-use context, one candidate assistant turn, and what the checker said.

One JSON object per line of ``data/selfcorrect_items.jsonl.gz``:

| field | content |
|---|---|
| ``id`` | ``<source>/<category>/<raw_id>``: unique, stable across builds |
| ``source`` | ``bfcl`` or ``acebench`` (which checker decides correctness) |
| ``category`` | BFCL category (``simple``, ...) or ACEBench category (``single_turn_single_function``, ...) |
| ``raw_id`` | the item's id in its source benchmark (the checker re-reads the item by it) |
| ``turn_index`` | BFCL turn (0 for single-turn items) |
| ``chat_history`` | Hermes messages: a system turn listing the tools, then the conversation |
| ``candidate`` | the assistant turn to critique and revise (``<tool_call>`` blocks, or text) |
| ``candidate_correct`` | the checker's verdict on ``candidate`` |
| ``error_operator`` | the error operator that made a wrong candidate (``""`` for a correct one) |
| ``error_type`` | the checker's error type for a wrong candidate (``""`` for a correct one) |
| ``checker_message`` | the checker's own message for a wrong candidate (the oracle critic's critique) |
| ``reference_response`` | a correct assistant turn (the ground truth, written as Hermes) |
| ``answer_kind`` | ``calls`` (a correct turn calls tools) or ``text`` (a correct turn is a text reply) |
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness_tasks import TASKS_DIR
from harness_tasks.input_boundary import DataFormatError, iter_lines, loads_json_line, read_bytes


DATA_DIR = TASKS_DIR / "trbench_selfcorrect" / "data"
ITEMS_FILE_NAME = "selfcorrect_items.jsonl.gz"
ITEMS_FILE = DATA_DIR / ITEMS_FILE_NAME
SOURCES = ("bfcl", "acebench")
ANSWER_KINDS = ("calls", "text")

_STRING_FIELDS = (
    "id",
    "source",
    "category",
    "raw_id",
    "candidate",
    "error_operator",
    "error_type",
    "checker_message",
    "reference_response",
    "answer_kind",
)
ITEM_FIELDS = (*_STRING_FIELDS, "turn_index", "chat_history", "candidate_correct")


class ItemFormatError(ValueError):
    """An item that does not have the expected shape; the message names file, line and field."""


def data_build(path: Path | None = None) -> str:
    """Identity of an item file, recorded in task metadata so results of different builds never mix."""
    return "selfcorrect:sha256:" + hashlib.sha256((path or ITEMS_FILE).read_bytes()).hexdigest()


def validate_item(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ItemFormatError(f"{where}: expected a JSON object, found {type(item).__name__}")
    for field in ITEM_FIELDS:
        if field not in item:
            raise ItemFormatError(f"{where}: missing field {field!r}")
    for field in _STRING_FIELDS:
        if not isinstance(item[field], str):
            raise ItemFormatError(
                f"{where}: field {field!r} must be a string, found {type(item[field]).__name__}"
            )
    if item["source"] not in SOURCES:
        raise ItemFormatError(f"{where}: field 'source' is {item['source']!r}; expected one of {SOURCES}")
    if item["answer_kind"] not in ANSWER_KINDS:
        raise ItemFormatError(
            f"{where}: field 'answer_kind' is {item['answer_kind']!r}; expected one of {ANSWER_KINDS}"
        )
    if not isinstance(item["candidate_correct"], bool):
        raise ItemFormatError(f"{where}: field 'candidate_correct' must be true or false")
    if not isinstance(item["turn_index"], int) or isinstance(item["turn_index"], bool):
        raise ItemFormatError(f"{where}: field 'turn_index' must be an integer")
    if item["candidate_correct"] == bool(item["error_operator"]):
        raise ItemFormatError(
            f"{where}: field 'error_operator' must be empty exactly when the candidate is correct "
            f"(candidate_correct={item['candidate_correct']}, error_operator={item['error_operator']!r})"
        )
    history = item["chat_history"]
    if not isinstance(history, list) or not history:
        raise ItemFormatError(f"{where}: field 'chat_history' must be a non-empty list of messages")
    for turn, message in enumerate(history):
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            raise ItemFormatError(f"{where}: chat_history[{turn}] must have string 'role' and 'content'")
    return item


def read_items(path: Path | None = None) -> list[dict[str, Any]]:
    """Read and validate an item file (gzip JSON lines); default: the shipped build."""
    path = path or ITEMS_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"self-correction items not found at {path}; build them with "
            "`python -m harness_tasks.trbench_selfcorrect.build`"
        )
    items, seen = [], set()
    try:
        data = read_bytes(path)
    except DataFormatError as error:
        raise ItemFormatError(str(error)) from None
    for line_no, raw in iter_lines(data):
        where = f"{path}, line {line_no}"
        try:
            item = loads_json_line(raw, where)
        except DataFormatError as error:
            raise ItemFormatError(str(error)) from None
        validate_item(item, where)
        if item["id"] in seen:
            raise ItemFormatError(f"{where}: field 'id' repeats {item['id']!r}")
        seen.add(item["id"])
        items.append(item)
    return items


def stratified_order(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Interleave categories so that any prefix (``--limit N``) holds them in proportion to their size.

    Within a category the file order is kept (the build shuffles it with its seed).
    """
    by_category: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_category.setdefault(f"{item['source']}/{item['category']}", []).append(item)
    keyed = [
        ((rank + 0.5) / len(members), name, rank, item)
        for name, members in by_category.items()
        for rank, item in enumerate(members)
    ]
    return [entry[-1] for entry in sorted(keyed, key=lambda entry: entry[:3])]
