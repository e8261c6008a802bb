"""Published reference numbers for FC-RewardBench (pointwise) and Plan-RewardBench.

Read from ``data/reported_*.tsv`` (transcribed from the sources' READMEs, cited in each file's
header) and always marked ``reported``: they were not measured here. Rendered by
``toolrm-leaderboard --with-paper`` (see :mod:`toolrm_leaderboard.reward_bench_specs`).
"""

from __future__ import annotations

import csv
from pathlib import Path


DATA_DIR = Path(__file__).resolve().parent / "data"
PLAN_TSV = DATA_DIR / "reported_plan_rewardbench.tsv"
FC_POINTWISE_TSV = DATA_DIR / "reported_fc_rewardbench_pointwise.tsv"


def read_reported(path: Path) -> list[dict[str, str | float | bool]]:
    """Rows as dicts: numeric columns as floats, plus ``reported=True``."""
    with path.open(encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    rows = []
    for record in csv.DictReader(lines, delimiter="\t"):
        row: dict[str, str | float | bool] = {"reported": True}
        for key, value in record.items():
            try:
                row[key] = float(value)
            except ValueError:
                row[key] = value
        rows.append(row)
    return rows
