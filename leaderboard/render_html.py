"""A self-contained HTML page (inline CSS and script, no network) with sortable tables.

The sort script reorders rows within each family and records the state in ``data-sort-key`` /
``data-sort-dir`` on the table and ``aria-sort`` on the headers; ``#sort=<column>:asc|desc`` in
the address sorts on load (that is how the headless-browser test checks that the script works).
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from markupsafe import Markup

from toolrm_leaderboard.formatting import format_value, legend_lines, row_tags
from toolrm_leaderboard.table import COUNT, DELTA, REFERENCE_HEADING, TEXT, Row, Table


PAGE_TEMPLATE = "page.html.jinja"
_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def render_html(tables: list[Table], title: str, charts: dict[str, list[str]] | None = None) -> str:
    """The page; ``charts`` maps a table id to SVG texts to show under that table."""
    charts = charts or {}
    views = [_table_view(table, charts.get(table.table_id, [])) for table in tables]
    return _environment.get_template(PAGE_TEMPLATE).render(page_title=title, tables=views)


def _table_view(table: Table, charts_svg: list[str]) -> dict:
    headers = [{"key": "model", "header": "Model", "type": "text", "description": "model (family, variant)"}]
    headers += [
        {
            "key": c.key,
            "header": c.header,
            "type": "text" if c.kind == TEXT else "number",
            "description": c.description,
        }
        for c in table.columns
    ]
    return {
        "id": table.table_id,
        "title": table.title,
        "caption": table.caption,
        "primary": table.primary,
        "headers": headers,
        "families": [
            {"key": rows[0].family, "heading": heading, "rows": [_row_view(table, row) for row in rows]}
            for heading, rows in table.families()
        ],
        "reference_heading": REFERENCE_HEADING,
        "references": [
            {
                "label": label,
                "cells": [
                    {"key": c.key, "text": format_value(c, values.get(c.key)), "classes": f"num {c.kind}"}
                    for c in table.columns
                ],
            }
            for label, values in table.references.items()
        ],
        "legend": legend_lines(table),
        "notes": table.notes,
        "charts_svg": [Markup(_inline_svg(svg)) for svg in charts_svg],
    }


def _row_view(table: Table, row: Row) -> dict:
    classes = ["entry", "reported" if row.reported else "measured"]
    classes += [name for name, present in (("ours", row.ours), ("partial", row.partial)) if present]
    cells = []
    for column in table.columns:
        value = row.values.get(column.key)
        cell_classes = ["num", column.kind]
        if column.key in row.marks:
            cell_classes.append(row.marks[column.key])
        if column.kind == DELTA and value is not None:
            cell_classes.append("gain" if value >= 0 else "loss")
        title = None
        if column.kind == DELTA and row.base_label:
            title = f"vs {row.base_label}"
        elif column.key in row.intervals:
            lower, upper = row.intervals[column.key]
            title = f"95% CI [{lower:.2f}, {upper:.2f}] (bootstrap)"
        elif row.stderr.get(column.key) is not None:
            title = f"± {row.stderr[column.key]:.2f} (standard error)"
        cells.append(
            {
                "key": column.key,
                "text": format_value(column, value),
                "value": _sort_value(column.kind, value),
                "classes": " ".join(cell_classes),
                "title": title,
            }
        )
    return {
        "classes": " ".join(classes),
        "model_key": row.model_key,
        "variant": row.variant,
        "label": row.label,
        "sources": "from " + ", ".join(row.files) if row.files else "",
        "ours": row.ours,
        "marker": row.marker,
        "tags": row_tags(row),
        "cells": cells,
    }


def _sort_value(kind: str, value: float | int | str | None) -> str:
    if value is None:
        return ""
    if kind == TEXT or isinstance(value, str):
        return str(value)
    return str(int(value)) if kind == COUNT else f"{value:.6f}"


def _inline_svg(svg: str) -> str:
    """Matplotlib's SVG file minus its XML prolog and DOCTYPE, which may not appear inside HTML."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else ""
