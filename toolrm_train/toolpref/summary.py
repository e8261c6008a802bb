"""What a build produced: rich tables on the console and a PNG of the three sampling distributions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from toolrm_train.toolpref.balanced_sampling import AXES, Buckets
from toolrm_train.toolpref.issues import IssueLog
from toolrm_train.toolpref.trajectory import Pair


def distributions(pairs: Sequence[Pair], buckets: Buckets) -> dict[str, Counter[str]]:
    """Pair counts per bucket on each axis (complexity, intensity, source)."""
    counts: dict[str, Counter[str]] = {axis: Counter() for axis in AXES}
    for pair in pairs:
        for axis, value in buckets.of(pair).items():
            counts[axis][value] += 1
    return counts


def axis_order(axis: str, values: set[str], buckets: Buckets) -> list[str]:
    """Buckets in their natural order (sources alphabetically), empty known buckets included."""
    if axis == "complexity":
        known = buckets.complexity_labels()
    elif axis == "intensity":
        known = buckets.intensity_labels()
    else:
        known = []
    return known + sorted(values - set(known))


def print_summary(
    console: Console,
    stage_counts: Mapping[str, int],
    pool: Mapping[str, Counter[str]],
    selected: Mapping[str, Counter[str]],
    buckets: Buckets,
    log: IssueLog,
    outputs: Mapping[str, Any],
    out_dir: Path,
) -> None:
    stages = Table(title="ToolPref build", show_header=True)
    stages.add_column("step")
    stages.add_column("count", justify="right")
    for name, count in stage_counts.items():
        stages.add_row(name, f"{count:,}")
    console.print(stages)

    for axis in AXES:
        table = Table(title=f"{axis} (pairs)")
        table.add_column(axis)
        table.add_column("pool", justify="right")
        table.add_column("selected", justify="right")
        table.add_column("share", justify="right")
        total = sum(selected[axis].values()) or 1
        for value in axis_order(axis, set(pool[axis]) | set(selected[axis]), buckets):
            table.add_row(
                value,
                f"{pool[axis][value]:,}",
                f"{selected[axis][value]:,}",
                f"{selected[axis][value] / total:.1%}",
            )
        console.print(table)

    where = "; examples of each in stats.json" if outputs else ""
    skipped = Table(title=f"skipped or excluded ({log.total:,}{where})")
    skipped.add_column("stage: reason")
    skipped.add_column("count", justify="right")
    skipped.add_column("first example")
    room = max(24, console.width - 56)  # rich squeezes no-wrap columns badly; shorten the example instead
    for entry in log.to_json():
        example = (entry["examples"] or [""])[0]
        example = example if len(example) <= room else example[: room - 1] + "…"
        skipped.add_row(f"{entry['stage']}: {entry['reason']}", f"{entry['count']:,}", example)
    console.print(skipped)

    if not outputs:
        console.print(f"[bold]no data files written[/]: {out_dir} holds stats.json only")
        return
    files = Table(title=f"outputs in {out_dir}")
    files.add_column("file", overflow="fold")
    files.add_column("rows", justify="right")
    for path, rows in outputs.items():
        files.add_row(str(path), f"{rows:,}")
    console.print(files)


def plot_distributions(
    pool: Mapping[str, Counter[str]], selected: Mapping[str, Counter[str]], buckets: Buckets, path: Path
) -> Path:
    """Bar charts of complexity, intensity and source: the pool against the balanced selection."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on build machines
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for ax, axis in zip(axes, AXES, strict=True):
        labels = axis_order(axis, set(pool[axis]) | set(selected[axis]), buckets)
        positions = range(len(labels))
        ax.bar(
            [x - 0.2 for x in positions], [pool[axis][v] for v in labels], 0.4, label="pool", color="#b0c4de"
        )
        ax.bar([x + 0.2 for x in positions], [selected[axis][v] for v in labels], 0.4, label="selected")
        ax.set_xticks(list(positions))
        ax.set_xticklabels(
            labels,
            rotation=45 if axis != "complexity" else 0,
            ha="right" if axis != "complexity" else "center",
        )
        ax.set_title(
            {"complexity": "task complexity", "intensity": "preference intensity", "source": "data source"}[
                axis
            ]
        )
        ax.set_ylabel("pairs")
    axes[0].legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
