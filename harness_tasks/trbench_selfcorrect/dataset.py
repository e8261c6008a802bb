"""Load the self-correction items as lm-eval documents (the ``custom_dataset`` hook)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

from harness_tasks.trbench_selfcorrect import items as item_files


def load_selfcorrect(
    *,
    task_sources: list[str] | str | None = None,
    sources: list[str] | str | None = None,
    categories: list[str] | str | None = None,
    items_file: str | None = None,
    data_build: str | None = None,
    checker: str = "source",
    **_ignored: Any,
) -> dict[str, datasets.Dataset]:
    """lm-eval ``custom_dataset`` hook.

    ``task_sources`` (the task's ``dataset_kwargs``), ``sources`` and ``categories`` (user options
    from ``--metadata``, comma-separated names) select items; ``items_file`` evaluates another
    build, whose ``data_build`` must then be passed too, so results always name the data they
    come from. ``checker`` (``source``, the default, or ``corrected``) is the reading answers are
    judged under (:func:`with_checker`). Everything else lm-eval passes (protocol, model
    arguments, ...) is ignored here.
    """
    path = Path(items_file) if items_file else item_files.ITEMS_FILE
    actual = item_files.data_build(path)
    if data_build != actual:
        raise ValueError(
            f"{path} is data build {actual}, but the task metadata declares {data_build}. To evaluate "
            f'another build, pass both: --metadata \'{{"items_file": "{path}", "data_build": "{actual}"}}\''
        )
    wanted_sources = [
        source
        for source in _names(task_sources) or list(item_files.SOURCES)
        if not _names(sources) or source in _names(sources)
    ]
    unknown = [s for s in [*_names(task_sources), *_names(sources)] if s not in item_files.SOURCES]
    if unknown:
        raise ValueError(
            f"unknown self-correction source(s) {unknown}; expected some of {list(item_files.SOURCES)}"
        )
    wanted_categories = _names(categories)
    items = [
        item
        for item in item_files.read_items(path)
        if item["source"] in wanted_sources
        and (not wanted_categories or item["category"] in wanted_categories)
    ]
    if not items:
        raise ValueError(
            f"{path}: no items left after selecting sources {wanted_sources}, categories {wanted_categories}"
        )
    items = [with_checker(item, checker) for item in items]
    return {"test": datasets.Dataset.from_list(item_files.stratified_order(items))}


def with_checker(item: dict[str, Any], checker: str) -> dict[str, Any]:
    """The item judged under ``checker``: the candidate's verdict (and the oracle critic's message)
    under that reading, and whether the two readings disagree on the candidate.

    The stored verdict is the source's own reading; under ``corrected`` the candidate is re-checked.
    """
    from harness_tasks.acebench import CORRECTED, READINGS, SOURCE
    from harness_tasks.trbench_selfcorrect.checking import check_response

    if checker not in READINGS:
        raise ValueError(f"checker must be one of {READINGS}, got {checker!r}")
    other = check_response(item, item["candidate"], CORRECTED if checker == SOURCE else SOURCE)
    judged = {**item, "checker": checker}
    if checker == CORRECTED:
        judged |= {
            "candidate_correct": other.correct,
            "error_type": "" if other.correct else other.error_type,
            "checker_message": "" if other.correct else other.message,
        }
        other = check_response(item, item["candidate"], SOURCE)
    judged["candidate_readings_disagree"] = other.correct != judged["candidate_correct"]
    return judged


def _names(value: list[str] | str | None) -> list[str]:
    if not value:
        return []
    names = value.split(",") if isinstance(value, str) else value
    return [name.strip() for name in names if name.strip()]
