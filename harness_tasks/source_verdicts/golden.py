"""The golden verdict tables: answers scored by ACEBench's and BFCL's own code (see ``README.md``)."""

from __future__ import annotations

from pathlib import Path

from harness_tasks.input_boundary import iter_json_lines


DATA_DIR = Path(__file__).resolve().parent / "data"
ACEBENCH_TABLE = DATA_DIR / "acebench_golden_verdicts.jsonl.gz"
BFCL_TABLE = DATA_DIR / "bfcl_golden_verdicts.jsonl.gz"


def read_table(path: Path) -> list[dict]:
    return [row for _, row in iter_json_lines(path)]
