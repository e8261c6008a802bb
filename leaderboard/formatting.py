"""Text shared by all renderers: how a value, a row label and the legend read.

Each renderer adds only its own markup (``**``, ``\\textbf``, ``<strong>``) around these strings,
so a number or tag reads the same in the Markdown, LaTeX, HTML and terminal tables.
"""

from __future__ import annotations

import re

from toolrm_leaderboard.table import COUNT, DELTA, MARKER_LEGEND, MARKERS, TEXT, Column, Row, Table


DASH = "–"
"""Shown for a value the run did not produce (a category it did not cover, no base for Δ)."""

REPORTED_TAG = "[reported]"
PARTIAL_TAG = "[partial]"
SAMPLE_TAG = "[sample]"


_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def one_line(text: str) -> str:
    """Control characters and line breaks (also U+2028/U+2029) as one space: a model name is one line
    in every output (a newline would end a Markdown table row or start a LaTeX paragraph)."""
    return _LINE_BREAKS.sub(" ", text)


def format_value(column: Column, value: float | int | str | None) -> str:
    if value is None:
        return DASH
    if column.kind == TEXT:
        return str(value)
    if column.kind == COUNT:
        return f"{int(value):d}"
    if column.kind == DELTA:
        return f"{value:+.2f}"
    return f"{value:.2f}"


def row_tags(row: Row) -> list[str]:
    """Tags after a row's name: where the numbers come from and whether the row is complete."""
    tags = ((REPORTED_TAG, row.reported), (PARTIAL_TAG, row.partial), (SAMPLE_TAG, row.sampled))
    return [tag for tag, present in tags if present]


def legend_lines(table: Table) -> list[str]:
    """What the marks, symbols and tags of this table mean (without the markup of the marks)."""
    competitors = "measured rows only" if any(not r.reported for r in table.rows) else "all rows"
    averages = [c.header for c in table.columns if c.skips_partial_rows]
    partial = f"; {' and '.join(averages)} only rows covering every category" if averages else ""
    lines = [f"Marks compare {competitors}{partial}"]
    used = [variant for variant in MARKERS if any(r.variant == variant for r in table.rows)]
    if used:
        lines.append("; ".join(f"{MARKERS[v]} {MARKER_LEGEND[v]}" for v in used))
    if any(r.reported for r in table.rows):
        lines.append(f"{REPORTED_TAG}: reported in {table.reported_source}, not measured by us")
    if any(r.partial for r in table.rows):
        lines.append(f"{PARTIAL_TAG}: the run covers only some columns (see notes)")
    if any(r.sampled for r in table.rows):
        lines.append(f"{SAMPLE_TAG}: run with --limit on a sample of the pairs; not ranked")
    lines.append(f"{DASH}: not measured")
    return lines
