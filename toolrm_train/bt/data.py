"""Preference pairs for the Bradley-Terry trainer: read, validate, split, tokenize.

Input layouts (one row per pair; detected per file, nothing to configure):

* the DiscRM Parquet that ``toolrm-data build`` writes (``toolpref_{train,test}_disc.parquet``):
  ``chosen`` / ``rejected`` = full message lists (history + final assistant turn), plus
  ``chosen_score``, ``rejected_score``, ``reward_difference``, ``context_id`` and more;
* the released ToolPref-Pairwise-30K discriminative layout (OpenRLHF ``--chosen_key chosen
  --rejected_key rejected --apply_chat_template``): ``chosen`` / ``rejected`` message lists and
  their scores. Same columns, so the same reader; other column names via ``chosen_key`` /
  ``rejected_key``.

Files: ``.parquet``, ``.jsonl`` (one object per line) or ``.json`` (a list of objects). A folder
made by ``toolrm-data build`` stands for its ``toolpref_train_disc.parquet`` (and, as the held-out
set, its ``toolpref_test_disc.parquet``).

Nothing is dropped silently: a row whose messages are malformed (not a list, a message without a
string ``role``/``content``, no final assistant turn), whose chosen and rejected conversations are
identical, or whose rendering is longer than ``max_length`` tokens is a counted skip naming file,
row and field (:class:`toolrm_train.toolpref.issues.IssueLog`; ``strict`` turns the first into an
error). Long pairs are skipped, never truncated: a truncated conversation loses the reply the
reward is read at.

Conversations are rendered and tokenized by
:class:`harness_tasks.models.rm_rendering.ConversationEncoder`, the code ``hf-rm`` and ``vllm-rm``
score with, so a trained model is evaluated on exactly the token ids it was trained on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness_tasks.input_boundary import iter_json_lines, read_json_file
from harness_tasks.models.rm_rendering import ConversationEncoder
from harness_tasks.trbench_bfcl.dataset import DataFormatError
from toolrm_train.bt.packing import TokenizedPair
from toolrm_train.toolpref.issues import IssueLog


TRAIN_FILE = "toolpref_train_disc.parquet"
TEST_FILE = "toolpref_test_disc.parquet"


@dataclass(frozen=True)
class PreferencePair:
    chosen: list[dict[str, str]]
    """History + chosen assistant turn."""
    rejected: list[dict[str, str]]
    margin: float
    """Value of the margin column (0.0 when no margin is used)."""
    group: str
    """What must not straddle a train/held-out split: the context id, or a hash of the history."""
    where: str


def resolve_data_file(path: str | Path, split: str = "train") -> Path:
    """A file as given, or the DiscRM file of that split inside a ``toolrm-data build`` folder."""
    path = Path(path)
    if path.is_dir():
        candidate = path / (TRAIN_FILE if split == "train" else TEST_FILE)
        if not candidate.is_file():
            raise FileNotFoundError(
                f"{path}: a folder of training data must hold {candidate.name} "
                "(the DiscRM export of `toolrm-data build`)"
            )
        return candidate
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such data file")
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a Parquet / JSONL / JSON file as dicts; a bad line is an error naming it."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if suffix == ".jsonl":
        return [row for _, row in iter_json_lines(path)]
    if suffix == ".json":
        data = read_json_file(path)
        if not isinstance(data, list):
            raise DataFormatError(f"{path}: a .json data file must hold a list of rows")
        return data
    raise DataFormatError(f"{path}: unknown data file type {suffix!r} (expected .parquet, .jsonl or .json)")


def _messages(value: Any, where: str, key: str, issues: IssueLog) -> list[dict[str, str]] | None:
    if not isinstance(value, list | tuple) or not value:
        issues.skip("read", "invalid_messages", where, key, "expected a non-empty list of messages")
        return None
    messages = []
    for turn, message in enumerate(value):
        if not isinstance(message, dict):
            issues.skip("read", "invalid_message", where, f"{key}[{turn}]", "expected an object")
            return None
        for name in ("role", "content"):
            if not isinstance(message.get(name), str):
                found = type(message.get(name)).__name__
                issues.skip("read", "invalid_message", where, f"{key}[{turn}].{name}", f"found {found}")
                return None
        messages.append({"role": message["role"], "content": message["content"]})
    if messages[-1]["role"] != "assistant":
        issues.skip("read", "no_final_assistant_turn", where, f"{key}[{len(messages) - 1}].role")
        return None
    return messages


def _history_hash(messages: list[dict[str, str]]) -> str:
    text = json.dumps(messages[:-1], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_pairs(
    path: str | Path,
    issues: IssueLog,
    *,
    chosen_key: str = "chosen",
    rejected_key: str = "rejected",
    margin_key: str | None = None,
    split: str = "train",
) -> list[PreferencePair]:
    """Valid pairs of one file (or build folder), in file order; the rest counted in ``issues``."""
    file = resolve_data_file(path, split)
    pairs = []
    for index, row in enumerate(read_rows(file)):
        where = f"{file}, row {index}"
        if not isinstance(row, dict):
            issues.skip("read", "not_an_object", where)
            continue
        missing = [key for key in (chosen_key, rejected_key) if key not in row]
        if missing:
            issues.skip("read", "missing_field", where, missing[0])
            continue
        chosen = _messages(row[chosen_key], where, chosen_key, issues)
        rejected = _messages(row[rejected_key], where, rejected_key, issues) if chosen else None
        if chosen is None or rejected is None:
            continue
        if chosen == rejected:
            issues.skip("read", "identical_pair", where, rejected_key, "chosen and rejected are the same")
            continue
        margin = 0.0
        if margin_key is not None:
            value = row.get(margin_key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                issues.skip("read", "invalid_margin", where, margin_key, f"found {value!r}")
                continue
            margin = float(value)
        group = str(row["context_id"]) if row.get("context_id") is not None else _history_hash(chosen)
        pairs.append(PreferencePair(chosen, rejected, margin, group, where))
    return pairs


def split_held_out(
    pairs: Sequence[PreferencePair], fraction: float, seed: int
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(train, held_out): whole groups (contexts) go to one side, chosen by a seeded hash."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"held-out fraction must be in (0, 1), found {fraction}")

    def key(group: str) -> str:
        return hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()

    groups = sorted({pair.group for pair in pairs}, key=key)
    n_held = max(1, round(fraction * len(groups))) if len(groups) > 1 else 0
    held = set(groups[:n_held])
    return [p for p in pairs if p.group not in held], [p for p in pairs if p.group in held]


def tokenize_pairs(
    pairs: Sequence[PreferencePair], encoder: ConversationEncoder, max_length: int, issues: IssueLog
) -> list[TokenizedPair]:
    """Token ids of both conversations per pair; pairs with a side over ``max_length`` are skipped."""
    if not pairs:
        return []
    conversations = [conv for pair in pairs for conv in (pair.chosen, pair.rejected)]
    wheres = [f"{pair.where}, {side}" for pair in pairs for side in ("chosen", "rejected")]
    ids = encoder.encode(conversations, wheres)
    tokenized = []
    for index, pair in enumerate(pairs):
        chosen_ids, rejected_ids = ids[2 * index], ids[2 * index + 1]
        longest = max(len(chosen_ids), len(rejected_ids))
        if longest > max_length:
            issues.skip("tokenize", "too_long", pair.where, "", f"{longest} tokens > max_length {max_length}")
            continue
        if chosen_ids == rejected_ids:
            issues.skip("tokenize", "identical_tokens", pair.where, "", "both sides render the same tokens")
            continue
        tokenized.append(TokenizedPair(tuple(chosen_ids), tuple(rejected_ids), pair.margin, pair.where))
    return tokenized
