"""Token counts of long texts, remembered on disk per tokenizer and keyed by each text's content.

Why: the reference drops TRBench-BFCL pairs whose prompt is over its token limit, and counting that
exactly means tokenising every prompt of the task, both orders (5,966 prompts, 51 M characters),
on every run, even one with ``--limit 8``: about 10 s on this CPU with a small-vocabulary
tokenizer, a fixed cost that dwarfs the engine on short runs (``benchmarks/genrm_overhead.py``).
The count is a pure function of the tokenizer and the text, so it is computed once and reused.

Still exact: an entry is found only by a BLAKE2b digest of the text itself (never by row position)
in a file named by a digest of the tokenizer's full serialisation (vocabulary, merges, normaliser,
special tokens) plus ``add_special_tokens``, so another tokenizer, a changed prompt or a reordered
file can only miss, never hit a wrong count. What misses is tokenised as before.

Safe: the file is written to a temporary name and renamed (a killed run leaves the old file or the
new one, never half of one); an unreadable file is ignored with a warning and rewritten. Set
``TOOLRM_CACHE_DIR`` to choose the folder (default ``~/.cache/toolrm``) or to an empty string to
switch the cache off. Tokenizers without a fast backend are not cached (no stable serialisation).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness_tasks.atomic_files import write_atomically
from harness_tasks.input_boundary import loads_json


log = logging.getLogger(__name__)

CACHE_ENV = "TOOLRM_CACHE_DIR"
FORMAT = 1


def cache_root() -> Path | None:
    """``$TOOLRM_CACHE_DIR`` (empty: no cache), else ``~/.cache/toolrm``."""
    value = os.environ.get(CACHE_ENV)
    if value is None:
        return Path.home() / ".cache" / "toolrm"
    return Path(value) if value else None


def tokenizer_digest(tokenizer: Any, add_special_tokens: bool) -> str | None:
    """Digest of everything that decides a count; ``None`` when the tokenizer has no fast backend."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"format={FORMAT};specials={add_special_tokens};".encode())
    digest.update(backend.to_str().encode("utf-8"))
    return digest.hexdigest()


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _read(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    try:
        stored = loads_json(path.read_bytes())
        if stored.get("format") == FORMAT and isinstance(stored.get("lengths"), dict):
            return {str(k): int(v) for k, v in stored["lengths"].items()}
        raise ValueError("unexpected layout")
    except (OSError, ValueError, TypeError, AttributeError) as error:
        log.warning("token-length cache %s is unreadable (%s); recounting", path, error)
        return {}


def _write(path: Path, lengths: dict[str, int]) -> None:
    write_atomically(path, json.dumps({"format": FORMAT, "lengths": lengths}, separators=(",", ":")))


def token_lengths(tokenizer: Any, texts: Sequence[str], *, add_special_tokens: bool = True) -> list[int]:
    """``[len(tokenizer(t, add_special_tokens=...)["input_ids"]) for t in texts]``, remembered."""

    def count(batch: Sequence[str]) -> list[int]:
        encoded = tokenizer(list(batch), add_special_tokens=add_special_tokens)["input_ids"]
        return [len(ids) for ids in encoded]

    root = cache_root()
    name = tokenizer_digest(tokenizer, add_special_tokens) if root is not None else None
    if root is None or name is None or not texts:
        return count(texts)
    path = root / "token_lengths" / f"{name}.json"
    stored = _read(path)
    keys = [text_key(text) for text in texts]
    first_missing: dict[str, int] = {}  # each missing text counted once, however often it occurs
    for i, key in enumerate(keys):
        if key not in stored:
            first_missing.setdefault(key, i)
    if first_missing:
        counted = count([texts[i] for i in first_missing.values()])
        stored.update(zip(first_missing, counted, strict=True))
        try:
            _write(path, stored)
        except OSError as error:  # a read-only home still evaluates, just without the cache
            log.warning("token-length cache %s not written (%s)", path, error)
    return [stored[key] for key in keys]
