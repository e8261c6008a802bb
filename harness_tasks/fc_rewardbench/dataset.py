"""Read FC-RewardBench through ``datasets.load_dataset`` and turn its pairs into task documents.

One reader for every copy: the Hub release (``ibm-research/fc-reward-bench``, split ``data``, at a
pinned revision) and any local folder in the release's layout, such as the fixture shipped here
(``fixture/data/data-00000-of-00001.jsonl``: ``datasets`` names the split ``data`` from the file
name, as it does for the Hub's ``data/data-00000-of-00001.arrow``). Rows are validated before any
generation; an error names the source, the row and the field.

Release fields: ``tools``, ``conversation``, ``chosen_output``, ``rejected_output``,
``error_type``, ``model_name``, ``test_category``, ``test_id``. The dataset card does not say
whether ``tools`` and the outputs are JSON text or structured values, so both are accepted and
structured values are shown as JSON.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from harness_tasks import TASKS_DIR


if TYPE_CHECKING:
    import datasets


HUB_DATASET = "ibm-research/fc-reward-bench"
HUB_SPLIT = "data"
HUB_REVISION = "269929c3329e603e87ed3203de42896cc03ddbf3"
"""The release of 2025-09-22 (1,500 pairs); the revision Granite Guardian's numbers were read at."""
FIXTURE_PATH = TASKS_DIR / "fc_rewardbench" / "fixture"
"""Our own rows in the release's schema (not release data), for offline runs and tests."""
FIELDS = (
    "tools",
    "conversation",
    "chosen_output",
    "rejected_output",
    "error_type",
    "model_name",
    "test_category",
    "test_id",
)
ERROR_TYPES = (
    "Parameter value error",
    "Incorrect function name",
    "Incorrect number of function calls",
    "Missing optional parameter",
    "Missing required parameter",
    "Parameter value type error",
    "Unexpected parameter",
    "Parsing error",
)
"""The eight error types of the dataset card's table, in its order (largest first)."""
CATEGORIES = (
    "simple",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
)
"""BFCL v3 single-turn categories (FC-RewardBench is built from the single-turn splits)."""
OTHER = "other"


class DataFormatError(ValueError):
    """A row that does not have the release's shape; the message names source, row and field."""


def slug(label: str) -> str:
    """``"Parameter value error"`` -> ``parameter_value_error``: a metric-name-safe key."""
    return re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")


ERROR_TYPE_KEYS = tuple(slug(name) for name in ERROR_TYPES)


def error_type_key(value: str) -> str:
    """The metric key of an error type; a type the card does not list is reported as ``other``."""
    key = slug(value)
    return key if key in ERROR_TYPE_KEYS else OTHER


def category_key(value: str) -> str:
    """The metric key of a BFCL category (``BFCL_v3_live_simple`` and ``live_simple`` alike)."""
    key = slug(value)
    key = re.sub(r"^bfcl_v\d+_", "", key)
    return key if key in CATEGORIES else OTHER


def as_text(value: Any) -> str:
    """A field shown to a judge: text as is, a structured value as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def load_release(path: str, revision: str | None) -> datasets.Dataset:
    """The one ``datasets`` call that reads the Hub release or a local copy of it."""
    import datasets

    return datasets.load_dataset(path, split=HUB_SPLIT, revision=revision)


def source_of(dataset_path: str | None) -> tuple[str, str | None]:
    """``(path, revision)``: the pinned Hub release unless ``dataset_path`` names another copy."""
    if not dataset_path or dataset_path == HUB_DATASET:
        return HUB_DATASET, HUB_REVISION
    if dataset_path == "fixture":
        return str(FIXTURE_PATH), None
    return str(dataset_path), None


def validate_rows(rows: Any, source: str) -> list[dict[str, Any]]:
    """Check every row before any generation: all eight fields, with usable types."""
    checked = []
    for index, row in enumerate(rows):
        where = f"{source}, row {index}"
        for field in FIELDS:
            if field not in row or row[field] is None:
                raise DataFormatError(f"{where}: missing field {field!r}")
        for field in ("error_type", "model_name", "test_category", "test_id"):
            if not isinstance(row[field], str):
                raise DataFormatError(
                    f"{where}: field {field!r} must be a string, found {type(row[field]).__name__}"
                )
        conversation = row["conversation"]
        if not isinstance(conversation, list) or not conversation:
            raise DataFormatError(f"{where}: field 'conversation' must be a non-empty list of messages")
        for turn, message in enumerate(conversation):
            if not isinstance(message, dict) or not all(
                isinstance(message.get(key), str) for key in ("role", "content")
            ):
                raise DataFormatError(
                    f"{where}: field 'conversation[{turn}]' must have string 'role' and 'content'"
                )
        if conversation[-1]["role"] != "user":
            raise DataFormatError(
                f"{where}: field 'conversation' must end with the user turn the outputs answer, "
                f"found role {conversation[-1]['role']!r}"
            )
        for field in ("chosen_output", "rejected_output"):
            if not as_text(row[field]).strip():
                raise DataFormatError(f"{where}: field {field!r} is empty")
        checked.append(dict(row))
    if not checked:
        raise DataFormatError(f"{source}: no rows")
    return checked


def read_pairs(dataset_path: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """Validated release rows and a label of what was read (recorded with the results)."""
    path, revision = source_of(dataset_path)
    label = f"{path}@{revision}" if revision else path
    return validate_rows(load_release(path, revision), label), label


def tools_system_message(tools: Any) -> dict[str, str]:
    """The tool list as a system turn, the way the ToolRM prompt and RM chat templates expect it."""
    return {
        "role": "system",
        "content": "You may call one or more of these functions to answer the user:\n" + as_text(tools),
    }


def pair_fields(row: dict[str, Any], index: int) -> dict[str, Any]:
    """What every document of a pair carries: its id and the keys its metrics group by."""
    return {
        "pair_id": str(index),
        "test_id": row["test_id"],
        "error_type": row["error_type"],
        "error_type_key": error_type_key(row["error_type"]),
        "test_category": row["test_category"],
        "category_key": category_key(row["test_category"]),
        "model_name": row["model_name"],
    }
