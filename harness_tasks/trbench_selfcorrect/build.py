"""Build the self-correction items: seeded, reproducible, with a fixed share of correct candidates.

    python -m harness_tasks.trbench_selfcorrect.build          # rewrite data/ (same seed, same files)
    python -m harness_tasks.trbench_selfcorrect.build --check  # rebuild in a temp dir and compare

Per source and category, the eligible items are put in a seeded order; the first
``round(correct_share * n)`` of a second seeded order get a correct candidate (the ground truth as
Hermes ``<tool_call>`` blocks), the others a wrong one: the ground truth altered by a seeded,
weighted error operator (:mod:`harness_tasks.trbench_build.reject_sampling`, the operators of the
TRBench-BFCL build), kept only when the source's checker rejects it. The share is exact per
category, not a coin per item. Every random choice uses ``random.Random`` seeded with a string
naming what it decides (``"<seed>/<source>/<category>/<id>/..."``), so the build is stable across
processes and independent of which other categories are built.

BFCL: the single-turn items that neither TRBench-BFCL nor the shipped Best-of-N candidate sets use,
by id or by question (:func:`.splits.is_self_correction_item`; ``build_stats.json`` counts the items
left out because one of them asks their question under another id). ACEBench: the ``normal`` items
of the shipped English subset (:mod:`.acebench_source`). After rewriting the data, regenerate the
task YAMLs (they record its digest): ``python -m harness_tasks.trbench_selfcorrect._generate_configs``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness_tasks.atomic_files import write_atomically
from harness_tasks.categories import CATEGORIES
from harness_tasks.tool_calls import format_tool_calls
from harness_tasks.trbench_build.bfcl_source import load_category, require_bfcl
from harness_tasks.trbench_build.build import single_turn_context
from harness_tasks.trbench_build.reject_sampling import SINGLE_TURN_WEIGHTS, draw_reject
from harness_tasks.trbench_selfcorrect.items import DATA_DIR, ITEMS_FILE_NAME, stratified_order
from harness_tasks.trbench_selfcorrect.splits import (
    earlier_benchmark_asking,
    is_self_correction_id,
    is_self_correction_item,
)
from harness_tasks.turn_verdicts import TurnVerdict, check_turn


DEFAULT_SEED = 0
DEFAULT_CORRECT_SHARE = 0.4
"""Share of items whose candidate is already correct: enough to measure harm (broken rate), while
most items still need a fix."""
DEFAULT_SOURCES = ("bfcl", "acebench")
STATS_FILE_NAME = "build_stats.json"
NOTICE_FILE_NAME = "NOTICE"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BuildConfig:
    seed: int = DEFAULT_SEED
    correct_share: float = DEFAULT_CORRECT_SHARE
    sources: tuple[str, ...] = DEFAULT_SOURCES
    max_per_category: int | None = None
    """Cap on items per category (``None``: every eligible item)."""
    bfcl_categories: tuple[str, ...] = field(
        default_factory=lambda: tuple(c.name for c in CATEGORIES if not c.name.startswith("multi_turn"))
    )


def _rng(*parts: object) -> random.Random:
    return random.Random("/".join(str(part) for part in parts))


def correct_positions(count: int, share: float, rng: random.Random) -> set[int]:
    """Which of ``count`` items get a correct candidate: exactly ``round(share * count)`` of them."""
    return set(rng.sample(range(count), round(share * count)))


def bfcl_verdict(item: Any, text: str) -> TurnVerdict:
    """BFCL's verdict on a single-turn response, read as BFCL reads it; a checker crash raises, so
    reject sampling skips that candidate."""
    return check_turn("bfcl", item, 0, text, on_crash="raise")


def bfcl_items(config: BuildConfig) -> list[dict[str, Any]]:
    """Self-correction items from the single-turn BFCL categories, category by category."""
    items: list[dict[str, Any]] = []
    for category in config.bfcl_categories:
        eligible = [item for item in load_category(category) if is_self_correction_item(item)]
        eligible = _rng(config.seed, "bfcl", category, "order").sample(eligible, len(eligible))
        if config.max_per_category is not None:
            eligible = eligible[: config.max_per_category]
        correct = correct_positions(
            len(eligible), config.correct_share, _rng(config.seed, "bfcl", category, "correct")
        )
        for position, bfcl_item in enumerate(eligible):
            context = single_turn_context(bfcl_item)
            reference = format_tool_calls(context.chosen_calls)
            where = f"bfcl {category} {bfcl_item.id}"
            if not bfcl_verdict(bfcl_item, reference).correct:
                raise RuntimeError(f"{where}: BFCL's checker rejects the ground truth {reference!r}")
            candidate, operator, error_type, message = reference, "", "", ""
            if position not in correct:
                reject = draw_reject(
                    context.chosen_calls,
                    bfcl_item.functions,
                    context.question,
                    lambda text, item=bfcl_item: bfcl_verdict(item, text),
                    _rng(config.seed, "bfcl", category, bfcl_item.id, "reject"),
                    SINGLE_TURN_WEIGHTS,
                    avoid_texts=[reference],
                    where=where,
                )
                verdict = bfcl_verdict(bfcl_item, reject.text)
                candidate, operator, error_type, message = (
                    reject.text,
                    reject.operator,
                    verdict.error_type,
                    verdict.message,
                )
            items.append(
                {
                    "id": f"bfcl/{category}/{bfcl_item.id}",
                    "source": "bfcl",
                    "category": category,
                    "raw_id": bfcl_item.id,
                    "turn_index": 0,
                    "chat_history": context.chat_history,
                    "candidate": candidate,
                    "candidate_correct": position in correct,
                    "error_operator": operator,
                    "error_type": error_type,
                    "checker_message": message,
                    "reference_response": reference,
                    "answer_kind": "calls",
                }
            )
    return items


def ace_items(config: BuildConfig) -> list[dict[str, Any]]:
    from harness_tasks.trbench_selfcorrect.acebench_source import acebench_items

    items, skipped = acebench_items(
        config.seed, config.correct_share, config.max_per_category, _rng, correct_positions
    )
    if skipped:
        raise RuntimeError(f"ACEBench items {skipped}: no error operator gave a response the checker rejects")
    return items


SOURCE_BUILDERS = {"bfcl": bfcl_items, "acebench": ace_items}


def build_items(config: BuildConfig) -> list[dict[str, Any]]:
    unknown = [source for source in config.sources if source not in SOURCE_BUILDERS]
    if unknown:
        raise ValueError(f"unknown item source(s) {unknown}; expected some of {sorted(SOURCE_BUILDERS)}")
    items = []
    for source in config.sources:
        items.extend(SOURCE_BUILDERS[source](config))
    return stratified_order(items)


# ---------------------------------------------------------------- files


def encode_items(items: Sequence[dict[str, Any]]) -> tuple[bytes, bytes]:
    """(JSON Lines bytes, their gzip): gzip with mtime 0 and no file name, so equal items give equal bytes."""
    payload = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as compressed:
        compressed.write(payload)
    return payload, buffer.getvalue()


def _counts(values: Sequence[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def bfcl_excluded_by_question(config: BuildConfig) -> dict[str, dict[str, int]]:
    """Per earlier benchmark and BFCL category, the items free by id but left out because that
    benchmark asks their question under another id."""
    counts: dict[str, Counter[str]] = {"best_of_n": Counter(), "trbench_bfcl": Counter()}
    if "bfcl" in config.sources:
        for category in config.bfcl_categories:
            for item in load_category(category):
                if is_self_correction_id(item.id) and (asker := earlier_benchmark_asking(item)):
                    counts[asker][category] += 1
    return {name: dict(sorted(per_category.items())) for name, per_category in counts.items()}


def build_stats(items: Sequence[dict[str, Any]], config: BuildConfig, payload: bytes) -> dict[str, Any]:
    by_category: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_category.setdefault(f"{item['source']}/{item['category']}", []).append(item)
    return {
        "bfcl_excluded_same_question_as": bfcl_excluded_by_question(config),
        "format_version": FORMAT_VERSION,
        "seed": config.seed,
        "correct_share": config.correct_share,
        "sources": list(config.sources),
        "max_per_category": config.max_per_category,
        "total_items": len(items),
        "correct_candidates": sum(item["candidate_correct"] for item in items),
        "items_per_category": {name: len(members) for name, members in sorted(by_category.items())},
        "correct_per_category": {
            name: sum(m["candidate_correct"] for m in members)
            for name, members in sorted(by_category.items())
        },
        "items_per_error_operator": _counts([i["error_operator"] for i in items if i["error_operator"]]),
        "items_per_error_type": _counts([i["error_type"] for i in items if i["error_type"]]),
        "sha256_uncompressed": hashlib.sha256(payload).hexdigest(),
    }


def notice_text() -> str:
    return """TRBench self-correction items (toolrm-harness)
=============================================

selfcorrect_items.jsonl.gz in this folder holds items derived from:

* ACEBench (Chen et al., "ACEBench: Who Wins the Match Point in Tool Usage?", arXiv:2501.12851),
  https://github.com/ACEBench/ACEBench at e6db74b, MIT License: the English normal items of the
  subset shipped in harness_tasks/acebench/data (its NOTICE holds the licence text);
* the Berkeley Function Calling Leaderboard (BFCL) data set, part of the Gorilla project, UC
  Berkeley (Sky Computing Lab), https://github.com/ShishirPatil/gorilla (berkeley-function-call-
  leaderboard), licensed under the Apache License, Version 2.0, read from the bfcl-eval PyPI
  package. BFCL citation: Patil et al., "The Berkeley Function Calling Leaderboard (BFCL): From
  Tool Use to Agentic Evaluation of Large Language Models", ICML 2025.

What we changed: questions and function docs rendered in the Hermes tool-calling format; correct
candidates are the ground truth written as <tool_call> blocks; wrong candidates are synthetic,
made by our error operators from the ground truth and kept only when the checker rejects them.
A seeded sample of items was selected. No endorsement by the original authors is implied.
"""


def write_build(items: list[dict[str, Any]], config: BuildConfig, out_dir: Path) -> dict[str, Any]:
    """Write the item file, ``build_stats.json`` and ``NOTICE`` (each via a temp file, then rename)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload, compressed = encode_items(items)
    stats = build_stats(items, config, payload)
    files = {
        ITEMS_FILE_NAME: compressed,
        STATS_FILE_NAME: (json.dumps(stats, indent=2, sort_keys=True) + "\n").encode("utf-8"),
        NOTICE_FILE_NAME: notice_text().encode("utf-8"),
    }
    for name, content in files.items():
        write_atomically(out_dir / name, content)
    return stats


def compare_builds(built: Path, reference: Path) -> list[str]:
    """Content differences between two builds (the item file compared decompressed)."""
    problems = []
    for name in (ITEMS_FILE_NAME, STATS_FILE_NAME, NOTICE_FILE_NAME):
        if not (reference / name).exists():
            problems.append(f"{reference / name} does not exist")
    if problems:
        return problems
    new = gzip.decompress((built / ITEMS_FILE_NAME).read_bytes())
    old = gzip.decompress((reference / ITEMS_FILE_NAME).read_bytes())
    if new != old:
        problems.append(f"{reference / ITEMS_FILE_NAME} differs from a fresh build")
    for name in (STATS_FILE_NAME, NOTICE_FILE_NAME):
        if (built / name).read_bytes() != (reference / name).read_bytes():
            problems.append(f"{reference / name} differs from a fresh build")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness_tasks.trbench_selfcorrect.build",
        description="Build the self-correction items (seeded; the same options give the same files).",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of every random choice")
    parser.add_argument(
        "--correct-share",
        type=float,
        default=DEFAULT_CORRECT_SHARE,
        help="share of items per category whose candidate is already correct (exact, rounded)",
    )
    parser.add_argument(
        "--sources", default=",".join(DEFAULT_SOURCES), help=f"comma-separated, of {sorted(SOURCE_BUILDERS)}"
    )
    parser.add_argument("--max-per-category", type=int, default=None, help="cap on items per category")
    parser.add_argument(
        "--out-dir", type=Path, default=DATA_DIR, help="where to write (default: the shipped data/)"
    )
    parser.add_argument(
        "--check", action="store_true", help="rebuild in a temporary folder and compare with --out-dir"
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.correct_share <= 1.0:
        parser.error(f"--correct-share must be within [0, 1], got {args.correct_share}")
    require_bfcl(multi_turn=False)
    config = BuildConfig(
        seed=args.seed,
        correct_share=args.correct_share,
        sources=tuple(s.strip() for s in args.sources.split(",") if s.strip()),
        max_per_category=args.max_per_category,
    )
    items = build_items(config)
    if args.check:
        with tempfile.TemporaryDirectory() as scratch:
            write_build(items, config, Path(scratch))
            problems = compare_builds(Path(scratch), args.out_dir)
        for problem in problems:
            print(problem, file=sys.stderr)
        print("same as a fresh build" if not problems else "differs from a fresh build")
        return 1 if problems else 0
    stats = write_build(items, config, args.out_dir)
    print(f"wrote {stats['total_items']} items ({stats['correct_candidates']} correct) to {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
