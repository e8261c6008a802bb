"""Read raw rows from JSONL/JSON/Parquet files and Hub datasets, and tell which shape each row has.

Readers only yield ``(row, location)``; turning a row into a trajectory is :mod:`.normalise`'s job.
A row that cannot be read (bad JSON, not an object) is a counted skip naming file and line, never a
silent loss. Shapes recognised, by their keys:

* ``openai``: ``{"messages": [...], "tools": [...]}`` (OpenAI chat messages, ``tool_calls``);
* ``sharegpt``: ``{"conversations": [{"from": ..., "value": ...}], "tools": ...}`` (LLaMA-Factory /
  Hermes-Function-Calling style, tools as a list, a JSON string, or a ``<tools>`` system block);
* ``bfcl``: ``{"id", "question", "function"}`` (BFCL questions; the ground truth is the row's
  ``ground_truth`` or, for a BFCL data file, the matching line of ``possible_answer/<same name>``);
* ``xlam``: ``{"query", "tools", "answers"}`` (APIGen / xlam-function-calling-60k).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolrm_train.data.issues import IssueLog


SHAPES = ("openai", "sharegpt", "bfcl", "xlam")
HUB_PREFIX = "hub:"
_BFCL_STEM = re.compile(r"^BFCL_v\d+_")


@dataclass(frozen=True)
class RawRow:
    row: dict[str, Any]
    where: str
    """``<file>, line N`` (JSON lines), ``<file>, row N`` (Parquet, JSON arrays, Hub)."""
    default_source: str
    """Source name for rows that do not carry their own ``source`` field: the file's stem."""


def detect_shape(row: dict[str, Any]) -> str | None:
    """Which of :data:`SHAPES` a row has, or ``None``."""
    if isinstance(row.get("messages"), list):
        return "openai"
    if isinstance(row.get("conversations"), list):
        return "sharegpt"
    if "question" in row and "function" in row:
        return "bfcl"
    if "query" in row and "answers" in row:
        return "xlam"
    return None


def source_name_for(path: Path) -> str:
    """``BFCL_v4_simple_python.json`` → ``simple_python``; ``my_data.jsonl.gz`` → ``my_data``."""
    name = path.name
    for suffix in (".gz", ".jsonl", ".json", ".parquet"):
        name = name.removesuffix(suffix)
    return _BFCL_STEM.sub("", name)


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def _iter_json_file(path: Path, log: IssueLog, name: str | None = None) -> Iterator[tuple[Any, str]]:
    """JSON lines, or one JSON array of rows (``.json`` files holding a list)."""
    name = name or str(path)
    with _open_text(path) as handle:
        text = handle.read()
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as error:
            log.skip("read", "invalid_json", name, detail=str(error))
            return
        if not isinstance(rows, list):
            log.skip("read", "not_a_list_of_rows", name, detail=f"found {type(rows).__name__}")
            return
        for index, row in enumerate(rows):
            yield row, f"{name}, row {index}"
        return
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            log.skip("read", "invalid_json", f"{name}, line {line_no}", detail=str(error))
            continue
        yield row, f"{name}, line {line_no}"


def _iter_parquet_file(path: Path, name: str) -> Iterator[tuple[Any, str]]:
    import pyarrow.parquet as pq

    index = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            yield row, f"{name}, row {index}"
            index += 1


def bfcl_answer_file(question_file: Path) -> Path | None:
    """BFCL keeps ground truths in ``possible_answer/<same file name>`` beside (or above) the questions."""
    for directory in (question_file.parent, question_file.parent.parent):
        candidate = directory / "possible_answer" / question_file.name
        if candidate.exists() and candidate != question_file:
            return candidate
    return None


def _bfcl_answers(question_file: Path, log: IssueLog) -> dict[str, Any]:
    answer_file = bfcl_answer_file(question_file)
    if answer_file is None:
        return {}
    answers = {}
    for row, _where in _iter_json_file(answer_file, log):
        if isinstance(row, dict) and "id" in row:
            answers[str(row["id"])] = row.get("ground_truth")
    return answers


def read_file(path: Path, log: IssueLog, name: str | None = None) -> Iterator[RawRow]:
    """Rows of one JSONL / JSON / Parquet file (gzip allowed for JSON); ``name`` is how messages cite it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    name = name or str(path)
    rows = _iter_parquet_file(path, name) if path.suffix == ".parquet" else _iter_json_file(path, log, name)
    source = source_name_for(path)
    answers: dict[str, Any] | None = None
    for row, where in rows:
        if not isinstance(row, dict):
            log.skip("read", "not_an_object", where, detail=f"found {type(row).__name__}")
            continue
        if detect_shape(row) == "bfcl" and "ground_truth" not in row:
            if answers is None:
                answers = _bfcl_answers(path, log)
            if str(row.get("id")) in answers:
                row = {**row, "ground_truth": answers[str(row.get("id"))]}
        yield RawRow(row, where, source)


def parse_hub_spec(spec: str) -> tuple[str, str | None, str]:
    """``hub:owner/name[@config][:split]`` → (name, config, split); split defaults to ``train``."""
    body = spec.removeprefix(HUB_PREFIX)
    split = "train"
    if ":" in body:
        body, split = body.rsplit(":", 1)
    config = None
    if "@" in body:
        body, config = body.split("@", 1)
    return body, config, split


def read_hub(spec: str, log: IssueLog) -> Iterator[RawRow]:
    """Rows of a Hub dataset (needs network or a local cache); ``spec`` as in :func:`parse_hub_spec`."""
    import datasets

    name, config, split = parse_hub_spec(spec)
    dataset = datasets.load_dataset(name, config, split=split)
    source = name.rsplit("/", 1)[-1]
    for index, row in enumerate(dataset):
        if not isinstance(row, dict):
            log.skip("read", "not_an_object", f"{spec}, row {index}")
            continue
        yield RawRow(dict(row), f"{spec}, row {index}", source)


def read_input(spec: str, log: IssueLog) -> Iterator[RawRow]:
    """One input: a file path or ``hub:<dataset>``."""
    if spec.startswith(HUB_PREFIX):
        yield from read_hub(spec, log)
    else:
        yield from read_file(Path(spec), log)
