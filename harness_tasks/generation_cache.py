"""Resumable judge runs: every generation is stored as it is made, and a rerun reuses it.

Why our own: lm-eval's ``--use_cache`` never *reads* a sampled generation back (``CachingLM``
skips requests with ``do_sample``, so that repeats stay independent), and the TRBench judge tasks
sample (temperature 0.6). A judge run killed after hours would restart from zero.

How: :func:`harness_tasks.lm_eval_bridge.cache_generations` replaces one model object's
``generate_until`` (the model stays the same object, so lm-eval records it as usual) with one that
goes through the store of this module:

- The key of a generation is a SHA-256 of its content: the model's identity (type and model
  arguments), the prompt exactly as sent, the generation arguments, the seeds, the request's
  occurrence number among identical requests of one call, and its *trial* (:data:`TRIAL_ATTRIBUTE`:
  the repeat of a multi-round item, which the bridge runs as a driver call of its own, so trial 1's
  identical prompts are numbered from 0 again and must not be served trial 0's generations). Trial
  0 adds nothing to the key, so caches written before trials existed still serve.
- Stored generations are served; only the rest reach the model. Each new generation is appended
  to a JSON-lines file as soon as the model reports it (lm-eval models call
  ``cache_hook.add_partial`` per result; anything not reported that way is stored when the batch
  returns), flushed and fsync'ed, so a SIGKILL loses at most the generation being written. A torn
  last line is ignored on reload and said so.
- One file per rank (``generations_rank<r>.jsonl``) in the cache folder.

Sampling stays reproducible through lm-eval's seeds: a rerun with the same arguments serves every
stored generation and samples only the missing ones. Those are new samples with the same seed,
identical to an uninterrupted run's only where the backend seeds each request on its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness_tasks.input_boundary import iter_lines, parse_json_or_none


log = logging.getLogger(__name__)


class GenerationStore:
    """Append-only, fsync'ed store of generations keyed by content hash."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.generations: dict[str, str] = {}
        if path.exists():
            self._load()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (held open for the run)

    def _load(self) -> None:
        torn = 0
        data = self.path.read_bytes()
        for _, raw in iter_lines(data):
            # only a write cut by a kill can leave an unreadable line (cut anywhere, even inside a
            # multi-byte UTF-8 character); that generation is redone
            entry = parse_json_or_none(raw)
            if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, str) for x in entry)):
                torn += 1
                continue
            key, text = entry
            self.generations[key] = text
        if torn:
            log.warning("%s: ignored %d incomplete line(s) left by an interrupted run", self.path, torn)
        if data and not data.endswith(b"\n"):
            with open(self.path, "ab") as out:
                out.write(b"\n")  # start new records on a fresh line after a torn one

    def __contains__(self, key: str) -> bool:
        return key in self.generations

    def get(self, key: str) -> str | None:
        return self.generations.get(key)

    def put(self, key: str, text: str) -> None:
        if key in self.generations:
            return
        self.generations[key] = text
        self._file.write(json.dumps([key, text], ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


TRIAL_ATTRIBUTE = "toolrm_trial"
"""Attribute of a request naming its trial (0 when absent): set by the bridge on the requests of a
multi-round item's repeat (:func:`harness_tasks.lm_eval_bridge.answer_multi_round`)."""


def request_keys(identity: dict[str, Any], requests: Sequence[Any]) -> list[str]:
    """Content keys for ``generate_until`` requests, numbering identical requests apart."""
    seen: dict[str, int] = {}
    keys = []
    base = json.dumps(identity, sort_keys=True, default=str)
    for request in requests:
        context, gen_kwargs = request.args[0], request.args[1]
        trial = getattr(request, TRIAL_ATTRIBUTE, 0)
        parts = [base, context, gen_kwargs] + ([trial] if trial else [])
        content = json.dumps(parts, sort_keys=True, default=str)
        occurrence = seen.get(content, 0)
        seen[content] = occurrence + 1
        keys.append(hashlib.sha256(f"{content}\x00{occurrence}".encode()).hexdigest())
    return keys
