"""Check the ``bfcl-eval`` install and read one TRBench category's BFCL items from it.

Which files hold a category's questions and answers is :mod:`harness_tasks.bfcl_files`'s business.

The shipped data is derived from one pinned ``bfcl-eval`` release; BFCL fixes ground truths between
releases, so another version builds different (not wrong) data and ``--check`` will report it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from harness_tasks import bfcl_files
from harness_tasks.bfcl_files import BfclNotInstalledError
from harness_tasks.categories import Category, resolve_category
from harness_tasks.input_boundary import iter_json_lines


PINNED_BFCL_EVAL_VERSION = "2026.3.23"
"""The ``bfcl-eval`` release the shipped data was built from."""

INSTALL_HINT = f"pip install --no-deps bfcl-eval=={PINNED_BFCL_EVAL_VERSION} mpmath"

BROKEN_IDS = frozenset(
    {
        "live_simple_106-63-0",  # required array param whose only allowed value is []
        "live_simple_112-68-0",  # same
        "live_multiple_507-149-4",  # required origin_airport only allows ""
        "live_multiple_862-181-3",  # ground truth uses journey_start_time, absent from the schema
        "live_multiple_964-207-0",  # ground truth uses question, the schema's only param is statement
    }
)
"""Items whose possible answer no call can satisfy (shared/research/bfcl.md §4.4); never used."""

MULTI_TURN_PREFIX = "multi_turn"


@dataclass(frozen=True)
class BfclItem:
    """One BFCL test entry with its possible answer, as read from the package's data files."""

    id: str
    category: str
    """TRBench category name (``simple``, ..., ``multi_turn_base``)."""
    turns: list[list[dict[str, str]]]
    """BFCL ``question``: a list of turns, each a list of ``{role, content}`` messages."""
    functions: list[dict[str, Any]]
    """Raw BFCL function docs; for multi-turn items those of the involved classes, in BFCL's order."""
    ground_truth: list[Any]
    """BFCL's ground truth (its answer file's line): allowed values per call, or call strings per turn."""
    entry: dict[str, Any]
    """The raw question entry (the multi-turn checker reads ``initial_config`` and ``involved_classes``)."""

    @property
    def is_multi_turn(self) -> bool:
        return self.category.startswith(MULTI_TURN_PREFIX)


def installed_bfcl_version() -> str | None:
    try:
        return importlib.metadata.version("bfcl-eval")
    except importlib.metadata.PackageNotFoundError:
        return None


def require_bfcl(multi_turn: bool = True) -> str:
    """The installed ``bfcl-eval`` version; raises with install instructions when something is missing."""
    version = installed_bfcl_version()
    if version is None or importlib.util.find_spec("bfcl_eval") is None:
        raise BfclNotInstalledError(
            "the TRBench-BFCL builder reads BFCL data and checkers from the bfcl-eval package, which is not "
            f"installed; install it without its ~150 declared dependencies: `{INSTALL_HINT}`"
        )
    if multi_turn and importlib.util.find_spec("mpmath") is None:
        raise BfclNotInstalledError(
            f"BFCL's multi-turn MathAPI back-end needs mpmath, which is not installed: `pip install mpmath` "
            f"(or `{INSTALL_HINT}`)"
        )
    return version


def version_mismatch_warning(version: str | None) -> str | None:
    """A warning when the installed release differs from the one the shipped data was built from."""
    if version is None or version == PINNED_BFCL_EVAL_VERSION:
        return None
    return (
        f"bfcl-eval {version} is installed, but the shipped TRBench-BFCL data was built from "
        f"bfcl-eval {PINNED_BFCL_EVAL_VERSION}; BFCL changes its data between releases, so a build "
        f"(and --check) will differ from the shipped files. For a reproducible build: `{INSTALL_HINT}`"
    )


def bfcl_data_dir() -> Path:
    """``bfcl_eval/data`` of the installed package; the error names the pinned release."""
    return bfcl_files.bfcl_data_dir(INSTALL_HINT)


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """BFCL's ``*.json`` data files are JSON Lines; errors name the file and line."""
    return [row for _, row in iter_json_lines(path)]


@cache
def multi_turn_function_docs(class_name: str) -> tuple[dict[str, Any], ...]:
    """Function docs of one multi-turn back-end class, from the file BFCL's own mapping names."""
    from bfcl_eval.constants.executable_backend_config import MULTI_TURN_FUNC_DOC_FILE_MAPPING

    if class_name not in MULTI_TURN_FUNC_DOC_FILE_MAPPING:
        raise ValueError(f"unknown BFCL multi-turn class {class_name!r}")
    path = bfcl_files.multi_turn_func_doc_path(bfcl_data_dir(), MULTI_TURN_FUNC_DOC_FILE_MAPPING[class_name])
    return tuple(read_json_lines(path))


def _functions_of(entry: dict[str, Any], multi_turn: bool) -> list[dict[str, Any]]:
    if not multi_turn:
        return entry["function"]
    # the same join as bfcl_eval.utils.populate_test_cases_with_predefined_functions (not imported: it mkdirs)
    return [doc for class_name in entry["involved_classes"] for doc in multi_turn_function_docs(class_name)]


@cache
def load_category(name_or_code: str) -> tuple[BfclItem, ...]:
    """A category's BFCL items in file order, without the known-broken ones."""
    category: Category = resolve_category(name_or_code)
    data_dir = bfcl_data_dir()
    question_path = data_dir / bfcl_files.question_relative_path(category.bfcl_category)
    answer_path = data_dir / bfcl_files.answer_relative_path(category.bfcl_category)
    for path in (question_path, answer_path):
        if not path.exists():
            raise FileNotFoundError(
                f"BFCL data file {path} not found (category {category.name}); expected bfcl-eval "
                f"{PINNED_BFCL_EVAL_VERSION}: `{INSTALL_HINT}`"
            )
    questions = read_json_lines(question_path)
    answers = read_json_lines(answer_path)
    if len(questions) != len(answers):
        raise ValueError(
            f"{question_path} has {len(questions)} entries but {answer_path} has {len(answers)}; "
            "expected the two files aligned line by line"
        )
    multi_turn = category.name.startswith(MULTI_TURN_PREFIX)
    items = []
    for line_no, (question, answer) in enumerate(zip(questions, answers, strict=True), start=1):
        if question["id"] != answer["id"]:
            raise ValueError(
                f"{answer_path}, line {line_no}: id {answer['id']!r} does not match {question['id']!r} "
                f"on the same line of {question_path}"
            )
        if question["id"] in BROKEN_IDS:
            continue
        items.append(
            BfclItem(
                id=question["id"],
                category=category.name,
                turns=question["question"],
                functions=_functions_of(question, multi_turn),
                ground_truth=answer["ground_truth"],
                entry=question,
            )
        )
    return tuple(items)
