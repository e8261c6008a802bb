"""The embedded input: BFCL questions shipped in the ``bfcl-eval`` package, kept disjoint from TRBench-BFCL.

``toolrm-data build`` without inputs reads these, so the pipeline runs offline with no download.
Each BFCL category is one data source (the source axis of the balanced sample). Excluded, each a
counted skip in ``stats.json`` (stage ``exclude``):

* every BFCL id that the shipped benchmark (``harness_tasks/trbench_bfcl/data``) uses, and every
  item whose user question equals a benchmark conversation's user turn (``in_benchmark``,
  ``question_in_benchmark``); if the benchmark file is missing, whole benchmark categories are
  excluded instead (``benchmark_category``), so training data can never overlap the test;
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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from harness_tasks.categories import CATEGORIES
from harness_tasks.trbench_build.bfcl_source import BROKEN_IDS, bfcl_data_dir
from toolrm_train.toolpref.issues import IssueLog
from toolrm_train.toolpref.readers import RawRow, read_file


BFCL_INPUT = "bfcl"
"""Input spec for this source; ``bfcl:simple_python,exec_parallel`` selects categories."""

_UNUSED = "unused_datasets/question/"
EMBEDDED_CATEGORIES: dict[str, str] = {
    "simple_python": "BFCL_v4_simple_python.json",
    "multiple": "BFCL_v4_multiple.json",
    "parallel": "BFCL_v4_parallel.json",
    "parallel_multiple": "BFCL_v4_parallel_multiple.json",
    "live_simple": "BFCL_v4_live_simple.json",
    "live_multiple": "BFCL_v4_live_multiple.json",
    "live_parallel": "BFCL_v4_live_parallel.json",
    "live_parallel_multiple": "BFCL_v4_live_parallel_multiple.json",
    "exec_simple": _UNUSED + "BFCL_v4_exec_simple.json",
    "exec_multiple": _UNUSED + "BFCL_v4_exec_multiple.json",
    "exec_parallel": _UNUSED + "BFCL_v4_exec_parallel.json",
    "exec_parallel_multiple": _UNUSED + "BFCL_v4_exec_parallel_multiple.json",
    "sql": _UNUSED + "BFCL_v4_sql.json",
}
"""Source name → question file under ``bfcl_eval/data`` (answers: ``possible_answer/`` beside it)."""

BENCHMARK_STEMS = frozenset(category.bfcl_file_stem for category in CATEGORIES)


def _question_key(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class BenchmarkExclusion:
    """What the shipped benchmark uses; ``ids`` is ``None`` when the benchmark file is missing."""

    ids: frozenset[str] | None
    questions: frozenset[str]

    def reason(self, category_file: str, raw_id: str, user_texts: Sequence[str]) -> str | None:
        if raw_id in BROKEN_IDS:
            return "known_broken_ground_truth"
        if self.ids is None:
            return "benchmark_category" if Path(category_file).stem in BENCHMARK_STEMS else None
        # the benchmark may spell v3 ids (simple_N) or v4 ids (simple_python_N)
        if raw_id in self.ids or raw_id.replace("simple_python_", "simple_") in self.ids:
            return "in_benchmark"
        if any(_question_key(text) in self.questions for text in user_texts):
            return "question_in_benchmark"
        return None


@cache
def benchmark_exclusion() -> BenchmarkExclusion:
    """BFCL ids and user questions of the shipped TRBench-BFCL build (read once)."""
    from harness_tasks.trbench_bfcl.dataset import EMBEDDED_PAIRS_FILE, read_pairs

    if not EMBEDDED_PAIRS_FILE.exists():
        return BenchmarkExclusion(None, frozenset())
    pairs = read_pairs()
    ids = frozenset(str(pair["raw_id"]) for pair in pairs)
    questions = frozenset(
        _question_key(message["content"])
        for pair in pairs
        for message in pair["chat_history"]
        if message["role"] == "user"
    )
    return BenchmarkExclusion(ids, questions)


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
            reason = exclusion.reason(relative, raw_id, _user_texts(raw.row))
            if reason is not None:
                log.skip("exclude", reason, raw.where, "id", raw_id)
                continue
            yield RawRow(raw.row, raw.where, category)
