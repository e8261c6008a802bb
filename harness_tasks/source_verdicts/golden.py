"""The golden verdict tables: answers scored by ACEBench's and BFCL's own code (see ``README.md``)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path


DATA_DIR = Path(__file__).resolve().parent / "data"
ACEBENCH_TABLE = DATA_DIR / "acebench_golden_verdicts.jsonl.gz"
BFCL_TABLE = DATA_DIR / "bfcl_golden_verdicts.jsonl.gz"


def read_table(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
