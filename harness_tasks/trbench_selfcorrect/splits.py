"""Which BFCL items self-correction may use, so no item is in two downstream benchmarks.

TRBench-BFCL (pairwise) comes first, then Best-of-N: self-correction takes the single-turn BFCL items
that neither the shipped TRBench-BFCL pairs nor the shipped Best-of-N candidate sets use, by id or
by question: an item whose question either asks under another id is left out too (BFCL re-lists
questions; the rule of ``harness_tasks/question_overlap.py``). With
bfcl-eval 2026.3.23 only ``simple``, ``multiple`` and ``live_simple`` have items left over
(TRBench uses every item of the other categories). The rule is a pure function of those two shipped
files: rebuild self-correction after rebuilding either (a test fails on any overlap).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from harness_tasks import TASKS_DIR
from harness_tasks.input_boundary import DataFormatError, iter_json_lines
from harness_tasks.question_overlap import QuestionIndex, trbench_bfcl_questions, user_questions
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


@cache
def earlier_benchmark_questions() -> tuple[QuestionIndex, QuestionIndex]:
    """User questions of the shipped TRBench-BFCL pairs and of the shipped Best-of-N BFCL sets."""
    from harness_tasks.trbench_bon.candidates import read_candidate_file

    best_of_n = QuestionIndex()
    if BEST_OF_N_CANDIDATES_FILE.exists():
        for candidate_set in read_candidate_file(BEST_OF_N_CANDIDATES_FILE):
            if candidate_set.source == "bfcl":
                label = f"best_of_n:{candidate_set.item_id}"
                best_of_n.add_all((q, label) for q in user_questions(candidate_set.chat_history))
    return trbench_bfcl_questions(EMBEDDED_PAIRS_FILE), best_of_n


def earlier_benchmark_asking(bfcl_item: Any) -> str | None:
    """``"trbench_bfcl"`` or ``"best_of_n"`` when that benchmark asks this BFCL item's question under
    any id (same or near-duplicate, TRBench-BFCL checked first), else ``None``."""
    from harness_tasks.trbench_build.build import single_turn_context

    questions = user_questions(single_turn_context(bfcl_item).chat_history)
    for name, index in zip(("trbench_bfcl", "best_of_n"), earlier_benchmark_questions(), strict=True):
        if any(index.find(q) is not None for q in questions):
            return name
    return None


def is_self_correction_item(bfcl_item: Any) -> bool:
    return is_self_correction_id(bfcl_item.id) and earlier_benchmark_asking(bfcl_item) is None
