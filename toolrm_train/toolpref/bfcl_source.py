"""The embedded input: BFCL questions shipped in the ``bfcl-eval`` package, kept disjoint from TRBench-BFCL.

``toolrm-data build`` without inputs reads these, so the pipeline runs offline with no download.
Each BFCL category is one data source (the source axis of the balanced sample). Excluded, each a
counted skip in ``stats.json`` (stage ``exclude``):

* every BFCL id that the shipped benchmark (``harness_tasks/trbench_bfcl/data``) uses
  (``in_benchmark``), and, matched by content (:mod:`harness_tasks.question_overlap`: normalised
  token sets, near-duplicates at Jaccard >= 0.9), every item whose user question an evaluation set
  asks: TRBench-BFCL (``question_in_benchmark``), Best-of-N (``question_in_best_of_n``),
  self-correction (``question_in_self_correction``), or a near-duplicate of any of them
  (``near_duplicate_question``; the detail names the matched item). If the benchmark file is
  missing, whole benchmark categories are excluded instead (``benchmark_category``), so training
  data can never overlap the test;
* the five ids whose ground truth no call can satisfy (the builder's ``BROKEN_IDS``, bfcl.md §4.4;
  ``known_broken_ground_truth``).

BFCL possible answers become calls by the builder's ``canonical_calls``, so a training item and a
benchmark item with the same answer get the same ground-truth call.

Multi-turn categories are not read at all: their tool results must be executed on BFCL's
back-ends, and every multi-turn file (``base``, ``miss_func``, ``miss_param``, ``long_context``,
``composite``) shares its scenarios with ``multi_turn_base``, which the benchmark uses. The
``exec_*`` and ``sql`` sets (``unused_datasets``, never part of the benchmark) add parallel and
multi-function items, so task complexity varies beyond one call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from harness_tasks import bfcl_files
from harness_tasks.categories import CATEGORIES
from harness_tasks.question_overlap import QuestionIndex, evaluation_questions
from harness_tasks.trbench_build.bfcl_source import BROKEN_IDS, bfcl_data_dir
from toolrm_train.toolpref.issues import IssueLog
from toolrm_train.toolpref.readers import RawRow, read_file


BFCL_INPUT = "bfcl"
"""Input spec for this source; ``bfcl:simple_python,exec_parallel`` selects categories."""

_SINGLE_TURN_CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
)
EMBEDDED_CATEGORIES: dict[str, str] = {
    name: bfcl_files.question_relative_path(name)
    for name in _SINGLE_TURN_CATEGORIES + bfcl_files.UNUSED_CATEGORIES
}
"""Source name → question file under ``bfcl_eval/data`` (:mod:`harness_tasks.bfcl_files` knows where)."""

BENCHMARK_BFCL_CATEGORIES = frozenset(category.bfcl_category for category in CATEGORIES)


_EXACT_REASONS = {
    "trbench_bfcl": "question_in_benchmark",
    "best_of_n": "question_in_best_of_n",
    "self_correction": "question_in_self_correction",
}


@dataclass(frozen=True)
class BenchmarkExclusion:
    """What the evaluation sets use; ``ids`` is ``None`` when the benchmark file is missing.

    ``questions``: the evaluation questions, as a :class:`QuestionIndex` or plain texts (taken as
    TRBench-BFCL questions).
    """

    ids: frozenset[str] | None
    questions: QuestionIndex | Iterable[str]

    def __post_init__(self) -> None:
        if not isinstance(self.questions, QuestionIndex):
            index = QuestionIndex().add_all((q, "trbench_bfcl:?") for q in self.questions)
            object.__setattr__(self, "questions", index)

    def reason(self, category_file: str, raw_id: str, user_texts: Sequence[str]) -> tuple[str, str] | None:
        """``(reason, detail)`` when the item must not be trained on, else ``None``."""
        if raw_id in BROKEN_IDS:
            return "known_broken_ground_truth", raw_id
        if self.ids is None:
            in_category = (
                bfcl_files.category_of_file_stem(Path(category_file).stem) in BENCHMARK_BFCL_CATEGORIES
            )
            return ("benchmark_category", raw_id) if in_category else None
        # the benchmark may spell v3 ids (simple_N) or v4 ids (simple_python_N)
        if raw_id in self.ids or raw_id.replace("simple_python_", "simple_") in self.ids:
            return "in_benchmark", raw_id
        assert isinstance(self.questions, QuestionIndex)
        for text in user_texts:
            match = self.questions.find(text)
            if match is not None:
                detail = f"{raw_id} asks {match.label} (token-set Jaccard {match.similarity:.2f})"
                if not match.exact:
                    return "near_duplicate_question", detail
                return _EXACT_REASONS[match.label.partition(":")[0]], detail
        return None


@cache
def benchmark_exclusion() -> BenchmarkExclusion:
    """BFCL ids of the shipped TRBench-BFCL build and every evaluation set's questions (read once)."""
    from harness_tasks.trbench_bfcl.dataset import EMBEDDED_PAIRS_FILE, read_pairs

    if not EMBEDDED_PAIRS_FILE.exists():
        return BenchmarkExclusion(None, QuestionIndex())
    ids = frozenset(str(pair["raw_id"]) for pair in read_pairs())
    return BenchmarkExclusion(ids, evaluation_questions())


def parse_bfcl_spec(spec: str) -> list[str]:
    """``bfcl`` → all embedded categories; ``bfcl:simple_python,sql`` → those."""
    if spec == BFCL_INPUT:
        return list(EMBEDDED_CATEGORIES)
    names = [name.strip() for name in spec.removeprefix(BFCL_INPUT + ":").split(",") if name.strip()]
    unknown = [name for name in names if name not in EMBEDDED_CATEGORIES]
    if unknown:
        raise ValueError(
            f"unknown BFCL categories {unknown}; expected some of {', '.join(EMBEDDED_CATEGORIES)}"
        )
    return names


def _user_texts(row: dict) -> list[str]:
    question = row.get("question") or []
    turns = [question] if question and isinstance(question[0], dict) else question
    return [
        str(message.get("content", ""))
        for turn in turns
        for message in (turn if isinstance(turn, list) else [])
        if isinstance(message, dict) and message.get("role") == "user"
    ]


def read_bfcl(spec: str, log: IssueLog, exclusion: BenchmarkExclusion | None = None) -> Iterator[RawRow]:
    """Rows of the embedded BFCL categories, benchmark items and broken ids excluded (counted)."""
    exclusion = exclusion or benchmark_exclusion()
    if exclusion.ids is None:
        log.skip(
            "exclude",
            "benchmark_file_missing",
            "harness_tasks/trbench_bfcl/data",
            detail="benchmark ids unknown, so its nine categories are excluded entirely",
        )
    data_dir = bfcl_data_dir()
    for category in parse_bfcl_spec(spec):
        relative = EMBEDDED_CATEGORIES[category]
        for raw in read_file(data_dir / relative, log, name=f"bfcl_eval/data/{relative}"):
            raw_id = str(raw.row.get("id", ""))
            excluded = exclusion.reason(relative, raw_id, _user_texts(raw.row))
            if excluded is not None:
                log.skip("exclude", excluded[0], raw.where, "id", excluded[1])
                continue
            yield RawRow(raw.row, raw.where, category)
