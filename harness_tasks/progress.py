"""The progress bars of our long-running commands, so every CLI shows work the same way.

Bars stay on screen when done (``transient=False``): the finished counts are part of what a build
or a scoring run reports.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bars(console: Console | None = None, label: str = "") -> Progress:
    """A rich ``Progress`` with description, bar, done/total, elapsed and remaining time."""
    return Progress(
        TextColumn(f"{label}[bold]{{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
