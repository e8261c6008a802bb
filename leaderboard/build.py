"""Assembling :class:`~toolrm_leaderboard.table.Table` objects from checked results (and the paper's rows).

One table per benchmark: TRBench-BFCL (nine categories, Avg, W-Avg), Best-of-N and
self-correction (one column per N). Each is checked for compatibility on its own, so a folder
holding all three kinds of results gives three tables.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from harness_tasks.categories import CATEGORIES
from toolrm_leaderboard.combine import RowRun, assemble_rows, check_compatible
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.metadata import ModelCatalog, ModelInfo
from toolrm_leaderboard.paired import read_unit_scores
from toolrm_leaderboard.paper import PAPER_CITATION, PAPER_DATA_BUILD, paper_rows
from toolrm_leaderboard.read import CURVE_METRIC_PREFIXES, TaskResult, curve_points, reference_points
from toolrm_leaderboard.reward_bench_specs import REWARD_BENCH_SPECS, RewardBenchSpec
from toolrm_leaderboard.statistics_columns import add_statistics_columns
from toolrm_leaderboard.table import (
    COUNT,
    DELTA,
    ORACLE_LABEL,
    PERCENT,
    RANDOM_LABEL,
    SCORE,
    Column,
    Row,
    Table,
    compute_deltas,
    mark_best_and_second,
    order_rows,
    shown,
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
    for bench in REWARD_BENCH_SPECS:
        with_reported = options.with_paper and bench.reported_rows is not None
        if by_benchmark[bench.benchmark] or with_reported:
            tables.append(build_reward_bench_table(bench, by_benchmark[bench.benchmark], catalog, options))
    if not tables:
        raise LeaderboardInputError(
            "nothing to show: the inputs hold no results of the leaderboard's tasks (trbench_bfcl*, "
            "trbench_bon_*, trbench_selfcorrect_*, fc_rewardbench*, plan_rewardbench*) "
            "and --with-paper was not given"
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
    joined: dict[tuple[str, str], list[TaskResult]] = defaultdict(list)
    for run in runs:
        assert run.full is not None  # curve tasks have no per-category variants
        joined[(run.model_key, run.variant)].append(run.full)
    rows = []
    for (_key, variant), parts in joined.items():
        parts.sort(key=lambda r: (_native_size(r), r.task.name))
        info, note = catalog.resolve(parts[0].model_name, variant)
        notes.extend([note] if note else [])
        label = f"{info.display_name} ({variant})"
        points, stderr_points, sources, join_notes = _join_curve(parts, label, spec)
        notes.extend(join_notes)
        values: dict[str, float | int | None] = {spec.key(x): _percent(points.get(x)) for x in xs}
        problems = {_as_count(p.metrics.get("n_problems")) for p in parts}
        values["problems"] = problems.pop() if len(problems) == 1 else None
        if values["problems"] is None and len(problems) > 0:
            counts = ", ".join(f"{p.task.name}: {_as_count(p.metrics.get('n_problems'))}" for p in parts)
            notes.append(f"{label}: its joined tasks scored different numbers of problems ({counts})")
        stderr = {spec.key(x): _percent(stderr_points.get(x)) for x in xs}
        missing = [f"{spec.column_prefix}{x}" for x in xs if values[spec.key(x)] is None]
        run = RowRun(info.key, variant, None, {})
        row = _row(info, run, values, stderr, partial=bool(missing), files=parts)
        _curve_statistics(row, spec, xs, sources, values.get("problems"))
        rows.append(row)
        if missing:
            notes.append(f"{row.label} ({variant}) is partial: no value at {', '.join(missing)}")
    table = Table(
        spec.benchmark, spec.title, columns, spec.key(xs[-1]), rows,
        caption=f"{spec.title}: accuracy (%) by {spec.x_label}." + _provenance(results),
        x_label=spec.x_label,
    )  # fmt: skip
    if spec.benchmark == BEST_OF_N:
        table.references, reference_notes = _references(results, spec, xs)
        notes.extend(reference_notes)
        if table.references:
            table.caption += (
                " Oracle: share of problems with any correct candidate; random choice: expected accuracy "
                "of picking a candidate uniformly (both from the tasks' oracle_at_n_<N> and random_at_n_<N>)."
            )
    table.notes.extend(notes)
    return _finish(table, options)


COST_METRICS = {
    BEST_OF_N: {"tokens_per_unit": "gen_tokens", "calls_per_unit": "judge_calls"},
    SELF_CORRECTION: {"tokens_per_unit": "total_output_tokens"},
}
"""Per-item cost metrics the curve tasks report (means over items)."""


def _curve_statistics(
    row: Row, spec: CurveSpec, xs: list[int], sources: dict[int, TaskResult], problems: object
) -> None:
    """Intervals of each point, per-unit outcomes and cost of the primary (largest) point's run."""
    prefix = CURVE_METRIC_PREFIXES[spec.benchmark]
    for x, source in sources.items():
        if f"{prefix}{x}" in source.intervals:
            row.intervals[spec.key(x)] = _percent_pair(source.intervals[f"{prefix}{x}"])
    primary = sources.get(xs[-1])
    if primary is not None:
        row.units = read_unit_scores(primary, f"{prefix}{xs[-1]}")
    if not sources:
        return
    largest = sources[max(sources)]  # the cost of the row's largest-N run
    for key, metric in COST_METRICS.get(spec.benchmark, {}).items():
        row.values[key] = largest.metrics.get(metric)
    if largest.seconds is not None and isinstance(problems, int) and problems:
        row.values["seconds_per_unit"] = largest.seconds / problems


def _native_size(result: TaskResult) -> int:
    """The N a Best-of-N task runs at: the largest N it reports (``acc_at_n_1`` comes with every task)."""
    return max(curve_points(result.task, result.metrics), default=0)


def _join_curve(
    parts: list[TaskResult], label: str, spec: CurveSpec
) -> tuple[dict[int, float | None], dict[int, float | None], dict[int, TaskResult], list[str]]:
    """One curve from the runs of one model and variant at several N (``_n4``, default, ``_n16``).

    Where several runs report the same N (every task reports ``acc_at_n_1``; a scalar task also
    every smaller power of two), the value shown comes from the run whose own N it is, else from
    the run with the largest N; a different value (as printed) in another run is named in a note,
    never averaged in.
    """
    metric_prefix = CURVE_METRIC_PREFIXES[spec.benchmark]
    by_x: dict[int, list[TaskResult]] = defaultdict(list)
    for part in parts:
        for x, value in curve_points(part.task, part.metrics).items():
            if value is not None:
                by_x[x].append(part)
    points: dict[int, float | None] = {}
    stderr: dict[int, float | None] = {}
    chosen_runs: dict[int, TaskResult] = {}
    notes = []
    for x, sources in sorted(by_x.items()):
        reported = {id(p): p.metrics[f"{metric_prefix}{x}"] * 100 for p in sources}  # type: ignore[operator]
        chosen = next((p for p in sources if _native_size(p) == x), max(sources, key=_native_size))
        points[x] = chosen.metrics[f"{metric_prefix}{x}"]
        stderr[x] = chosen.stderr.get(f"{metric_prefix}{x}")
        chosen_runs[x] = chosen
        value = reported[id(chosen)]
        others = [p for p in sources if shown(reported[id(p)]) != shown(value)]
        if others:
            differing = ", ".join(f"{p.task.name} {reported[id(p)]:.2f} ({p.file})" for p in others)
            notes.append(
                f"{label} at {spec.column_prefix}{x}: shows {value:.2f} from {chosen.task.name} "
                f"({chosen.file}); other runs report {differing}"
            )
    return points, stderr, chosen_runs, notes


def _references(
    results: list[TaskResult], spec: CurveSpec, xs: list[int]
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Oracle and random-choice rows: a property of the candidate sets, so every run reporting one
    at some N must agree (as printed); where runs disagree (different sets, e.g. ``--limit``) the
    point is left out and a note names the runs, rather than showing one run's sets as everyone's."""
    labels = {"oracle": ORACLE_LABEL, "random": RANDOM_LABEL}
    references: dict[str, dict[str, float]] = {}
    notes = []
    for kind, label in labels.items():
        reported: dict[int, list[tuple[TaskResult, float]]] = defaultdict(list)
        for result in results:
            for x, value in reference_points(result.metrics).get(kind, {}).items():
                if value is not None and x in xs:
                    reported[x].append((result, value * 100))
        line: dict[str, float] = {}
        for x, values in sorted(reported.items()):
            distinct = sorted({shown(v) for _, v in values})
            if len(distinct) == 1:
                line[spec.key(x)] = values[0][1]
                continue
            found = "; ".join(f"{v:.2f} in {r.file} (task {r.task.name})" for r, v in values)
            notes.append(
                f"{kind} at {spec.column_prefix}{x} differs between runs ({found}): their candidate sets "
                "differ (e.g. --limit), so no single baseline is shown there"
            )
        if line:
            references[label] = line
    return references, notes


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
    intervals = {}
    for key, metric, source in (
        *((c.code, f"acc_{c.name}", run.full or run.by_category.get(c.name)) for c in CATEGORIES),
        ("avg", "avg", run.full),
        ("w_avg", "w_avg", run.full),
    ):
        if source is not None and metric in source.intervals:
            intervals[key] = _percent_pair(source.intervals[metric])
    invalid = [p.metrics.get("invalid_rate") for p in parts]
    single_judge_run = len(parts) == 1 and run.variant != "disc" and invalid[0] is not None
    values["parse"] = (1 - invalid[0]) * 100 if single_judge_run else None
    counts = [_as_count(p.metrics.get("n_pairs")) for p in parts]
    values["pairs"] = None if None in counts else sum(counts)  # type: ignore[arg-type]
    if run.full is not None and run.full.seconds is not None and values["pairs"]:
        values["seconds_per_unit"] = run.full.seconds / values["pairs"]  # type: ignore[operator]
    tokens = run.full.metrics.get("output_tokens_per_pair") if run.full is not None else None
    if isinstance(tokens, int | float) and math.isfinite(tokens):  # NaN: the run named no tokenizer
        values["tokens_per_unit"] = tokens
    missing = [c.code for c in CATEGORIES if values[c.code] is None]
    row = _row(info, run, values, stderr, partial=bool(missing), files=parts)
    row.intervals = intervals
    row.units = read_unit_scores(run.full) if run.full is not None else None
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
    add_statistics_columns(table)
    return table


def build_reward_bench_table(
    spec: RewardBenchSpec, results: list[TaskResult], catalog: ModelCatalog, options: BuildOptions
) -> Table:
    """FC-RewardBench (pairwise or pointwise) or Plan-RewardBench: one row per model and variant,
    each from one full run; the sources' published rows beside them with ``--with-paper``."""
    check_compatible(results)
    runs, notes = assemble_rows(results, catalog.key_for, options.dedupe)
    rows = []
    for run in runs:
        assert run.full is not None  # these tasks have no per-category variants
        row, row_notes = _reward_bench_row(spec, run, catalog)
        rows.append(row)
        notes.extend(row_notes)
    caption = spec.caption + _provenance(results)
    table = Table(
        spec.benchmark, spec.title, [c.column for c in spec.columns], spec.primary, rows, caption=caption
    )
    if options.with_paper and spec.reported_rows is not None:
        table.rows.extend(spec.reported_rows())
        table.reported_source = spec.reported_source
        table.caption += (
            f" Rows tagged [reported] are reported in {spec.reported_source} on the full Hub release; "
            "they are not measured by us."
        )
    table.notes.extend(notes)
    return _finish(table, options)


def _reward_bench_row(spec: RewardBenchSpec, run: RowRun, catalog: ModelCatalog) -> tuple[Row, list[str]]:
    result = run.full
    assert result is not None
    info, note = catalog.resolve(result.model_name, run.variant)
    notes = [note] if note else []
    values: dict[str, float | int | None] = {}
    stderr: dict[str, float | None] = {}
    intervals: dict[str, tuple[float, float]] = {}
    for column in spec.columns:
        key, metric = column.column.key, column.metric
        if metric is None:
            continue
        value = result.metrics.get(metric)
        if value is None or (column.judges_only and run.variant == "disc"):
            values[key] = None
        elif column.column.kind == COUNT:
            values[key] = _as_count(value)
        else:
            values[key] = (1 - value if column.complement else value) * 100
        if column.column.kind == SCORE:
            stderr[key] = _percent(result.stderr.get(metric))
            if metric in result.intervals:
                intervals[key] = _percent_pair(result.intervals[metric])
    count_key = spec.columns[-1].column.key  # the count of scored units closes every table
    units = values.get(count_key)
    if result.seconds is not None and isinstance(units, int) and units:
        values["seconds_per_unit"] = result.seconds / units
    missing = [key for key in spec.partial_keys if values.get(key) is None]
    row = _row(info, run, values, stderr, partial=bool(missing), files=[result])
    row.intervals = intervals
    row.units = read_unit_scores(result)  # the primary metric's units, for the paired columns
    if missing:
        notes.append(f"{row.label} ({run.variant}) is partial: no value for {', '.join(missing)}")
    if result.limit is not None:
        notes.append(
            f"{row.label} ({run.variant}) was run with --limit {result.limit}: "
            f"a sample of {units} units, not the whole benchmark"
        )
    return row, notes


def _provenance(results: list[TaskResult]) -> str:
    if not results:
        return ""
    versions = sorted({f"{r.task.canonical} v{r.version}" for r in results})
    return f" Data build: {results[0].data_build}. Tasks: {', '.join(versions)}."


def _percent(value: float | None) -> float | None:
    return None if value is None else value * 100


def _percent_pair(interval: tuple[float, float]) -> tuple[float, float]:
    return interval[0] * 100, interval[1] * 100


def _as_count(value: float | None) -> int | None:
    return None if value is None else round(value)
