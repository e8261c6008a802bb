"""Charts of a table: W-Avg (the primary column) per model as bars, and accuracy-vs-N curves
(Best-of-N curves with the oracle and random-choice baselines as reference lines).

Drawn from the same :class:`~toolrm_leaderboard.table.Table` as the text tables, so a chart can never
show a row or number the tables do not. Matplotlib runs headless (Agg); SVG files carry no date,
so re-running on the same results gives the same file.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib


matplotlib.use("Agg")  # before pyplot: no display on CI or servers

import matplotlib.pyplot as plt

from toolrm_leaderboard.formatting import format_value, one_line, row_tags
from toolrm_leaderboard.metadata import FAMILIES
from toolrm_leaderboard.table import ORACLE_LABEL, RANDOM_LABEL, Row, Table


FAMILY_COLOURS = {"general": "#8c8c8c", "genrm": "#4c72b0", "discrm": "#dd8452"}
CHART_FORMATS = ("png", "svg")
_SAVE_OPTIONS = {"png": {"dpi": 150, "metadata": {"Software": None}}, "svg": {"metadata": {"Date": None}}}
_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "toolrm-leaderboard"}
"""SVG text stays text (searchable, small, styled by the page); fixed ids keep files reproducible."""


def render_charts(table: Table, formats: list[str]) -> dict[str, bytes]:
    """The bar chart of the primary column, plus curves for Best-of-N-like tables: file name → bytes.

    Rendered in memory, so the caller can write every output only once all of them were made.
    """
    formats = [f for f in formats if f in CHART_FORMATS]
    if not formats:
        return {}
    figures = {f"{table.table_id}_{table.primary}": bar_chart(table)}
    if table.x_label is not None:
        figures[f"{table.table_id}_curves"] = curve_chart(table)
    rendered = {}
    for stem, figure in figures.items():
        if figure is None:
            continue
        try:
            for extension in formats:
                buffer = io.BytesIO()
                _save(figure, buffer, extension)
                rendered[f"{stem}.{extension}"] = buffer.getvalue()
        finally:
            plt.close(figure)
    return rendered


def row_label(row: Row) -> str:
    """The row's name as matplotlib plain text (see :func:`plain_text`)."""
    return plain_text(" ".join(part for part in (row.label, row.marker, *row_tags(row)) if part))


def plain_text(text: str) -> str:
    """Text matplotlib draws literally: every ``$`` escaped, so no pair of them starts mathtext
    (``$5 and $10`` stays as written, and ``$\\foo$`` cannot crash the chart), one line, and a
    leading ``_`` (which hides a legend entry) preceded by a space."""
    text = one_line(text).replace("$", "\\$")
    return " " + text if text.startswith("_") else text


def bar_chart(table: Table) -> plt.Figure | None:
    column = table.column(table.primary)
    rows = [r for r in table.rows if r.values.get(column.key) is not None]
    if not rows:
        return None
    rows = rows[::-1]  # barh draws bottom-up; keep the table's top row on top
    figure, axes = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.4))
    values = [float(r.values[column.key]) for r in rows]
    whiskers = [
        (value - r.intervals[column.key][0], r.intervals[column.key][1] - value)
        if column.key in r.intervals
        else (0, 0)
        for r, value in zip(rows, values, strict=True)
    ]
    bars = axes.barh(
        range(len(rows)),
        values,
        color=[FAMILY_COLOURS[r.family] for r in rows],
        edgecolor=["black" if r.ours else "none" for r in rows],
        xerr=list(zip(*whiskers, strict=True)) if any(any(w) for w in whiskers) else None,
        error_kw={"ecolor": "black", "elinewidth": 0.8, "capsize": 2, "gid": "ci-whiskers"},
    )
    for bar, row in zip(bars, rows, strict=True):
        if row.reported:
            bar.set_hatch("///")
            bar.set_alpha(0.55)
        axes.annotate(
            format_value(column, row.values[column.key]),
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0), textcoords="offset points", va="center", fontsize=7,
        )  # fmt: skip
    axes.set_yticks(range(len(rows)), [row_label(r) for r in rows], fontsize=8)
    axes.set_xlim(0, 100)
    axes.set_xlabel(f"{column.header} (%)")
    axes.set_title(f"{table.title}: {column.header} per model")
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=colour, label=FAMILIES[family])
        for family, colour in FAMILY_COLOURS.items()
        if any(r.family == family for r in rows)
    ]
    if any(r.reported for r in rows):
        handles.append(
            plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="grey", hatch="///", label="reported")
        )
    axes.legend(handles=handles, loc="lower right", fontsize=7)
    axes.grid(axis="x", alpha=0.3)
    return figure


def curve_chart(table: Table) -> plt.Figure | None:
    columns = [c for c in table.score_columns() if c.x is not None]
    xs = [c.x for c in columns]
    figure, axes = plt.subplots(figsize=(6.5, 4.2))
    drawn = 0
    for row in table.rows:
        points = [(x, row.values.get(c.key)) for x, c in zip(xs, columns, strict=True)]
        points = [(x, float(y)) for x, y in points if y is not None]
        if not points:
            continue
        x_values, y_values = zip(*points, strict=True)
        axes.plot(
            x_values, y_values, marker="o", label=row_label(row), linestyle="--" if row.reported else "-"
        )
        drawn += 1
    if drawn == 0:
        plt.close(figure)
        return None
    for label, values in table.references.items():
        points = [(x, values[c.key]) for x, c in zip(xs, columns, strict=True) if c.key in values]
        if not points:
            continue
        x_values, y_values = zip(*points, strict=True)
        axes.plot(
            x_values, y_values, label=label, gid=f"reference-{_REFERENCE_IDS.get(label, 'line')}",
            **_REFERENCE_STYLES.get(label, {"color": "black", "linestyle": ":"}),
        )  # fmt: skip
    if min(xs) > 0 and len(xs) > 2:
        axes.set_xscale("log", base=2)
    axes.set_xticks(xs, [str(x) for x in xs])
    axes.set_xlabel(table.x_label or "")
    axes.set_ylabel("accuracy (%)")
    axes.set_title(f"{table.title}: accuracy vs {table.x_label}")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    return figure


_REFERENCE_STYLES = {
    ORACLE_LABEL: {"color": "black", "linestyle": ":", "marker": "^", "markersize": 4},
    RANDOM_LABEL: {"color": "#7f7f7f", "linestyle": "-.", "marker": "v", "markersize": 4},
}
"""Baselines look unlike model curves: black dotted (oracle) and grey dash-dotted (random choice);
a marker on each point, so a baseline measured at one N only is still visible."""
_REFERENCE_IDS = {ORACLE_LABEL: "oracle", RANDOM_LABEL: "random"}
"""SVG group ids of the baseline lines (``<g id="reference-oracle">``), for styling and tests."""


def chart_svg_texts(table: Table) -> list[str]:
    """The table's charts as SVG text, for pages that embed them (no files needed)."""
    figures = [bar_chart(table), curve_chart(table) if table.x_label is not None else None]
    texts = []
    for figure in filter(None, figures):
        buffer = io.StringIO()
        _save(figure, buffer, "svg")
        plt.close(figure)
        texts.append(buffer.getvalue())
    return texts


def _save(figure: plt.Figure, target: Path | io.StringIO | io.BytesIO, extension: str) -> None:
    with plt.rc_context(_STYLE):
        figure.savefig(target, format=extension, bbox_inches="tight", **_SAVE_OPTIONS[extension])
