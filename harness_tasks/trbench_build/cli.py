"""``toolrm-build-trbench``: build (or ``--check``) the embedded TRBench-BFCL pairs."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness_tasks.categories import BY_NAME, CATEGORY_NAMES, resolve_category
from harness_tasks.progress import progress_bars
from harness_tasks.trbench_build.bfcl_source import (
    BfclNotInstalledError,
    installed_bfcl_version,
    require_bfcl,
    version_mismatch_warning,
)
from harness_tasks.trbench_build.build import (
    DEFAULT_SEED,
    SHIPPED_DATA_DIR,
    BuildConfig,
    BuildError,
    BuildResult,
    build,
)
from harness_tasks.trbench_build.verify import compare_builds


def parse_pairs(text: str) -> dict[str, int]:
    """``"simple=137,LM=200"`` → ``{"simple": 137, "live_multiple": 200}`` (names or table codes)."""
    pairs: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, count = part.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--pairs entry {part!r} must look like category=count")
        try:
            category = resolve_category(name.strip()).name
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        try:
            pairs[category] = int(count)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--pairs count for {name.strip()} must be an integer, found {count!r}"
            ) from None
        if pairs[category] < 0:
            raise argparse.ArgumentTypeError(f"--pairs count for {name.strip()} must be >= 0, found {count}")
    return pairs


def parse_categories(text: str) -> tuple[str, ...]:
    try:
        chosen = {resolve_category(name.strip()).name for name in text.split(",") if name.strip()}
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not chosen:
        raise argparse.ArgumentTypeError("--categories needs at least one category")
    return tuple(name for name in CATEGORY_NAMES if name in chosen)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolrm-build-trbench",
        description="Build the embedded TRBench-BFCL pair set from the BFCL data in the bfcl-eval package "
        "(deterministic: the same seed and bfcl-eval version give byte-identical files).",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of every random choice (default 0)"
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=SHIPPED_DATA_DIR,
        help=f"where to write the files (default: the shipped data folder, {SHIPPED_DATA_DIR})",
    )
    parser.add_argument(
        "--pairs",
        type=parse_pairs,
        default={},
        help='pairs per category instead of the release counts, e.g. "simple=137,LM=200" (names or codes)',
    )
    parser.add_argument(
        "--categories",
        type=parse_categories,
        default=CATEGORY_NAMES,
        help='subset to build, e.g. "simple,LS,MTB"',
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="build into a temporary folder and verify it equals the files in --out-dir; exit 1 if not",
    )
    return parser


def _run(config: BuildConfig, out_dir: Path, console: Console) -> BuildResult:
    with progress_bars(console) as progress:
        tasks = {name: progress.add_task(name, total=config.pairs_for(name)) for name in config.selected()}

        def report(category: str, done: int, total: int) -> None:
            progress.update(tasks[category], completed=done, total=total)

        return build(config, out_dir, report)


def summary_tables(stats: dict[str, Any]) -> list[Table]:
    """Counts per category and per error type, as rich tables."""
    categories = Table(title="TRBench-BFCL pairs per category")
    for column in ("category", "code", "pairs", "BFCL items", "contexts"):
        categories.add_column(column, justify="left" if column in ("category", "code") else "right")
    for name in stats["pairs_requested"]:
        categories.add_row(
            name,
            BY_NAME[name].code,
            str(stats["pairs_per_category"].get(name, 0)),
            str(stats["items_per_category"].get(name, 0)),
            str(stats["contexts_per_category"].get(name, 0)),
        )
    categories.add_row("total", "", str(stats["total_pairs"]), "", "", style="bold")
    error_types = Table(title="Rejected responses per BFCL error type")
    error_types.add_column("error type")
    error_types.add_column("pairs", justify="right")
    for name, count in sorted(stats["pairs_per_error_type"].items(), key=lambda kv: (-kv[1], kv[0])):
        error_types.add_row(name, str(count))
    operators = Table(title="Rejected responses per error operator")
    operators.add_column("operator")
    operators.add_column("pairs", justify="right")
    for name, count in sorted(stats["pairs_per_operator"].items(), key=lambda kv: (-kv[1], kv[0])):
        operators.add_row(name, str(count))
    return [categories, error_types, operators]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    out = Console()
    config = BuildConfig(seed=args.seed, pairs=args.pairs, categories=args.categories)
    try:
        require_bfcl(multi_turn="multi_turn_base" in config.selected())
    except BfclNotInstalledError as error:
        console.print(f"[red]error:[/red] {error}")
        return 2
    warning = version_mismatch_warning(installed_bfcl_version())
    if warning:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    started = time.perf_counter()
    try:
        if args.check:
            with tempfile.TemporaryDirectory(prefix="trbench-check-") as scratch:
                result = _run(config, Path(scratch), console)
                comparison = compare_builds(Path(scratch), args.out_dir)
            for note in comparison.notes:
                console.print(f"[yellow]note:[/yellow] {note}")
            if not comparison.same:
                for problem in comparison.problems:
                    console.print(f"[red]mismatch:[/red] {problem}")
                console.print(
                    f"[red]--check failed:[/red] {args.out_dir} differs from what this build makes "
                    f"(seed {config.seed}); rebuild with `toolrm-build-trbench --out-dir {args.out_dir}`"
                )
                return 1
        else:
            result = _run(config, args.out_dir, console)
    except BuildError as error:
        console.print(f"[red]build failed:[/red] {error}")
        return 1
    for table in summary_tables(result.stats):
        out.print(table)
    elapsed = time.perf_counter() - started
    if args.check:
        out.print(f"[green]--check passed:[/green] {args.out_dir} equals a fresh build ({elapsed:.1f} s)")
    else:
        written = ", ".join(str(path) for path in result.files.values())
        out.print(f"wrote {written} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
