"""Assembling :class:`~toolrm_leaderboard.table.Table` objects from checked results (and the paper's rows).

One table per benchmark: TRBench-BFCL (nine categories, Avg, W-Avg), Best-of-N and
self-correction (one column per N). Each is checked for compatibility on its own, so a folder
holding all three kinds of results gives three tables.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from harness_tasks.categories import CATEGORIES
from toolrm_leaderboard.combine import RowRun, assemble_rows, check_compatible
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.metadata import ModelCatalog, ModelInfo
from toolrm_leaderboard.paper import PAPER_CITATION, PAPER_DATA_BUILD, paper_rows
from toolrm_leaderboard.read import CURVE_METRIC_PREFIXES, TaskResult, curve_points
from toolrm_leaderboard.table import (
    COUNT,
    DELTA,
    PERCENT,
    SCORE,
    Column,
    Row,
    Table,
    compute_deltas,
    mark_best_and_second,
    order_rows,
)
from toolrm_leaderboard.task_names import BEST_OF_N, SELF_CORRECTION, TRBENCH


@dataclass(frozen=True)
class BuildOptions:
    with_paper: bool = False
    """Add the paper's reported TRBench-BFCL rows beside ours."""
    dedupe: str = "error"
    """Duplicate runs of one model and variant: ``error`` or ``latest`` (see README)."""
    descending: bool = True
    """Best rows first within each family (the paper lists them last: ``descending=False``)."""


@dataclass(frozen=True)
class CurveSpec:
    benchmark: str
    title: str
    x_label: str
    column_prefix: str
    """Header of a column: ``N=4``."""
    key_prefix: str
    """Key of a column (HTML sorting, chart file names): ``n4``."""

    def key(self, x: int) -> str:
        return f"{self.key_prefix}{x}"


CURVES = (
    CurveSpec(BEST_OF_N, "Best-of-N", "N (candidates per problem)", "N=", "n"),
    CurveSpec(SELF_CORRECTION, "Self-correction", "correction rounds", "R=", "r"),
)

TRBENCH_CAPTION = (
    "TRBench-BFCL: pair accuracy (%) of reward models judging tool calls, per BFCL category; "
    "Avg = unweighted mean of the nine categories, W-Avg = accuracy over all pairs; "
    "Δ = W-Avg gain over the base model."
)


def build_tables(
    results: list[TaskResult], catalog: ModelCatalog, options: BuildOptions = BuildOptions()
) -> list[Table]:
    """Every table the results (and options) call for; each carries its own notes for the reader."""
    by_benchmark: dict[str, list[TaskResult]] = defaultdict(list)
    for result in results:
        by_benchmark[result.task.benchmark].append(result)
    tables = []
    if by_benchmark[TRBENCH] or options.with_paper:
        tables.append(build_trbench_table(by_benchmark[TRBENCH], catalog, options))
    for spec in CURVES:
        if by_benchmark[spec.benchmark]:
            tables.append(build_curve_table(spec, by_benchmark[spec.benchmark], catalog, options))
    if not tables:
        raise LeaderboardInputError(
            "nothing to show: the inputs hold no TRBench results (tasks trbench_bfcl*, trbench_bon_*, "
            "trbench_selfcorrect_*) and --with-paper was not given"
        )
    return tables


def build_trbench_table(results: list[TaskResult], catalog: ModelCatalog, options: BuildOptions) -> Table:
    check_compatible(results)
    runs, notes = assemble_rows(results, catalog.key_for, options.dedupe)
    columns = [
        *(
            Column(c.code, c.code, SCORE, f"{c.name} ({c.release_pairs} pairs in the release)")
            for c in CATEGORIES
        ),
        Column("avg", "Avg", SCORE, "unweighted mean of the category accuracies", skips_partial_rows=True),
        Column(
            "w_avg",
            "W-Avg",
            SCORE,
            "accuracy over all pairs (categories weigh by size)",
            skips_partial_rows=True,
        ),
        Column("delta", "Δ", DELTA, "W-Avg gain over the base model, in points"),
        Column("parse", "Parse", PERCENT, "answers in the expected format (1 − invalid_rate); judges only"),
        Column("pairs", "Pairs", COUNT, "pairs scored"),
    ]
    rows = []
    for run in runs:
        row, row_notes = _trbench_row(run, catalog)
        rows.append(row)
        notes.extend(row_notes)
    caption = TRBENCH_CAPTION + _provenance(results)
    if options.with_paper:
        rows.extend(paper_rows())
        caption += (
            f" Rows tagged [reported] are reported in the paper ({PAPER_CITATION}) on {PAPER_DATA_BUILD}; "
            "they are not measured by us."
        )
    table = Table(TRBENCH, "TRBench-BFCL", columns, "w_avg", rows, caption=caption)
    table.notes.extend(notes)
    return _finish(table, options)


def build_curve_table(
    spec: CurveSpec, results: list[TaskResult], catalog: ModelCatalog, options: BuildOptions
) -> Table:
    check_compatible(results)
    runs, notes = assemble_rows(results, catalog.key_for, options.dedupe)
    xs = sorted({x for r in results for x in curve_points(r.task, r.metrics)})
    columns = [
        Column(spec.key(x), f"{spec.column_prefix}{x}", SCORE, f"accuracy at {spec.x_label} = {x}", x=x)
        for x in xs
    ]
    columns.append(
        Column("delta", "Δ", DELTA, f"gain over the base model at {spec.column_prefix}{xs[-1]}, in points")
    )
    if any("n_problems" in r.metrics for r in results):
        columns.append(Column("problems", "Problems", COUNT, "problems scored"))
    rows = []
    for run in runs:
        result = run.full
        assert result is not None  # curve tasks have no per-category variants
        info, note = catalog.resolve(result.model_name, run.variant)
        notes.extend([note] if note else [])
        points = curve_points(result.task, result.metrics)
        metric_prefix = CURVE_METRIC_PREFIXES[spec.benchmark]
        values: dict[str, float | int | None] = {spec.key(x): _percent(points.get(x)) for x in xs}
        values["problems"] = _as_count(result.metrics.get("n_problems"))
        stderr = {spec.key(x): _percent(result.stderr.get(f"{metric_prefix}{x}")) for x in xs}
        missing = [f"{spec.column_prefix}{x}" for x in xs if values[spec.key(x)] is None]
        row = _row(info, run, values, stderr, partial=bool(missing), files=[result])
        rows.append(row)
        if missing:
            notes.append(f"{row.label} ({run.variant}) is partial: no value at {', '.join(missing)}")
    table = Table(
        spec.benchmark, spec.title, columns, spec.key(xs[-1]), rows,
        caption=f"{spec.title}: accuracy (%) by {spec.x_label}." + _provenance(results),
        x_label=spec.x_label,
    )  # fmt: skip
    table.notes.extend(notes)
    return _finish(table, options)


def _trbench_row(run: RowRun, catalog: ModelCatalog) -> tuple[Row, list[str]]:
    parts = run.parts
    info, note = catalog.resolve(parts[0].model_name, run.variant)
    notes = [note] if note else []
    values: dict[str, float | int | None] = {}
    stderr: dict[str, float | None] = {}
    for category in CATEGORIES:
        source = run.full or run.by_category.get(category.name)
        metric = f"acc_{category.name}"
        value = None if source is None else source.metrics.get(metric)
        values[category.code] = None if value is None else value * 100
        stderr[category.code] = None if source is None else _percent(source.stderr.get(metric))
    # Avg and W-Avg are taken from the run, never recomputed from the cells shown
    for metric in ("avg", "w_avg"):
        value = run.full.metrics[metric] if run.full else None
        values[metric] = None if value is None else value * 100
        stderr[metric] = _percent(run.full.stderr.get(metric)) if run.full else None
    invalid = [p.metrics.get("invalid_rate") for p in parts]
    single_judge_run = len(parts) == 1 and run.variant != "disc" and invalid[0] is not None
    values["parse"] = (1 - invalid[0]) * 100 if single_judge_run else None
    counts = [_as_count(p.metrics.get("n_pairs")) for p in parts]
    values["pairs"] = None if None in counts else sum(counts)  # type: ignore[arg-type]
    missing = [c.code for c in CATEGORIES if values[c.code] is None]
    row = _row(info, run, values, stderr, partial=bool(missing), files=parts)
    if missing:
        covered = [c.code for c in CATEGORIES if values[c.code] is not None]
        averages = "Avg and W-Avg cover only these" if run.full else "no Avg or W-Avg (per-category runs)"
        notes.append(f"{row.label} ({run.variant}) is partial: categories {', '.join(covered)}; {averages}")
    limits = sorted({p.limit for p in parts if p.limit is not None})
    if limits:
        notes.append(
            f"{row.label} ({run.variant}) was run with --limit {', '.join(map(str, limits))}: "
            f"a sample of {values['pairs']} pairs, not the whole benchmark"
        )
    return row, notes


def _row(
    info: ModelInfo,
    run: RowRun,
    values: dict[str, float | int | None],
    stderr: dict[str, float | None],
    partial: bool,
    files: list[TaskResult],
) -> Row:
    return Row(
        label=info.display_name,
        model_key=info.key,
        family=info.family,
        variant=run.variant,
        values=values,
        stderr=stderr,
        ours=info.ours,
        partial=partial,
        sampled=any(r.limit is not None for r in files),
        base_key=info.base_model,
        base_variant=info.base_variant,
        files=tuple(str(r.file) for r in files),
    )


def _finish(table: Table, options: BuildOptions) -> Table:
    table.notes.extend(compute_deltas(table))
    mark_best_and_second(table)
    order_rows(table, descending=options.descending)
    return table


def _provenance(results: list[TaskResult]) -> str:
    if not results:
        return ""
    versions = sorted({f"{r.task.canonical} v{r.version}" for r in results})
    return f" Data build: {results[0].data_build}. Tasks: {', '.join(versions)}."


def _percent(value: float | None) -> float | None:
    return None if value is None else value * 100


def _as_count(value: float | None) -> int | None:
    return None if value is None else round(value)
