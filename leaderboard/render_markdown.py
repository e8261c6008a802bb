"""Markdown tables (GitHub flavour): best in bold, second best in italics, families as heading rows."""

from __future__ import annotations

from toolrm_leaderboard.formatting import format_value, legend_lines, one_line, row_tags
from toolrm_leaderboard.table import REFERENCE_HEADING, Row, Table


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
    if table.references:
        lines.append(_line([f"*{REFERENCE_HEADING}*", *("" for _ in table.columns)]))
        lines.extend(_line(reference_cells(table, label)) for label in table.references)
    lines += ["", "**Bold**: best; _italics_: second best.", *(f"{line}." for line in legend_lines(table))]
    if table.notes:
        lines += ["", "Notes:", *(f"- {escape_markdown(note)}" for note in table.notes)]
    return "\n".join(lines)


def markdown_cells(table: Table, row: Row) -> list[str]:
    name = escape_markdown(row.label)
    name = f"**{name}**" if row.ours else name
    cells = [" ".join(part for part in (name, row.marker, *row_tags(row)) if part)]
    for column in table.columns:
        text = format_value(column, row.values.get(column.key))
        mark = row.marks.get(column.key)
        cells.append(MARKUP[mark].format(text) if mark else text)
    return cells


def reference_cells(table: Table, label: str) -> list[str]:
    """A baseline row (oracle, random choice): values in the score columns only, never marked."""
    values = table.references[label]
    return [label, *(format_value(c, values.get(c.key)) for c in table.columns)]


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MARKDOWN_PUNCTUATION = frozenset("\\`*[]|~$")


def escape_markdown(text: str) -> str:
    """Text that a model name or note brings in, shown literally inside a table cell or list item.

    One line (a line break would end the table row); ``<``, ``>``, ``&`` as HTML entities, so tags
    and entities in a name stay inert text; ``\\`` and the characters that start inline markup
    (code, emphasis, links, cell ends, strike-through, GitHub math) backslash-escaped. ``_`` inside
    a word (``tiny_judge``) cannot start emphasis in GitHub Markdown and is left as it is.
    """
    text = one_line(text)
    out = []
    for index, char in enumerate(text):
        if char in _HTML:
            out.append(_HTML[char])
        elif char in _MARKDOWN_PUNCTUATION or (char == "_" and not _inside_word(text, index)):
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _inside_word(text: str, index: int) -> bool:
    return 0 < index < len(text) - 1 and text[index - 1].isalnum() and text[index + 1].isalnum()
