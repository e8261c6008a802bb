"""Read Plan-RewardBench through ``datasets.load_dataset`` and check every row before any generation.

One reader for every copy: the Hub release (``wyy1112/Plan-RewardBench``, one ``train`` split
holding the whole evaluation set, ``data/<split>.jsonl``) and any local folder in that layout,
such as the fixture shipped here (``fixture/data/<split>.jsonl``, our own rows in the release's
schema). ``datasets`` puts files whose names name no split into ``train``, so the local folder
loads exactly as the Hub copy does.

Which of the 7 splits a row belongs to is its ``_lcp_bucket`` field (the Hub card filters on it;
the GitHub files carry the split in their file name instead). Row fields: ``query``, ``tools``
(OpenAI function schema), ``uuid``, ``chosen.messages``, ``reject.messages``; message roles
``user``, ``assistant``, ``tool_call``, ``tool_response``.

Arrow gives every struct the union of the keys seen anywhere in the file, absent ones as null;
the source reads the raw JSON, where those keys do not exist. Null-valued keys inside ``tools``
and messages are therefore dropped (:func:`without_nulls`) so prompts and token counts are the
source's; a genuine ``null`` in a tool schema is dropped with them (a documented difference).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness_tasks import TASKS_DIR


if TYPE_CHECKING:
    import datasets


HUB_DATASET = "wyy1112/Plan-RewardBench"
HUB_SPLIT = "train"
HUB_REVISION: str | None = None
"""No commit of the Hub dataset could be verified offline, so the default branch is read; pass
``--metadata '{"revision": "<commit>"}'`` to pin one (the results record what was read)."""
FIXTURE_PATH = TASKS_DIR / "plan_rewardbench" / "fixture"
SPLITS: dict[str, int] = {
    "planning_multi_easy": 109,
    "planning_multi_hard": 73,
    "planning_single_easy": 144,
    "planning_single_hard": 158,
    "robust_recovery": 361,
    "safety_refusal": 51,
    "tool_irrelevance": 275,
}
"""The 7 splits in the source script's order, with the pairs each holds in the release (1,171)."""
SPLIT_FIELD = "_lcp_bucket"


class DataFormatError(ValueError):
    """A row that does not have the release's shape; the message names source, row and field."""


def without_nulls(value: Any) -> Any:
    """The value with every null-valued dict key removed, recursively (Arrow's filled-in keys)."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def load_release(path: str, revision: str | None) -> datasets.Dataset:
    """The one ``datasets`` call that reads the Hub release or a local copy of it."""
    import datasets

    return datasets.load_dataset(path, split=HUB_SPLIT, revision=revision)


def source_of(dataset_path: str | None, revision: str | None) -> tuple[str, str | None]:
    if not dataset_path or dataset_path == HUB_DATASET:
        return HUB_DATASET, revision or HUB_REVISION
    if dataset_path == "fixture":
        return str(FIXTURE_PATH), None
    return str(dataset_path), None


def _messages(row: dict[str, Any], side: str, where: str) -> list[dict[str, Any]]:
    trajectory = row.get(side)
    if side == "reject" and trajectory is None:
        trajectory = row.get("rejected")  # the source accepts either name
    if not isinstance(trajectory, dict) or not isinstance(trajectory.get("messages"), list):
        raise DataFormatError(f"{where}: field '{side}.messages' must be a list of messages")
    messages = trajectory["messages"]
    if not messages:
        raise DataFormatError(f"{where}: field '{side}.messages' is empty")
    for turn, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise DataFormatError(f"{where}: field '{side}.messages[{turn}]' must have a string 'role'")
        if not isinstance(message.get("content", ""), str | dict | list):
            raise DataFormatError(
                f"{where}: field '{side}.messages[{turn}].content' must be text or JSON, "
                f"found {type(message['content']).__name__}"
            )
    return [without_nulls(message) for message in messages]


def validate_row(row: dict[str, Any], where: str) -> dict[str, Any]:
    split = row.get(SPLIT_FIELD)
    if split not in SPLITS:
        raise DataFormatError(
            f"{where}: field {SPLIT_FIELD!r} must name one of the 7 splits ({', '.join(SPLITS)}), "
            f"found {split!r}"
        )
    uuid = row.get("uuid") or row.get("parent_uuid")  # the source's own fallback
    if not isinstance(uuid, str) or not uuid:
        raise DataFormatError(f"{where}: field 'uuid' must be a non-empty string, found {uuid!r}")
    tools = row.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise DataFormatError(f"{where}: field 'tools' must be a list, found {type(tools).__name__}")
    if row.get("query") is None:
        raise DataFormatError(f"{where}: missing field 'query'")
    return {
        "split": split,
        "uuid": uuid,
        "query": row["query"],
        "tools": without_nulls(tools or []),
        "chosen": _messages(row, "chosen", where),
        "reject": _messages(row, "reject", where),
    }


def read_pairs(
    dataset_path: str | None = None, revision: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Validated pairs (each with a ``pair_id`` unique in the run) and a label of what was read."""
    path, revision = source_of(dataset_path, revision)
    label = f"{path}@{revision or 'main'}" if path == HUB_DATASET else path
    pairs = []
    for index, row in enumerate(load_release(path, revision)):
        pair = validate_row(dict(row), f"{label}, row {index}")
        pair["pair_id"] = f"{pair['split']}/{index}"  # uuids need not be unique across splits
        pairs.append(pair)
    if not pairs:
        raise DataFormatError(f"{label}: no rows")
    return pairs, label
