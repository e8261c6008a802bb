"""Read raw rows from JSONL/JSON/Parquet files and Hub datasets, and tell which shape each row has.

Readers only yield ``(row, location)``; turning a row into a trajectory is :mod:`.normalise`'s job.
A row that cannot be read (bad JSON, not an object) is a counted skip naming file and line, never a
silent loss. Shapes recognised, by their keys:

* ``openai``: ``{"messages": [...], "tools": [...]}`` (OpenAI chat messages, ``tool_calls``);
* ``sharegpt``: ``{"conversations": [{"from": ..., "value": ...}], "tools": ...}`` (LLaMA-Factory /
  Hermes-Function-Calling style, tools as a list, a JSON string, or a ``<tools>`` system block);
* ``bfcl``: ``{"id", "question", "function"}`` (BFCL questions; the ground truth is the row's
  ``ground_truth`` or, for a BFCL data file, the matching line of its answer file, found by
  :func:`harness_tasks.bfcl_files.answer_file_beside`);
* ``xlam``: ``{"query", "tools", "answers"}`` (APIGen / xlam-function-calling-60k).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness_tasks import bfcl_files
from harness_tasks.input_boundary import UnreadableJSON, decode_json_at, loads_json
from toolrm_train.toolpref.issues import IssueLog


SHAPES = ("openai", "sharegpt", "bfcl", "xlam")
HUB_PREFIX = "hub:"


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
    """A BFCL data file → its category (``simple_python``); ``my_data.jsonl.gz`` → ``my_data``."""
    name = path.name
    for suffix in (".gz", ".jsonl", ".json", ".parquet"):
        name = name.removesuffix(suffix)
    return bfcl_files.category_of_file_stem(name)


def _read_bytes(path: Path) -> tuple[bytes, str | None]:
    """The file's bytes, and what went wrong if it could not be read to the end.

    A ``.gz`` file cut short keeps what was decompressed before the damage (up to its last whole
    line, so no half row is read as a row).
    """
    if path.suffix != ".gz":
        return path.read_bytes(), None
    chunks = []
    try:
        with gzip.open(path, "rb") as handle:
            while chunk := handle.read1(1 << 16):  # read1: what is there, so a cut file keeps its head
                chunks.append(chunk)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        data = b"".join(chunks)
        return data[: data.rfind(b"\n") + 1], str(error) or type(error).__name__
    return b"".join(chunks), None


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
"""``surrogateescape`` turns each byte that is not UTF-8 into one of these code points."""


def _bad_utf8_detail(data: bytes) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"byte 0x{data[error.start]:02x} at byte {error.start + 1} of the line is not UTF-8"
    return "not UTF-8"


def _iter_json_lines(data: bytes, name: str, log: IssueLog) -> Iterator[tuple[Any, str]]:
    """One JSON value per line. Lines are split on ``\n`` only: ``str.splitlines`` also splits on
    U+2028/U+2029 (and ``\x1c``-``\x1e``, ``\x85``), which JSON strings may hold unescaped."""
    for line_no, raw_line in enumerate(data.split(b"\n"), start=1):
        if not raw_line.strip():
            continue
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError:
            log.skip("read", "invalid_utf8", f"{name}, line {line_no}", detail=_bad_utf8_detail(raw_line))
            continue
        if line_no == 1:
            line = line.removeprefix("\ufeff")  # a byte-order mark some editors write
        try:
            row = loads_json(line)
        except UnreadableJSON as error:
            log.skip("read", "invalid_json", f"{name}, line {line_no}", detail=str(error))
            continue
        yield row, f"{name}, line {line_no}"


def _skip_value(text: str, position: int) -> int:
    """Index of the ``,`` or ``]`` ending the (malformed) array element at ``position``, or ``len(text)``.

    Brackets and strings are tracked, so a comma inside a nested object or a string does not end it.
    """
    depth = 0
    in_string = escaped = False
    for index in range(position, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            if depth == 0:
                return index
            depth -= 1
        elif char == "," and depth == 0:
            return index
    return len(text)


def _iter_json_array(data: bytes, name: str, log: IssueLog) -> Iterator[tuple[Any, str]]:
    """Elements of one JSON array, each decoded on its own: a bad element (invalid JSON, bytes that
    are not UTF-8) is one counted skip naming its row and line, and the elements after it are read."""
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    position = _WHITESPACE.match(text, 0).end() + 1  # past "["
    line, counted_to = 1, 0
    index = 0

    def line_at(offset: int) -> int:
        nonlocal line, counted_to
        line += text.count("\n", counted_to, offset)
        counted_to = offset
        return line

    position = _WHITESPACE.match(text, position).end()
    if text.startswith("]", position):
        return
    while True:
        start = _WHITESPACE.match(text, position).end()
        where = f"{name}, row {index}"
        if start >= len(text):
            log.skip("read", "invalid_json", where, detail=f"line {line_at(start)}: the array is not closed")
            return
        try:
            row, end = decode_json_at(text, start)
            problem = None
        except UnreadableJSON as error:
            row, end, problem = None, _skip_value(text, start), str(error)
        after = _WHITESPACE.match(text, end).end()
        if problem is None and not text.startswith((",", "]"), after):
            problem = f"expected ',' or ']' after the element, found {text[after : after + 20]!r}"
            end = after = _skip_value(text, after)
        if problem is not None:
            log.skip(
                "read", "invalid_json", where, detail=f"element starting on line {line_at(start)}: {problem}"
            )
        elif _ESCAPED_BYTE.search(text, start, end):
            bad = _ESCAPED_BYTE.search(text, start, end)
            assert bad is not None
            byte = ord(bad.group(0)) - 0xDC00
            log.skip(
                "read",
                "invalid_utf8",
                where,
                detail=f"byte 0x{byte:02x} on line {line_at(bad.start())} is not UTF-8",
            )
        else:
            yield row, where
        index += 1
        if after >= len(text):
            log.skip("read", "invalid_json", f"{name}, row {index}", detail="the array is not closed")
            return
        if text[after] == "]":
            rest = _WHITESPACE.match(text, after + 1).end()
            if rest < len(text):
                log.skip("read", "invalid_json", name, detail=f"line {line_at(rest)}: data after the array")
            return
        position = after + 1


def _iter_json_file(path: Path, log: IssueLog, name: str | None = None) -> Iterator[tuple[Any, str]]:
    """JSON lines, or one JSON array of rows (``.json`` files holding a list)."""
    name = name or str(path)
    try:
        data, damage = _read_bytes(path)
    except OSError as error:  # an unreadable file (permissions, a folder)
        log.skip("read", "unreadable_file", name, detail=str(error))
        return
    if damage is not None:
        log.skip("read", "unreadable_file", name, detail=f"{damage}; rows after the damage are lost")
    if data.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"["):
        yield from _iter_json_array(data, name, log)
    else:
        yield from _iter_json_lines(data, name, log)


def _iter_parquet_file(path: Path, name: str, log: IssueLog) -> Iterator[tuple[Any, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                yield row, f"{name}, row {index}"
                index += 1
    except (OSError, pa.ArrowException) as error:  # not Parquet, truncated, corrupt pages
        log.skip("read", "unreadable_file", f"{name}, row {index}", detail=f"rows from here on: {error}")


def _bfcl_answers(question_file: Path, log: IssueLog) -> dict[str, Any]:
    answer_file = bfcl_files.answer_file_beside(question_file)
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
    rows = (
        _iter_parquet_file(path, name, log) if path.suffix == ".parquet" else _iter_json_file(path, log, name)
    )
    source = source_name_for(path)
    answers: dict[str, Any] | None = None
    skips_before, seen_rows = log.total, 0
    for row, where in rows:
        seen_rows += 1
        if not isinstance(row, dict):
            log.skip("read", "not_an_object", where, detail=f"found {type(row).__name__}")
            continue
        if detect_shape(row) == "bfcl" and "ground_truth" not in row:
            if answers is None:
                answers = _bfcl_answers(path, log)
            if str(row.get("id")) in answers:
                row = {**row, "ground_truth": answers[str(row.get("id"))]}
        yield RawRow(row, where, source)
    if seen_rows == 0 and log.total == skips_before:
        log.skip("read", "empty_file", name, detail="the file holds no rows")


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
