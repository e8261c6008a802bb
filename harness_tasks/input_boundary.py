"""The one boundary every file and every model output crosses before the product reads it.

Why one module: ``json.loads`` fails in more ways than ``JSONDecodeError``. Valid JSON nested about
1,000 levels deep raises ``RecursionError``; an integer of more than 4,300 digits raises a plain
``ValueError`` (Python's digit limit); a byte that is not UTF-8 - including a multi-byte character
cut at the end of a file - raises ``UnicodeDecodeError``. Readers that caught ``JSONDecodeError``
alone crashed on each of these, often after every generation was done. Here every failure becomes
one of two errors, and nothing else escapes:

- :class:`UnreadableJSON`, a ``json.JSONDecodeError``: a text that is not readable JSON within the
  bounds (:data:`MAX_JSON_DEPTH` levels, :data:`MAX_JSON_CHARS` characters). Parsers of model
  output catch it and score the task's documented "unparseable" outcome; readers of files turn it
  into a :class:`DataFormatError` or a counted skip that names file, row and field.
- :class:`DataFormatError`: a file that cannot be read; the message names file, row (line) and,
  where there is one, the field.

Every check is linear in the input: the depth bound is measured before decoding (brackets outside
strings), so the decoder never recurses deeper than the bound, and anything decoded from here is
safe to walk recursively. ``tests/test_input_boundary.py`` feeds the hostile inputs to every reader
and parser, and fails when any module outside this one calls ``json.loads`` or ``json.load``.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import Any


MAX_JSON_DEPTH = 100
"""Deepest nesting of arrays and objects accepted. Real tool calls, data rows and result files
nest fewer than 20 levels; 100 leaves room and keeps every recursive walk of a decoded value far
below Python's recursion limit even when called deep inside lm-eval."""
MAX_JSON_CHARS = 256 * 2**20
"""Largest JSON text accepted (characters): bounds the memory one row or one result file can take."""
MAX_INT_DIGITS = 18
"""Longest integer :func:`parse_bounded_int` reads: any index or count the product uses fits."""

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class DataFormatError(ValueError):
    """A data row that does not have the expected shape; the message names file, row and field."""


class UnreadableJSON(json.JSONDecodeError):
    """A text that cannot be read as JSON within the bounds; ``reason`` says why in a few words.

    A ``JSONDecodeError``, so an ``except json.JSONDecodeError`` around :func:`loads_json` sees
    every failure, whatever its cause.
    """

    def __init__(self, reason: str, doc: str, pos: int | None) -> None:
        super().__init__(reason, doc, min(pos or 0, len(doc)))
        if pos is None:  # a failure of the whole text (depth, size, digits, encoding): no position
            self.args = (reason,)
        self.doc = doc[:200]  # the message already says where; keep no hostile megabytes alive
        self.reason = reason


def json_depth(text: str) -> int:
    """Deepest bracket nesting of a JSON text (brackets inside strings do not count); linear time."""
    if text.count("[") + text.count("{") == 0:
        return 0
    outside_strings = _STRING.sub("", text)
    steps = [_DEPTH_STEP[bracket] for bracket in _BRACKET.findall(outside_strings)]
    return max(accumulate(steps), default=0)


def _decode_utf8_or_raise(data: bytes | bytearray) -> str:
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableJSON(
            f"byte 0x{data[error.start]:02x} at byte {error.start + 1} is not UTF-8", "", None
        ) from None


def loads_json(
    text: str | bytes | bytearray, *, max_depth: int = MAX_JSON_DEPTH, max_chars: int = MAX_JSON_CHARS
) -> Any:
    """``json.loads`` within bounds; every failure (syntax, depth, size, digits, encoding) is UnreadableJSON.

    Bytes must be UTF-8 (no other encoding is guessed). ``NaN`` and ``Infinity`` are accepted as
    ``json.loads`` accepts them (lm-eval writes ``NaN`` in its result files).
    """
    if isinstance(text, bytes | bytearray):
        text = _decode_utf8_or_raise(text)
    if not isinstance(text, str):
        raise TypeError(f"loads_json reads a str or bytes, not {type(text).__name__}")
    if len(text) > max_chars:
        raise UnreadableJSON(f"longer than {max_chars} characters ({len(text)})", text, None)
    depth = json_depth(text)
    if depth > max_depth:
        raise UnreadableJSON(f"nested {depth} levels deep, more than the {max_depth} allowed", text, None)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableJSON(error.msg, text, error.pos) from None
    except RecursionError:  # only when the caller's own stack is already nearly full
        raise UnreadableJSON("nested too deeply for the remaining stack", text, None) from None
    except ValueError as error:  # e.g. an integer beyond Python's 4,300-digit conversion limit
        raise UnreadableJSON(str(error).split(";")[0], text, None) from None


_DECODER = json.JSONDecoder()


def decode_json_at(text: str, start: int, *, max_depth: int = MAX_JSON_DEPTH) -> tuple[Any, int]:
    """The JSON value that starts at ``text[start]`` and the index just past it, within the depth bound.

    ``JSONDecoder.raw_decode`` for readers of one large array element by element; every failure is
    :class:`UnreadableJSON`, and the caller finds where the bad element ends itself.
    """
    try:
        value, end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as error:
        raise UnreadableJSON(error.msg, text, error.pos) from None
    except RecursionError:
        raise UnreadableJSON("nested too deeply for the remaining stack", text, None) from None
    except ValueError as error:
        raise UnreadableJSON(str(error).split(";")[0], text, None) from None
    depth = json_depth(text[start:end])
    if depth > max_depth:
        raise UnreadableJSON(f"nested {depth} levels deep, more than the {max_depth} allowed", text, None)
    return value, end


def parse_json_or_none(text: str | bytes | bytearray) -> Any | None:
    """Model output: the decoded value, or ``None`` when it is not readable JSON within the bounds.

    For a hostile text the caller then scores its "unparseable" outcome. (A text that is the JSON
    literal ``null`` also gives ``None``; no caller accepts ``null`` as a value.)
    """
    try:
        return loads_json(text)
    except UnreadableJSON:
        return None


def parse_bounded_int(text: str, max_digits: int = MAX_INT_DIGITS) -> int | None:
    """A non-negative decimal integer of at most ``max_digits`` digits, or ``None``; never raises.

    ``int()`` on a model's answer fails past 4,300 digits and also accepts forms an answer should
    not take (``"1_0"``, Unicode digits); this reads ASCII digits only.
    """
    stripped = text.strip()
    if not stripped or len(stripped) > max_digits or not stripped.isascii() or not stripped.isdigit():
        return None
    return int(stripped)


def decode_utf8(data: bytes, where: str) -> str:
    """``data`` as UTF-8, or a :class:`DataFormatError` naming ``where``, the line and the byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        line_start = data.rfind(b"\n", 0, error.start) + 1
        raise DataFormatError(
            f"{where}, line {line}: byte 0x{data[error.start]:02x} at byte {error.start - line_start + 1} "
            "of the line is not UTF-8 (files must be UTF-8)"
        ) from None


def read_bytes(path: Path) -> bytes:
    """A file's bytes, gunzipped when its name ends in ``.gz``."""
    path = Path(path)
    if path.suffix == ".gz":
        try:
            return gzip.decompress(path.read_bytes())
        except (OSError, EOFError) as error:
            raise DataFormatError(f"{path}: not a readable gzip file ({error})") from None
    return path.read_bytes()


def read_text(path: Path) -> str:
    """A UTF-8 (optionally gzipped) text file; a byte that is not UTF-8 is an error naming its line."""
    return decode_utf8(read_bytes(path), str(path)).removeprefix("\ufeff")


def read_json_file(path: Path, **bounds: int) -> Any:
    """One JSON document from a file; an unreadable one is a :class:`DataFormatError` naming the file."""
    text = read_text(path)
    try:
        return loads_json(text, **bounds)
    except UnreadableJSON as error:
        raise DataFormatError(f"{path}: not valid JSON ({error})") from None


def iter_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers, split on ``\\n`` only.

    ``str.splitlines`` also splits on U+2028/U+2029 (and ``\\x1c``-``\\x1e``, ``\\x85``), which
    JSON strings may hold unescaped; splitting the bytes keeps a bad byte on its own line.
    """
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        if raw.strip():
            yield line_no, raw.removeprefix(b"\xef\xbb\xbf") if line_no == 1 else raw


def loads_json_line(raw: bytes | str, where: str) -> Any:
    """One JSON-lines row, or a :class:`DataFormatError` naming ``where`` (file and line)."""
    try:
        return loads_json(raw)
    except UnreadableJSON as error:
        raise DataFormatError(f"{where}: not valid JSON ({error})") from None


def iter_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of a JSON-lines file (``.gz`` read as gzip).

    The first unreadable line (bad JSON, too deep, a byte that is not UTF-8) is a
    :class:`DataFormatError` naming file and line.
    """
    for line_no, raw in iter_lines(read_bytes(path)):
        yield line_no, loads_json_line(raw, f"{path}, line {line_no}")
