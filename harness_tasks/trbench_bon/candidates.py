"""The candidate-set layout: one row per item, N candidate next assistant turns with their correctness.

The same layout holds the shipped sets (``data/bon_candidates.jsonl.gz``) and sets sampled from a
user's own policy (``toolrm-bon-sample``), as JSON Lines (optionally gzip) or Parquet:

``item_id`` (str)
    ``"acebench:<ACEBench id>"`` or ``"bfcl:<BFCL id>"``; the source's item the candidates answer.
``source`` (str)
    ``"acebench"`` or ``"bfcl"``: whose checker scored the candidates.
``category`` (str)
    The source's category (``normal_atom_bool``, ``simple``, ...), for per-category metrics.
``chat_history`` (list of ``{role, content}``, optional)
    The conversation before the judged turn, system turn with the Hermes ``<tools>`` block first.
    When absent it is taken from the source (ACEBench: the shipped items; BFCL: ``bfcl-eval``).
``candidates`` (list, N entries, the same N on every row)
    ``text`` (str): the assistant turn as a judge reads it (Hermes ``<tool_call>`` blocks or text);
    ``correct`` (bool): the source checker's verdict; ``error_type`` (str or null): its error type
    when wrong; ``origin`` (str, optional): how the candidate was made (``policy:<model>``,
    ``ground_truth_variant:<kind>``, ``error_operator:<name>``); ``native`` (str, optional): the
    answer in the source's own format when that differs (ACEBench's Python-call list).

Candidate order matters: a Best-of-N task with ``n`` < N uses the first ``n`` candidates (samples
are exchangeable, so a prefix is a valid smaller draw), and ``acc_at_n_1`` is the first
candidate's correctness.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness_tasks.atomic_files import write_atomically
from harness_tasks.input_boundary import DataFormatError, UnreadableJSON, iter_lines, loads_json, read_bytes
from harness_tasks.tool_calls import parse_tool_calls


SOURCES = ("acebench", "bfcl")


class CandidateFileError(ValueError):
    """A candidate file breaks the layout; the message names the file, row and field."""


@dataclass(frozen=True)
class Candidate:
    text: str
    correct: bool
    error_type: str | None = None
    origin: str = ""
    native: str | None = None

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"text": self.text, "correct": self.correct, "error_type": self.error_type}
        if self.origin:
            row["origin"] = self.origin
        if self.native is not None:
            row["native"] = self.native
        return row


@dataclass(frozen=True)
class CandidateSet:
    item_id: str
    source: str
    category: str
    candidates: tuple[Candidate, ...]
    chat_history: tuple[dict[str, str], ...] | None = None
    where: str = ""
    """``<file>: row <n>`` it was read from (for error messages; not written)."""

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"item_id": self.item_id, "source": self.source, "category": self.category}
        if self.chat_history is not None:
            row["chat_history"] = [dict(m) for m in self.chat_history]
        row["candidates"] = [c.to_dict() for c in self.candidates]
        return row


def _field(row: dict, name: str, kind: type | tuple[type, ...], where: str, *, optional: bool = False) -> Any:
    if name not in row or row[name] is None:
        if optional:
            return None
        raise CandidateFileError(f"{where}: field {name!r} is missing")
    value = row[name]
    if not isinstance(value, kind) or (kind is str and not value and not optional):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CandidateFileError(
            f"{where}: field {name!r} should be a non-empty {names}, found {value!r:.80}"
        )
    return value


def _check_correct_label(text: str, error_type: str | None, here: str) -> None:
    """What any source checker requires of a candidate it passed, checked without the checker.

    Both checkers fail a turn whose ``<tool_call>`` block is not ``{"name", "arguments"}`` JSON
    (BFCL: its AST decoder; ACEBench: the call cannot be parsed), and a checker's pass carries no
    error type. A label that breaks either is a file error, found before the first generation.
    ``tests/test_bon_tasks.py`` runs the real checkers over every shipped candidate.
    """
    if error_type is not None:
        raise CandidateFileError(
            f"{here}.correct' is true but 'error_type' is {error_type!r} (a passed candidate has none)"
        )
    parsed = parse_tool_calls(text)
    if parsed.malformed:
        raise CandidateFileError(
            f"{here}.correct' is true but its text holds a malformed tool call "
            f"({parsed.malformed[0][:80]!r}); the source checker fails such a turn"
        )


def parse_row(row: Any, where: str) -> CandidateSet:
    if not isinstance(row, dict):
        raise CandidateFileError(f"{where}: the row is not an object")
    item_id = _field(row, "item_id", str, where)
    source = _field(row, "source", str, where)
    if source not in SOURCES:
        raise CandidateFileError(f"{where}: field 'source' is {source!r}, expected one of {SOURCES}")
    if not item_id.startswith(source + ":"):
        raise CandidateFileError(f"{where}: field 'item_id' {item_id!r} should start with '{source}:'")
    category = _field(row, "category", str, where)
    history = _field(row, "chat_history", list, where, optional=True)
    if history is not None:
        for index, message in enumerate(history):
            if not (
                isinstance(message, dict)
                and isinstance(message.get("role"), str)
                and isinstance(message.get("content"), str)
            ):
                raise CandidateFileError(
                    f"{where}: field 'chat_history[{index}]' is not a {{role, content}} message"
                )
        history = tuple({"role": m["role"], "content": m["content"]} for m in history)
    raw_candidates = _field(row, "candidates", list, where)
    if not raw_candidates:
        raise CandidateFileError(f"{where}: field 'candidates' is empty")
    candidates = []
    for index, entry in enumerate(raw_candidates):
        here = f"{where}: field 'candidates[{index}]"
        if not isinstance(entry, dict):
            raise CandidateFileError(f"{here}' is not an object")
        if not isinstance(entry.get("text"), str):
            raise CandidateFileError(f"{here}.text' is missing or not a string")
        if not entry["text"].strip():
            raise CandidateFileError(f"{here}.text' is empty (a candidate is a non-empty assistant turn)")
        if "correct" not in entry or entry["correct"] is None:
            raise CandidateFileError(f"{here}.correct' is missing (the source checker's verdict)")
        if not isinstance(entry["correct"], bool):
            raise CandidateFileError(f"{here}.correct' should be true or false, found {entry['correct']!r}")
        error_type = entry.get("error_type")
        if error_type is not None and not isinstance(error_type, str):
            raise CandidateFileError(f"{here}.error_type' should be a string or null")
        if entry["correct"]:
            _check_correct_label(entry["text"], error_type, here)
        candidates.append(
            Candidate(
                entry["text"],
                entry["correct"],
                error_type,
                str(entry.get("origin") or ""),
                entry.get("native") if isinstance(entry.get("native"), str) else None,
            )
        )
    return CandidateSet(item_id, source, category, tuple(candidates), history, where)


def _rows_of(path: Path) -> Iterable[tuple[int, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for row_no, row in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield row_no, row
        return
    try:
        data = read_bytes(path)
    except DataFormatError as error:
        raise CandidateFileError(str(error)) from None
    for row_no, raw in iter_lines(data):
        try:  # not JSON, nested too deep, an overlong number, a byte that is not UTF-8
            yield row_no, loads_json(raw)
        except UnreadableJSON as error:
            raise CandidateFileError(f"{path}: row {row_no}: not JSON ({error})") from None


def read_candidate_file(path: str | Path) -> list[CandidateSet]:
    """Every row, validated: same N on every row, no repeated item (errors name file, row, field)."""
    path = Path(path)
    if not path.is_file():
        raise CandidateFileError(f"{path}: no such candidate file")
    sets: list[CandidateSet] = []
    seen: dict[str, int] = {}
    first_n: tuple[int, int] | None = None
    for row_no, row in _rows_of(path):
        where = f"{path}: row {row_no}"
        candidate_set = parse_row(row, where)
        n = len(candidate_set.candidates)
        if first_n is None:
            first_n = (n, row_no)
        elif n != first_n[0]:
            raise CandidateFileError(
                f"{where}: field 'candidates' has {n} entries, but row {first_n[1]} has {first_n[0]} "
                "(every row needs the same N)"
            )
        if candidate_set.item_id in seen:
            item_id, earlier = candidate_set.item_id, seen[candidate_set.item_id]
            raise CandidateFileError(f"{where}: field 'item_id' {item_id!r} repeats row {earlier}")
        seen[candidate_set.item_id] = row_no
        sets.append(candidate_set)
    if not sets:
        raise CandidateFileError(f"{path}: the file holds no rows")
    return sets


def candidate_data_build(path: str | Path, shipped: str | Path | None = None) -> str:
    """A candidate file's ``data_build``: its content digest, ``bon:embedded:`` when it is the shipped file.

    Results record it, so a run on a user's own sets never reads as a run on the shipped ones and
    the leaderboard never ranks the two in one table.
    """
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    shipped_digest = hashlib.sha256(Path(shipped).read_bytes()).hexdigest() if shipped else None
    return f"bon:{'embedded:' if digest == shipped_digest else 'file:'}sha256:{digest}"


def encode_jsonl_gz(sets: Iterable[CandidateSet]) -> bytes:
    """Byte-reproducible gzip JSON Lines (mtime 0, no file name)."""
    import io

    payload = "".join(json.dumps(s.to_dict(), ensure_ascii=False) + "\n" for s in sets).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(payload)
    return buffer.getvalue()


def write_candidate_file(sets: list[CandidateSet], path: str | Path) -> Path:
    """Atomic write (temp file, then rename): ``.parquet``, ``.jsonl.gz`` or ``.jsonl``."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist([s.to_dict() for s in sets]), sink)
        data = sink.getvalue().to_pybytes()
    elif path.suffix == ".gz":
        data = encode_jsonl_gz(sets)
    else:
        data = "".join(json.dumps(s.to_dict(), ensure_ascii=False) + "\n" for s in sets).encode("utf-8")
    return write_atomically(path, data)
