"""Columns that say which gaps are real, and what a row cost: added to a finished, ordered table.

- **95% CI** of the primary column: the run's own bootstrap interval (``<metric>_ci_lower`` /
  ``_ci_upper`` in its results), shown as Chatbot Arena does, ``+upper/−lower`` around the value;
- **Rank**: Arena's rank bounds over the ranked rows (measured, complete, not a ``--limit`` sample):
  best = 1 + rows whose lower bound is above this row's upper bound; worst = rows whose upper
  bound is not below its lower bound. ``1–3`` reads "somewhere between first and third";
- **Δ base (95% CI, p)** and **vs above**: the paired difference of the primary column against
  the row's base model and against the row above it, on the same units, from the sample logs
  (:mod:`toolrm_leaderboard.paired`); rows measured on different units are never compared, the
  cell says ``≠ units`` and a note says why;
- **cost**: seconds per pair or item (lm-eval's ``total_evaluation_time_seconds`` over the units,
  when the results file holds this task alone), judge output tokens and judge calls per item
  (Best-of-N's ``gen_tokens`` / ``judge_calls``, self-correction's ``total_output_tokens``).

Each column appears only when some row has a value for it, so tables of runs without intervals,
sample logs or timings look as before.
"""

from __future__ import annotations

import itertools

from harness_tasks import uncertainty
from toolrm_leaderboard.paired import compare, format_comparison, format_interval
from toolrm_leaderboard.table import NUMBER, TEXT, Column, Row, Table, _base_row
from toolrm_leaderboard.task_names import FC_PAIRWISE, FC_POINTWISE, PLAN, TRBENCH


COST_COLUMNS = (
    ("seconds_per_unit", "s/{unit}", "seconds of the whole evaluation per {unit} (wall clock)"),
    ("tokens_per_unit", "tok/{unit}", "judge output tokens per {unit}"),
    ("calls_per_unit", "calls/{unit}", "judge calls (generations or RM forwards) per {unit}"),
)

COST_UNITS = {TRBENCH: "pair", FC_PAIRWISE: "pair", PLAN: "pair", FC_POINTWISE: "row"}
"""What a table's cost columns count per (Best-of-N and self-correction: items)."""


def add_statistics_columns(table: Table) -> None:
    primary = table.column(table.primary)
    after_primary: list[Column] = []
    if any(
        table.primary in row.intervals and row.values.get(table.primary) is not None for row in table.rows
    ):
        for row in table.rows:
            value = row.values.get(table.primary)
            if table.primary in row.intervals and isinstance(value, int | float):
                row.values["ci"] = format_interval(float(value), row.intervals[table.primary])
        after_primary.append(
            Column(
                "ci", "95% CI", TEXT, f"95% bootstrap interval of {primary.header} (+upper/−lower, points)"
            )
        )
        if _add_ranks(table):
            after_primary.append(
                Column("rank", "Rank", TEXT, f"Arena rank bounds by the {primary.header} intervals")
            )
    _insert_after(table, table.primary, after_primary)
    _insert_after(table, "delta", _add_comparisons(table))
    unit = COST_UNITS.get(table.table_id, "item")
    for key, header, description in COST_COLUMNS:
        if any(isinstance(row.values.get(key), int | float) for row in table.rows):
            table.columns.append(Column(key, header.format(unit=unit), NUMBER, description.format(unit=unit)))


def _ranked(table: Table, row: Row) -> bool:
    skips_partial = table.column(table.primary).skips_partial_rows
    return not row.reported and not row.sampled and not (skips_partial and row.partial)


def _add_ranks(table: Table) -> bool:
    ranked = [row for row in table.rows if _ranked(table, row) and table.primary in row.intervals]
    if len(ranked) < 2:
        return False
    for row, bounds in zip(
        ranked, uncertainty.rank_bounds([r.intervals[table.primary] for r in ranked]), strict=True
    ):
        row.values["rank"] = (
            str(bounds.best) if bounds.best == bounds.worst else f"{bounds.best}–{bounds.worst}"
        )
    return True


def _add_comparisons(table: Table) -> list[Column]:
    header = table.column(table.primary).header
    measured = [row for row in table.rows if row.units is not None and not row.reported]
    if not measured:
        return []
    columns = []
    with_base = False
    for row in measured:
        base = _base_row(table, row) if row.base_key else None
        if base is not None and base.units is not None:
            row.values["delta_paired"] = _compared(table, row, base)
            with_base = True
    if with_base:
        columns.append(
            Column("delta_paired", "Δ base (95% CI, p)", TEXT,
                   f"{header} minus the base model's on the same units: paired bootstrap interval, p-value")
        )  # fmt: skip
    above_found = False
    for above, row in itertools.pairwise(measured):
        row.values["vs_above"] = _compared(table, row, above)
        above_found = True
    if above_found:
        columns.append(
            Column("vs_above", "vs above (95% CI, p)", TEXT,
                   f"{header} minus the row above's (among rows with sample logs), paired on the same units")
        )  # fmt: skip
    without = [row.label for row in table.rows if row.units is None and not row.reported]
    if columns and without:
        table.notes.append(
            "paired comparisons need the run's sample log (--log_samples); none for: " + ", ".join(without)
        )
    return columns


def _compared(table: Table, row: Row, other: Row) -> str:
    comparison = compare(row.units, other.units, other.label)  # type: ignore[arg-type]
    if comparison.difference is None:
        table.notes.append(
            f"{row.label} ({row.variant}) and {other.label} ({other.variant}): "
            f"not compared, {comparison.reason}"
        )
    return format_comparison(comparison)


def _insert_after(table: Table, key: str, columns: list[Column]) -> None:
    if not columns:
        return
    keys = [c.key for c in table.columns]
    position = keys.index(key) + 1 if key in keys else len(keys)
    table.columns[position:position] = columns
