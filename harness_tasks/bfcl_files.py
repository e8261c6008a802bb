"""Where BFCL keeps its data: the one module that knows BFCL's file names and folders.

The ``bfcl-eval`` package ships its data under ``bfcl_eval/data``:

* questions of category ``<c>`` in ``BFCL_v4_<c>.json`` (JSON Lines), e.g. ``simple_python``;
* their ground truths, line for line, in ``possible_answer/`` under the same file name;
* retired sets (``exec_*``, ``sql``) in ``unused_datasets/question/`` with answers in
  ``unused_datasets/possible_answer/``;
* the multi-turn back-ends' function docs in ``multi_turn_func_doc/``, one file per class (BFCL's
  own ``MULTI_TURN_FUNC_DOC_FILE_MAPPING`` names it).

Everything else (the TRBench builder, the ToolPref pipeline, Best-of-N, self-correction) speaks of
BFCL *categories* and asks this module for paths, so a BFCL release that moves its files is one
edit here.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path


FILE_PREFIX = "BFCL_v4_"
"""BFCL v4 data files are ``BFCL_v4_<category>.json`` (v4 renamed ``simple`` to ``simple_python``)."""

ANSWER_FOLDER = "possible_answer"
"""Ground truths sit in this folder beside the questions, under the question file's name."""

MULTI_TURN_FUNC_DOC_FOLDER = "multi_turn_func_doc"

UNUSED_QUESTION_FOLDER = "unused_datasets/question"
"""Retired sets (never part of TRBench-BFCL); answers in ``unused_datasets/possible_answer``."""

UNUSED_CATEGORIES = ("exec_simple", "exec_multiple", "exec_parallel", "exec_parallel_multiple", "sql")

_ANY_VERSION_PREFIX = re.compile(r"^BFCL_v\d+_")


class BfclNotInstalledError(RuntimeError):
    """``bfcl-eval`` (or ``mpmath``, for multi-turn back-ends) is missing; the message says how to install."""


def bfcl_data_dir(install_hint: str = "pip install bfcl-eval") -> Path:
    """``bfcl_eval/data`` of the installed package."""
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise BfclNotInstalledError(f"bfcl-eval is not installed: `{install_hint}`")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def question_file_name(bfcl_category: str) -> str:
    """``simple_python`` → ``BFCL_v4_simple_python.json``."""
    return f"{FILE_PREFIX}{bfcl_category}.json"


def question_relative_path(bfcl_category: str) -> str:
    """The question file of a category, relative to ``bfcl_eval/data`` (retired sets included)."""
    name = question_file_name(bfcl_category)
    return f"{UNUSED_QUESTION_FOLDER}/{name}" if bfcl_category in UNUSED_CATEGORIES else name


def answer_relative_path(bfcl_category: str) -> str:
    """The ground-truth file of a category, relative to ``bfcl_eval/data``."""
    question = Path(question_relative_path(bfcl_category))
    folder = question.parent.parent if bfcl_category in UNUSED_CATEGORIES else question.parent
    return (folder / ANSWER_FOLDER / question.name).as_posix()


def multi_turn_func_doc_path(data_dir: Path, doc_file_name: str) -> Path:
    """A multi-turn back-end class's function-doc file, named by BFCL's own mapping."""
    return data_dir / MULTI_TURN_FUNC_DOC_FOLDER / doc_file_name


def answer_file_beside(question_file: Path) -> Path | None:
    """The ground-truth file of any BFCL-layout question file: ``possible_answer/<same name>`` beside
    the file or one folder up (as for ``unused_datasets/question``); ``None`` when there is none."""
    for directory in (question_file.parent, question_file.parent.parent):
        candidate = directory / ANSWER_FOLDER / question_file.name
        if candidate.exists() and candidate != question_file:
            return candidate
    return None


def category_of_file_stem(stem: str) -> str:
    """``BFCL_v4_live_simple`` (any BFCL version) → ``live_simple``; other stems unchanged."""
    return _ANY_VERSION_PREFIX.sub("", stem)
