"""Markdown tables (GitHub flavour): best in bold, second best in italics, families as heading rows."""

from __future__ import annotations

from toolrm_leaderboard.formatting import format_value, legend_lines, row_tags
from toolrm_leaderboard.table import Row, Table


MARKUP = {"best": "**{}**", "second": "_{}_"}


def render_markdown(tables: list[Table]) -> str:
    return "\n\n".join(render_markdown_table(table) for table in tables) + "\n"


def render_markdown_table(table: Table) -> str:
    lines = [
        f"## {table.title}",
        "",
        table.caption,
        "",
        _line(["Model", *(c.header for c in table.columns)]),
        _line([":--", *("--:" for _ in table.columns)]),
    ]
    for heading, rows in table.families():
        lines.append(_line([f"*{heading}*", *("" for _ in table.columns)]))
        lines.extend(_line(markdown_cells(table, row)) for row in rows)
    lines += ["", "**Bold**: best; _italics_: second best.", *(f"{line}." for line in legend_lines(table))]
    if table.notes:
        lines += ["", "Notes:", *(f"- {note}" for note in table.notes)]
    return "\n".join(lines)


def markdown_cells(table: Table, row: Row) -> list[str]:
    name = _escape(row.label)
    name = f"**{name}**" if row.ours else name
    cells = [" ".join(part for part in (name, row.marker, *row_tags(row)) if part)]
    for column in table.columns:
        text = format_value(column, row.values.get(column.key))
        mark = row.marks.get(column.key)
        cells.append(MARKUP[mark].format(text) if mark else text)
    return cells


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _escape(text: str) -> str:
    """Characters that would end a cell or start emphasis inside a model name."""
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
