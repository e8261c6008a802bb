"""Build the embedded TRBench-BFCL pairs: which BFCL items and turns, the rows, and the shipped files.

Selection, per category, with ``n`` pairs and a seeded order of the items: pairs are handed out
round by round, one per item per round, in that order, until ``n`` are given. So with more items
than pairs the first round stops early (a seeded sample), and with fewer every item gets one pair
before any gets a second. An item's second and later pairs are further rejects of the same context
(single-turn) or further turns (``multi_turn_base``: only turns with ground-truth calls; more
rejects per turn only once every such turn is used). Rows keep BFCL file order, then turn, then
reject index.

Every random choice uses ``random.Random`` seeded with a string naming what it decides (e.g.
``"0/parallel/parallel_12/0/1"`` = seed/category/id/turn/reject), which is stable across processes
and Python's hash randomisation, and independent of which other categories are built.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness_tasks import TASKS_DIR
from harness_tasks.categories import BY_NAME, CATEGORIES, CATEGORY_NAMES, resolve_category
from harness_tasks.tool_calls import ToolCall, format_tool_calls, render_tools_system_prompt
from harness_tasks.trbench_build.bfcl_source import BfclItem, load_category, require_bfcl
from harness_tasks.trbench_build.ground_truth import canonical_calls
from harness_tasks.trbench_build.multi_turn import ReplayedEpisode, replay_ground_truth
from harness_tasks.trbench_build.reject_sampling import (
    MULTI_TURN_WEIGHTS,
    REPEAT_PENALTY,
    SINGLE_TURN_WEIGHTS,
    draw_reject,
    operator_weights,
)
from harness_tasks.turn_verdicts import CORRECTED, TurnVerdict, check_turn


SHIPPED_DATA_DIR = TASKS_DIR / "trbench_bfcl" / "data"
PAIRS_FILE_NAME = "trbench_bfcl_pairs.jsonl.gz"
STATS_FILE_NAME = "build_stats.json"
NOTICE_FILE_NAME = "NOTICE"
DATA_SOURCE = "trbench_bfcl_embedded"
DEFAULT_SEED = 0
FORMAT_VERSION = 1

Progress = Callable[[str, int, int], None]
"""Called as ``progress(category, pairs_done, pairs_total)``."""


class BuildError(RuntimeError):
    """The build cannot produce what it promises (a chosen response BFCL rejects, no reject found, ...)."""


def default_pairs() -> dict[str, int]:
    return {category.name: category.release_pairs for category in CATEGORIES}


@dataclass(frozen=True)
class BuildConfig:
    seed: int = DEFAULT_SEED
    pairs: Mapping[str, int] = field(default_factory=default_pairs)
    """Pairs per category; categories missing here get their release count."""
    categories: tuple[str, ...] = CATEGORY_NAMES
    """Categories to build, always written in :data:`CATEGORIES` order."""

    def pairs_for(self, category: str) -> int:
        return int(self.pairs.get(category, BY_NAME[category].release_pairs))

    def selected(self) -> list[str]:
        chosen = {resolve_category(name).name for name in self.categories}
        return [name for name in CATEGORY_NAMES if name in chosen]


def _rng(*parts: object) -> random.Random:
    return random.Random("/".join(str(part) for part in parts))


def allocate_pairs(capacities: Sequence[int], total: int, rng: random.Random) -> list[int]:
    """Pairs per item, round-robin over a seeded order; capacities bound the first rounds.

    An item's capacity is how many distinct contexts it has; once every item is at capacity the
    rounds go on without bounds (more rejects per context).
    """
    counts = [0] * len(capacities)
    if total and not capacities:
        raise BuildError(f"{total} pairs requested from a category with no usable items")
    order = rng.sample(range(len(capacities)), len(capacities))
    bounded = True
    while total > sum(counts):
        progressed = False
        for index in order:
            if sum(counts) == total:
                break
            if bounded and counts[index] >= capacities[index]:
                continue
            counts[index] += 1
            progressed = True
        if not progressed:
            bounded = False
    return counts


def spread_over_turns(count: int, turns: Sequence[int], rng: random.Random) -> list[tuple[int, int]]:
    """``(turn, reject_index)`` for ``count`` pairs over an item's usable turns, in a seeded spread."""
    order = rng.sample(list(turns), len(turns))
    slots = [(order[j % len(order)], j // len(order)) for j in range(count)]
    return sorted(slots)


@dataclass(frozen=True)
class Context:
    """One point of a conversation where the model must act, with its ground-truth calls."""

    item: BfclItem
    turn_index: int
    chat_history: list[dict[str, str]]
    chosen_calls: list[ToolCall]
    question: str


def single_turn_context(item: BfclItem) -> Context:
    """System turn with the tools (after the item's own system prompt, if any), then the user turn(s)."""
    messages = item.turns[0]
    system_texts = []
    while len(system_texts) < len(messages) and messages[len(system_texts)]["role"] == "system":
        system_texts.append(messages[len(system_texts)]["content"])
    rest = messages[len(system_texts) :]
    history = [
        {
            "role": "system",
            "content": render_tools_system_prompt(item.functions, "\n\n".join(system_texts) or None),
        }
    ]
    history += [{"role": m["role"], "content": m["content"]} for m in rest]
    question = "\n".join(m["content"] for m in rest if m["role"] == "user")
    return Context(item, 0, history, canonical_calls(item.functions, item.ground_truth), question)


def multi_turn_context(episode: ReplayedEpisode, turn_index: int) -> Context:
    return Context(
        episode.item,
        turn_index,
        episode.chat_history(turn_index),
        list(episode.calls[turn_index]),
        episode.user_text(turn_index),
    )


def bfcl_verdict(item: BfclItem, turn_index: int, text: str) -> TurnVerdict:
    """BFCL's verdict on a chosen or candidate response, from the one dispatcher.

    The build has always read its own responses leniently (``reading="corrected"``; they are
    Hermes blocks it wrote itself or plain text); a checker crash raises, so reject sampling skips
    that candidate instead of storing a reject whose "error" is the checker's own crash.
    """
    return check_turn("bfcl", item, turn_index, text, CORRECTED, on_crash="raise")


def _usable_turns(item: BfclItem) -> list[int]:
    if not item.is_multi_turn:
        return [0]
    return [turn for turn, calls in enumerate(item.ground_truth) if calls]


def _pair_rows(context: Context, rejects: int, seed: int) -> list[dict[str, Any]]:
    """The context's rows: the chosen response (verified valid) against ``rejects`` distinct rejects."""
    item, turn = context.item, context.turn_index
    where = f"{item.category} {item.id} turn {turn}"
    chosen = format_tool_calls(context.chosen_calls)
    verdict = bfcl_verdict(item, turn, chosen)
    if not verdict.correct:
        raise BuildError(
            f"{where}: BFCL's checker rejects the ground truth ({verdict.error_type}); chosen = {chosen!r}"
        )

    rows: list[dict[str, Any]] = []
    texts: list[str] = [chosen]
    operators: list[str] = []
    for k in range(rejects):
        reject = draw_reject(
            context.chosen_calls,
            item.functions,
            context.question,
            lambda text: bfcl_verdict(item, turn, text),
            _rng(seed, item.category, item.id, turn, k),
            operator_weights(item.is_multi_turn),
            avoid_texts=texts,
            used_operators=operators,
            where=where,
        )
        texts.append(reject.text)
        operators.append(reject.operator)
        rows.append(
            {
                "uuid": -1,  # numbered once all categories are in
                "raw_id": item.id,
                "task_source": item.category,
                "data_source": DATA_SOURCE,
                "chat_history": context.chat_history,
                "chosen_response": chosen,
                "reject_response": reject.text,
                "chosen_response_from": "ground truth",
                "reject_response_from": f"error_operator:{reject.operator}",
                "error_type": reject.error_type,
                "extra_info": {
                    "error_operator": reject.operator,
                    "turn_index": turn,
                    "reject_index": k,
                    "chosen_response_reward": 1,
                    "reject_response_reward": 0,
                },
            }
        )
    return rows


def build_category(
    name: str, n_pairs: int, seed: int, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Rows of one category (``uuid`` not yet set), in BFCL file order, then turn, then reject index."""
    items = load_category(name)
    usable = [_usable_turns(item) for item in items]
    counts = allocate_pairs([len(turns) for turns in usable], n_pairs, _rng(seed, name, "allocate"))
    rows: list[dict[str, Any]] = []
    if progress:
        progress(name, 0, n_pairs)
    for item, turns, count in zip(items, usable, counts, strict=True):
        if count == 0:
            continue
        slots = spread_over_turns(count, turns, _rng(seed, name, item.id, "turns"))
        rejects_per_turn = Counter(turn for turn, _ in slots)
        episode = replay_ground_truth(item) if item.is_multi_turn else None
        for turn in sorted(rejects_per_turn):
            context = multi_turn_context(episode, turn) if episode else single_turn_context(item)
            rows.extend(_pair_rows(context, rejects_per_turn[turn], seed))
        if progress:
            progress(name, len(rows), n_pairs)
    return rows


def build_rows(config: BuildConfig, progress: Progress | None = None) -> list[dict[str, Any]]:
    """All rows, categories in :data:`CATEGORIES` order, ``uuid`` = line index."""
    require_bfcl(multi_turn="multi_turn_base" in config.selected())
    rows: list[dict[str, Any]] = []
    for name in config.selected():
        rows.extend(build_category(name, config.pairs_for(name), config.seed, progress))
    for uuid, row in enumerate(rows):
        row["uuid"] = uuid
    return rows


# ---------------------------------------------------------------- files


def encode_pairs(rows: Sequence[Mapping[str, Any]]) -> tuple[bytes, bytes]:
    """(JSON Lines bytes, their gzip) — gzip with mtime 0 and no file name, so equal rows give equal bytes."""
    payload = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as compressed:
        compressed.write(payload)
    return payload, buffer.getvalue()


def _counts(values: Sequence[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def build_stats(
    rows: Sequence[Mapping[str, Any]],
    config: BuildConfig,
    bfcl_version: str,
    payload: bytes,
    compressed: bytes,
) -> dict[str, Any]:
    """Counts per category, error type, operator and category × operator, with what made the file."""
    per_category_operator: dict[str, dict[str, int]] = {}
    per_category_error: dict[str, dict[str, int]] = {}
    for name in config.selected():
        in_category = [row for row in rows if row["task_source"] == name]
        per_category_operator[name] = _counts([row["extra_info"]["error_operator"] for row in in_category])
        per_category_error[name] = _counts([row["error_type"] for row in in_category])
    return {
        "format_version": FORMAT_VERSION,
        "bfcl_eval_version": bfcl_version,
        "seed": config.seed,
        "pairs_requested": {name: config.pairs_for(name) for name in config.selected()},
        "total_pairs": len(rows),
        "pairs_per_category": _counts([row["task_source"] for row in rows]),
        "items_per_category": {
            name: len({row["raw_id"] for row in rows if row["task_source"] == name})
            for name in config.selected()
        },
        "contexts_per_category": {
            name: len(
                {
                    (row["raw_id"], row["extra_info"]["turn_index"])
                    for row in rows
                    if row["task_source"] == name
                }
            )
            for name in config.selected()
        },
        "pairs_per_error_type": _counts([row["error_type"] for row in rows]),
        "pairs_per_operator": _counts([row["extra_info"]["error_operator"] for row in rows]),
        "pairs_per_category_operator": per_category_operator,
        "pairs_per_category_error_type": per_category_error,
        "operator_weights": {
            "single_turn": dict(SINGLE_TURN_WEIGHTS),
            "multi_turn": dict(MULTI_TURN_WEIGHTS),
            "repeat_penalty": REPEAT_PENALTY,
        },
        "files": {
            PAIRS_FILE_NAME: {
                "sha256": hashlib.sha256(compressed).hexdigest(),
                "bytes": len(compressed),
                "sha256_uncompressed": hashlib.sha256(payload).hexdigest(),
                "lines": len(rows),
            }
        },
    }


def stats_text(stats: Mapping[str, Any]) -> str:
    return json.dumps(stats, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def notice_text(bfcl_version: str) -> str:
    return f"""TRBench-BFCL embedded build (toolrm-harness)
=============================================

The file trbench_bfcl_pairs.jsonl.gz in this folder is derived from the Berkeley Function Calling
Leaderboard (BFCL) data set, part of the Gorilla project, UC Berkeley (Sky Computing Lab),
https://github.com/ShishirPatil/gorilla (berkeley-function-call-leaderboard), licensed under the
Apache License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0). It was read from the
bfcl-eval PyPI package, version {bfcl_version}, whose metadata declares that license.

BFCL citation: Patil et al., "The Berkeley Function Calling Leaderboard (BFCL): From Tool Use to
Agentic Evaluation of Large Language Models", ICML 2025.

What we changed:
* Conversations: BFCL questions and function docs, rendered in the Hermes tool-calling format; for
  multi_turn_base, the earlier turns' ground-truth calls and their results, obtained by executing
  them on BFCL's own back-end implementations.
* Chosen responses: BFCL ground truth (for single-turn items, one concrete call chosen from the
  possible answers), written as Hermes <tool_call> blocks; each is accepted by BFCL's checker.
* Rejected responses are synthetic: made by our error operators (harness_tasks/trbench_build/
  error_operators.py) from the ground truth, and kept only when BFCL's checker rejects them.
  They are not outputs of any model. The error_type field is BFCL's checker verdict.
* A sample of items and turns was selected with a fixed seed; five items whose ground truth no
  call can satisfy were left out.

The Apache License 2.0 applies to the BFCL-derived content; no endorsement by the BFCL authors is
implied.
"""


@dataclass(frozen=True)
class BuildResult:
    rows: list[dict[str, Any]]
    stats: dict[str, Any]
    files: dict[str, Path]


def write_build(
    rows: list[dict[str, Any]], config: BuildConfig, bfcl_version: str, out_dir: Path
) -> BuildResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    payload, compressed = encode_pairs(rows)
    stats = build_stats(rows, config, bfcl_version, payload, compressed)
    files = {
        PAIRS_FILE_NAME: out_dir / PAIRS_FILE_NAME,
        STATS_FILE_NAME: out_dir / STATS_FILE_NAME,
        NOTICE_FILE_NAME: out_dir / NOTICE_FILE_NAME,
    }
    files[PAIRS_FILE_NAME].write_bytes(compressed)
    files[STATS_FILE_NAME].write_text(stats_text(stats), encoding="utf-8")
    files[NOTICE_FILE_NAME].write_text(notice_text(bfcl_version), encoding="utf-8")
    return BuildResult(rows, stats, files)


def build(config: BuildConfig, out_dir: Path, progress: Progress | None = None) -> BuildResult:
    """Build the pairs and write the pair file, ``build_stats.json`` and ``NOTICE`` into ``out_dir``."""
    bfcl_version = require_bfcl(multi_turn="multi_turn_base" in config.selected())
    rows = build_rows(config, progress)
    return write_build(rows, config, bfcl_version, out_dir)
