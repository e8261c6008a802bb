"""Which BFCL items self-correction may use, so no item is in two downstream benchmarks.

TRBench-BFCL (pairwise) comes first, then Best-of-N: self-correction takes the single-turn BFCL items
that neither the shipped TRBench-BFCL pairs nor the shipped Best-of-N candidate sets use. With
bfcl-eval 2026.3.23 only ``simple``, ``multiple`` and ``live_simple`` have items left over
(TRBench uses every item of the other categories). The rule is a pure function of those two shipped
files: rebuild self-correction after rebuilding either (a test fails on any overlap).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from harness_tasks import TASKS_DIR
from harness_tasks.input_boundary import DataFormatError, iter_json_lines
from harness_tasks.trbench_bfcl.dataset import EMBEDDED_PAIRS_FILE, read_pairs


BEST_OF_N_CANDIDATES_FILE = TASKS_DIR / "trbench_bon" / "data" / "bon_candidates.jsonl.gz"
BFCL_PREFIX = "bfcl:"


@cache
def pairwise_bfcl_ids(pairs_file: Path = EMBEDDED_PAIRS_FILE) -> frozenset[str]:
    """BFCL ids that the shipped TRBench-BFCL pairs use (any turn, any category)."""
    return frozenset(pair["raw_id"] for pair in read_pairs(pairs_file))


@cache
def best_of_n_bfcl_ids(candidates_file: Path = BEST_OF_N_CANDIDATES_FILE) -> frozenset[str]:
    """BFCL ids of the shipped Best-of-N sets (``item_id`` = ``bfcl:<id>``); none without the file."""
    if not candidates_file.exists():
        return frozenset()
    ids = set()
    for line_no, row in iter_json_lines(candidates_file):
        item_id = row.get("item_id") if isinstance(row, dict) else None
        if not isinstance(item_id, str):
            raise DataFormatError(f"{candidates_file}, line {line_no}: missing string field 'item_id'")
        if item_id.startswith(BFCL_PREFIX):
            ids.add(item_id.removeprefix(BFCL_PREFIX))
    return frozenset(ids)


def is_self_correction_id(bfcl_id: str) -> bool:
    return bfcl_id not in pairwise_bfcl_ids() and bfcl_id not in best_of_n_bfcl_ids()
