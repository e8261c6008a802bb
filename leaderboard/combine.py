"""Deciding which results may share a table, and which run fills each row.

Two rules keep a table honest (see README, "Compatibility" and "Duplicate runs"):

* every result of one task must come from one task version, and every result in a table from one
  data build and (for full runs not made with ``--limit``) one number of problems; otherwise the
  table is refused with the files and values that differ;
* a row is filled by one run (or by per-category runs covering distinct categories). Two runs
  that would fill the same cell are an error, unless ``dedupe="latest"`` asks to keep the most
  recent run; the runs left out are listed in the notes. Nothing is ever averaged across runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.read import TaskResult


DEDUPE_RULES = ("error", "latest")


@dataclass(frozen=True)
class RowRun:
    """The results that fill one table row: one full run, or per-category runs of distinct categories."""

    model_key: str
    variant: str
    full: TaskResult | None
    by_category: dict[str, TaskResult]

    @property
    def parts(self) -> list[TaskResult]:
        return [self.full] if self.full is not None else list(self.by_category.values())


def check_compatible(results: list[TaskResult]) -> None:
    """Refuse results of one benchmark that mix task versions or data builds."""
    by_task: dict[str, dict[str, list[TaskResult]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        by_task[result.task.canonical][result.version].append(result)
    for canonical, versions in by_task.items():
        if len(versions) > 1:
            found = "; ".join(f"version {v} in {_files(rs)}" for v, rs in sorted(versions.items()))
            raise LeaderboardInputError(
                f"task versions differ for {canonical}: {found}. Results of different task versions are "
                "not comparable; evaluate every model with one version, or pass only one version's files."
            )
    builds: dict[str, list[TaskResult]] = defaultdict(list)
    for result in results:
        builds[result.data_build].append(result)
    if len(builds) > 1:
        found = "; ".join(f"{build!r} in {_files(rs)}" for build, rs in sorted(builds.items()))
        raise LeaderboardInputError(
            f"results come from different data builds: {found}. Accuracies on different data are not "
            "comparable; make one leaderboard per data build (pass only the files of one build)."
        )
    _check_same_problems(results)


def _check_same_problems(results: list[TaskResult]) -> None:
    """Refuse full runs of one table that scored different numbers of problems (same build, other
    items: e.g. a self-correction run restricted with ``categories``). ``--limit`` runs are exempt:
    they are tagged as samples and never ranked."""
    counts: dict[float, list[TaskResult]] = defaultdict(list)
    for result in results:
        problems = result.metrics.get("n_problems")
        if result.limit is None and result.task.category is None and problems is not None:
            counts[problems].append(result)
    if len(counts) > 1:
        found = "; ".join(f"{count:g} problems in {_files(rs)}" for count, rs in sorted(counts.items()))
        raise LeaderboardInputError(
            f"results score different numbers of problems: {found}. Accuracies over different items "
            "are not comparable in one ranking; make one leaderboard per item set."
        )


def assemble_rows(
    results: Iterable[TaskResult], model_key: Callable[[str], str], dedupe: str = "error"
) -> tuple[list[RowRun], list[str]]:
    """Group results into rows by (model, variant), applying the duplicate rule.

    ``model_key`` maps an lm-eval ``model_name`` to its metadata key, so two names of one model
    (aliases) are recognised as the same model.
    """
    if dedupe not in DEDUPE_RULES:
        raise LeaderboardInputError(
            f"unknown duplicate rule {dedupe!r}; expected one of {', '.join(DEDUPE_RULES)}"
        )
    groups: dict[tuple[str, str, int | None], list[TaskResult]] = defaultdict(list)
    for result in results:
        # a Best-of-N size variant (``_n4``) is a run of its own; the curve table joins them
        groups[(model_key(result.model_name), result.task.variant, result.task.size)].append(result)
    rows, notes = [], []
    for (key, variant, _size), group in groups.items():
        row, dropped = _pick_runs(key, variant, group, dedupe)
        rows.append(row)
        notes.extend(
            f"--dedupe latest: left out {r.where}, run {_when(r)}; the row of {key} ({variant}) shows "
            "a later run (or the full run, which takes precedence over per-category runs)"
            for r in dropped
        )
    return rows, notes


def _pick_runs(
    key: str, variant: str, group: list[TaskResult], dedupe: str
) -> tuple[RowRun, list[TaskResult]]:
    full = [r for r in group if r.task.category is None]
    by_category: dict[str, list[TaskResult]] = defaultdict(list)
    for result in group:
        if result.task.category is not None:
            by_category[result.task.category].append(result)
    what = f"model {key!r} ({variant})"
    if dedupe == "error":
        if len(full) > 1:
            _duplicate_error(what, full, "several full runs")
        if full and by_category:
            _duplicate_error(
                what,
                full + [r for rs in by_category.values() for r in rs],
                "a full run and per-category runs",
            )
        for category, runs in by_category.items():
            if len(runs) > 1:
                _duplicate_error(what, runs, f"several runs of category {category}")
        return RowRun(
            key, variant, full[0] if full else None, {c: rs[0] for c, rs in by_category.items()}
        ), []
    if full:
        kept = _latest(what, full)
        return RowRun(key, variant, kept, {}), [r for r in group if r is not kept]
    kept_by_category = {category: _latest(what, runs) for category, runs in by_category.items()}
    kept_ids = {id(r) for r in kept_by_category.values()}
    return RowRun(key, variant, None, kept_by_category), [r for r in group if id(r) not in kept_ids]


def _latest(what: str, runs: list[TaskResult]) -> TaskResult:
    ordered = sorted(runs, key=lambda r: r.date, reverse=True)
    if len(ordered) > 1 and ordered[0].date == ordered[1].date:
        raise LeaderboardInputError(
            f"duplicate results for {what} with the same run date, so --dedupe latest cannot choose: "
            f"{_described(ordered[:2])}. Keep one of them (e.g. run one task name, not both "
            "trbench_bfcl and trbench_bfcl_think)."
        )
    return ordered[0]


def _duplicate_error(what: str, runs: list[TaskResult], kind: str) -> None:
    raise LeaderboardInputError(
        f"duplicate results for {what}: {kind}: {_described(runs)}. A row is filled by one run and runs "
        "are never averaged; remove the extra files, or pass --dedupe latest to keep the most recent run."
    )


def _described(runs: list[TaskResult]) -> str:
    return "; ".join(f"{r.file} (task {r.task.name}, run {_when(r)})" for r in runs)


def _files(results: list[TaskResult], shown: int = 3) -> str:
    """The results holding one value; a long list is cut (the odd one out is usually the short list)."""
    described = sorted({f"{r.file} (task {r.task.name}, model {r.model_name})" for r in results})
    if len(described) <= shown:
        return ", ".join(described)
    return f"{len(described)} results, e.g. " + ", ".join(described[:shown]) + ", ..."


def _when(result: TaskResult) -> str:
    return datetime.fromtimestamp(result.date, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
