"""The tables on a terminal (rich): what the CLI prints after writing its files."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from toolrm_leaderboard.formatting import format_value, legend_lines, one_line, row_tags
from toolrm_leaderboard.table import REFERENCE_HEADING, Row, Table


STYLES = {"best": "bold", "second": "underline"}


def print_tables(tables: list[Table], console: Console) -> None:
    for table in tables:
        console.print(to_rich(table))
        legend = " ".join(f"{line}." for line in legend_lines(table))
        console.print(Text(f"Bold: best; underlined: second best. {legend}", style="dim"))
        for note in table.notes:
            console.print(Text(f"note: {note}", style="yellow"))
        console.print()


def to_rich(table: Table) -> RichTable:
    rich_table = RichTable(title=table.title, caption=Text(table.caption), caption_justify="left")
    rich_table.add_column("Model", min_width=24)
    for column in table.columns:
        rich_table.add_column(column.header, justify="right", no_wrap=True)
    for heading, rows in table.families():
        rich_table.add_section()
        rich_table.add_row(Text(heading, style="italic"), *("" for _ in table.columns))
        for row in rows:
            rich_table.add_row(*_cells(table, row), style="dim" if row.reported else None)
    if table.references:
        rich_table.add_section()
        rich_table.add_row(Text(REFERENCE_HEADING, style="italic"), *("" for _ in table.columns))
        for label, values in table.references.items():
            cells = [Text(format_value(c, values.get(c.key))) for c in table.columns]
            rich_table.add_row(Text(label), *cells, style="dim")
    return rich_table


def _cells(table: Table, row: Row) -> list[Text]:
    label = Text(one_line(row.label), style="bold" if row.ours else "")
    for part in (row.marker, *row_tags(row)):
        if part:
            label.append(" " + part)
    cells = [label]
    for column in table.columns:
        mark = row.marks.get(column.key)
        cells.append(Text(format_value(column, row.values.get(column.key)), style=STYLES.get(mark or "", "")))
    return cells
