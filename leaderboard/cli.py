"""``toolrm-leaderboard``: lm-eval result files in; Markdown, LaTeX, HTML tables and charts out.

Example::

    toolrm-leaderboard results/ --models models.yaml --out leaderboard/ --with-paper

Input problems (mixed task versions or data builds, missing metrics or metrics of the wrong type,
duplicate runs, files that are not UTF-8 JSON) end the command with exit status 2 and one message
naming the files; nothing is written then. A folder that cannot be written to exits with status 1
(nothing written either). Outputs are rendered in memory first and written only
when all of them were made, each through a temporary file and a rename.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from toolrm_leaderboard.build import BuildOptions, build_tables
from toolrm_leaderboard.combine import DEDUPE_RULES
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.metadata import load_model_catalog
from toolrm_leaderboard.output import write_files
from toolrm_leaderboard.plots import CHART_FORMATS, chart_svg_texts, render_charts
from toolrm_leaderboard.read import read_results
from toolrm_leaderboard.render_html import render_html
from toolrm_leaderboard.render_latex import render_latex_table
from toolrm_leaderboard.render_markdown import render_markdown
from toolrm_leaderboard.render_terminal import print_tables
from toolrm_leaderboard.table import Table


FORMATS = ("md", "tex", "html", *CHART_FORMATS)
DEFAULT_TITLE = "ToolRM harness leaderboard"
PIPED_WIDTH = 200


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolrm-leaderboard",
        description="Tables (Markdown, LaTeX, HTML) and charts from lm-eval results of the TRBench, "
        "FC-RewardBench and Plan-RewardBench tasks.",
    )
    parser.add_argument(
        "inputs", nargs="*", type=Path,
        help="lm-eval results_*.json files, or folders searched for them (e.g. an --output_path)",
    )  # fmt: skip
    parser.add_argument(
        "--models", type=Path, help="model metadata YAML (display names, families, base models)"
    )
    parser.add_argument("--out", type=Path, help="folder to write the files to (without it: print only)")
    parser.add_argument(
        "--with-paper", action="store_true",
        help="add the published numbers, tagged [reported]: TRBench-BFCL (ToolRM paper), "
        "Plan-RewardBench (its README), FC-RewardBench pointwise (Granite Guardian's README)",
    )  # fmt: skip
    parser.add_argument(
        "--formats", default=",".join(FORMATS),
        help=f"comma-separated subset of {','.join(FORMATS)} (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--dedupe", choices=DEDUPE_RULES, default="error",
        help="several runs of one model and variant: 'error' (default) or keep the 'latest' run",
    )  # fmt: skip
    parser.add_argument(
        "--ascending", action="store_true", help="worst first within each family, as the paper lists rows"
    )
    parser.add_argument("--title", default=DEFAULT_TITLE, help="heading of the HTML page")
    parser.add_argument("--quiet", action="store_true", help="do not print the tables")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        parser.error(f"--formats: unknown {', '.join(unknown)}; expected some of {', '.join(FORMATS)}")
    if not args.inputs and not args.with_paper:
        parser.error("give lm-eval result files or folders, or --with-paper")
    # piped output (CI logs, files) gets a wide table instead of rich's 80-column default
    console = Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)
    errors = Console(stderr=True)
    try:
        catalog = load_model_catalog(args.models)
        results, read_notes = read_results(args.inputs)
        options = BuildOptions(with_paper=args.with_paper, dedupe=args.dedupe, descending=not args.ascending)
        tables = build_tables(results, catalog, options)
    except LeaderboardInputError as error:
        errors.print(f"toolrm-leaderboard: error: {error}", markup=False, highlight=False, soft_wrap=True)
        return 2
    for note in read_notes:
        errors.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    if not args.quiet:
        print_tables(tables, console)
    if args.out is not None:
        try:
            written = write_outputs(tables, args.out, formats, args.title)
        except OSError as error:  # nothing was written: see toolrm_leaderboard.output
            reason = f"cannot write to {error.filename or args.out}: {error.strerror or error}"
            errors.print(
                f"toolrm-leaderboard: error: {reason}; nothing written",
                markup=False, highlight=False, soft_wrap=True,
            )  # fmt: skip
            return 1
        for path in written:
            console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    return 0


def render_outputs(
    tables: list[Table], formats: list[str], title: str = DEFAULT_TITLE
) -> dict[str, bytes | str]:
    """Every requested format, rendered in memory: file name → content."""
    files: dict[str, bytes | str] = {}
    if "md" in formats:
        files["leaderboard.md"] = render_markdown(tables)
    if "tex" in formats:
        files.update({f"{t.table_id}.tex": render_latex_table(t) for t in tables})
    if "html" in formats:
        charts = {t.table_id: chart_svg_texts(t) for t in tables}
        files["leaderboard.html"] = render_html(tables, title, charts)
    for table in tables:
        files.update(render_charts(table, formats))
    return files


def write_outputs(
    tables: list[Table], out_dir: Path, formats: list[str], title: str = DEFAULT_TITLE
) -> list[Path]:
    """Write every requested format, all or nothing (see :mod:`toolrm_leaderboard.output`)."""
    return write_files(out_dir, render_outputs(tables, formats, title))


if __name__ == "__main__":
    sys.exit(main())
