"""The TRBench-BFCL numbers reported in the ToolRM paper, shipped as reference rows.

They come from ``data/paper_trbench_bfcl.tsv`` (Figure 2 of arXiv 2510.26167, transcribed by eye)
and are always flagged ``reported=True``: renderers tag them so they are never mistaken for our
own measurements, and they are ranked only when a table holds nothing measured.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from harness_tasks.categories import CATEGORIES
from toolrm_leaderboard.table import Row


PAPER_TSV = Path(__file__).resolve().parent / "data" / "paper_trbench_bfcl.tsv"
PAPER_CITATION = "ToolRM, arXiv 2510.26167, Figure 2"
PAPER_DATA_BUILD = "hub:RioLee/TRBench-BFCL"


@dataclass(frozen=True)
class PaperEntry:
    row: Row
    delta_reported: float | None
    """The gain printed in the figure, kept to check our Δ arithmetic against."""


def load_paper_entries(path: Path = PAPER_TSV) -> list[PaperEntry]:
    with path.open(encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    entries = []
    for record in csv.DictReader(lines, delimiter="\t"):
        values: dict[str, float | int | None] = {c.code: float(record[c.code]) for c in CATEGORIES}
        values.update(avg=float(record["Avg"]), w_avg=float(record["W-Avg"]), parse=None, pairs=None)
        row = Row(
            label=record["model"],
            model_key=record["model"],
            family=record["family"],
            variant=record["marker"],
            values=values,
            reported=True,
            ours=record["ours"] == "yes",
            base_key=record["base_model"] or None,
            files=(str(path),),
        )
        delta = record["delta_reported"]
        entries.append(PaperEntry(row, float(delta) if delta else None))
    return entries


def paper_rows() -> list[Row]:
    return [entry.row for entry in load_paper_entries()]
