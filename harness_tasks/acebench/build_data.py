"""Rebuild the shipped ACEBench subset from a checkout of github.com/ACEBench/ACEBench (the shipped
subset was taken at e6db74b, HEAD of 2025-08-24).

CI has no network, so the rows we use are shipped under ``data/``. This script is how they were
made: the first ``--per-category`` rows (by ``id`` order in the file) of every English ``normal``
and ``special`` category, each prompt row joined with its ``possible_answer`` row by ``id``, written
as one gzip JSONL file with a fixed gzip header (byte-reproducible).

    python -m harness_tasks.acebench.build_data /path/to/ACEBench --per-category 12
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
from pathlib import Path

from harness_tasks.atomic_files import write_atomically
from harness_tasks.input_boundary import iter_json_lines


NORMAL_CATEGORIES = (
    "normal_single_turn_single_function",
    "normal_single_turn_parallel_function",
    "normal_multi_turn_user_adjust",
    "normal_multi_turn_user_switch",
    "normal_similar_api",
    "normal_preference",
    "normal_atom_bool",
    "normal_atom_enum",
    "normal_atom_list",
    "normal_atom_number",
    "normal_atom_object_deep",
    "normal_atom_object_short",
)
SPECIAL_CATEGORIES = ("special_error_param", "special_incomplete", "special_irrelevant")
CATEGORIES = NORMAL_CATEGORIES + SPECIAL_CATEGORIES
DATA_FILE = Path(__file__).resolve().parent / "data" / "acebench_en_subset.jsonl.gz"


def _read_jsonl(path: Path) -> list[dict]:
    return [row for _, row in iter_json_lines(path)]


def collect_rows(checkout: Path, per_category: int) -> list[dict]:
    base = checkout / "data_all" / "data_en"
    out = []
    for category in CATEGORIES:
        prompts = _read_jsonl(base / f"data_{category}.json")[:per_category]
        answers = {row["id"]: row for row in _read_jsonl(base / "possible_answer" / f"data_{category}.json")}
        for row in prompts:
            answer = answers.get(row["id"])
            if answer is None:
                raise ValueError(f"{base}/possible_answer/data_{category}.json: no answer for id {row['id']}")
            out.append({"category": category, **row, "ground_truth": answer["ground_truth"]})
    return out


def write_gzip_jsonl(rows: list[dict], path: Path) -> None:
    """Deterministic bytes (mtime 0, no file name in the header), written atomically."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="", compresslevel=9) as handle:
        for row in rows:
            handle.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
    write_atomically(path, buffer.getvalue())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkout", type=Path, help="a checkout of ACEBench/ACEBench (data_all/data_en/...)")
    parser.add_argument("--per-category", type=int, default=12, help="rows kept per category (default 12)")
    parser.add_argument("--out", type=Path, default=DATA_FILE, help=f"output file (default {DATA_FILE})")
    args = parser.parse_args(argv)
    rows = collect_rows(args.checkout, args.per_category)
    write_gzip_jsonl(rows, args.out)
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
