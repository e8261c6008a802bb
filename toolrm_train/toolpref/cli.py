"""``toolrm-data``: build ToolPref-style preference data (``python -m toolrm_train.toolpref`` works too).

    toolrm-data build                                  # embedded default: BFCL questions, offline samplers
    toolrm-data build data.jsonl hub:org/set:train --sampler vllm:Qwen/Qwen3-8B --sampler offline
    toolrm-data build --max-contexts 200 --target-size 300 --out-dir runs/quick

Every flag of ``build`` is one field of :class:`toolrm_train.toolpref.pipeline.PipelineConfig`, with the
same default; ``toolrm-data build --help`` lists them.

Exit status: 0 when pairs were built and the output folder replaced; 1 when the inputs gave no
pair (an empty or unusable input, every context too easy or too hard): the output folder then holds
``stats.json`` alone, which says why;
2 for a usage error (bad option, missing input file, an output folder holding other files) or,
with ``--strict``, the first malformed row (named by file, line and field); 1 also when the output
folder cannot be written.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from harness_tasks.trbench_bfcl.dataset import DataFormatError
from toolrm_train.toolpref.bfcl_source import BFCL_INPUT
from toolrm_train.toolpref.output_dir import check_replaceable
from toolrm_train.toolpref.pipeline import PipelineConfig, run_pipeline
from toolrm_train.toolpref.samplers import SAMPLER_SPEC_HELP


_SINGULAR = {"samplers": ("sampler", "SPEC"), "prompt_variants": ("prompt_variant", "VARIANT")}
"""List fields given one value per flag (``--sampler a --sampler b``); others take several values."""


def _flag_type(annotation: Any) -> tuple[type, bool]:
    """(element type, is_list) of a config field annotation such as ``list[int]`` or ``Path | None``."""
    origin = typing.get_origin(annotation)
    if origin is list:
        return typing.get_args(annotation)[0], True
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return inner[0], False
    return annotation, False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolrm-data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build a preference data set (GenRM and DiscRM parquet)")
    hints = typing.get_type_hints(PipelineConfig)
    defaults = PipelineConfig()
    for config_field in dataclasses.fields(PipelineConfig):
        name = config_field.name
        element, is_list = _flag_type(hints[name])
        default = getattr(defaults, name)
        text = config_field.metadata.get("help", "")
        if name == "samplers":
            text += f" Specs: {SAMPLER_SPEC_HELP}."
        help_text = f"{text} (default: {default})"
        if name == "inputs":
            build.add_argument("inputs", nargs="*", default=None, help=help_text)
        elif element is bool:
            build.add_argument(
                f"--{name.replace('_', '-')}",
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        elif is_list and name in _SINGULAR:
            flag, metavar = _SINGULAR[name]
            build.add_argument(
                f"--{flag.replace('_', '-')}", dest=name, metavar=metavar, action="append", help=help_text
            )
        elif is_list:
            build.add_argument(f"--{name.replace('_', '-')}", nargs="+", type=element, help=help_text)
        else:
            build.add_argument(
                f"--{name.replace('_', '-')}", type=Path if element is Path else element, help=help_text
            )
    return parser


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """Flags given on the command line override the config defaults; nothing else does."""
    given = {
        config_field.name: getattr(args, config_field.name)
        for config_field in dataclasses.fields(PipelineConfig)
        if getattr(args, config_field.name, None) not in (None, [])
    }
    return PipelineConfig(**given)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console()
    if args.command == "build":
        config = config_from_args(args)
        try:
            config.check()
            check_replaceable(config.resolved_out_dir())
            missing = [spec for spec in config.inputs if _is_file_spec(spec) and not Path(spec).exists()]
            if missing:
                raise ValueError(f"input file not found: {', '.join(missing)}")
        except ValueError as error:
            parser.error(str(error))
        try:
            result = run_pipeline(config, console)
        except DataFormatError as error:  # --strict: the first malformed row, named
            console.print(f"[bold red]error[/] (--strict): {escape(str(error))}")
            return 2
        except OSError as error:  # the output folder or the cache cannot be written
            console.print(f"[bold red]error[/]: cannot write {escape(str(error.filename or ''))}: {error}")
            return 1
        counts = result.stats["counts"]
        if counts["pairs selected"] == 0:
            console.print(
                f"[bold red]No pairs built[/] from {counts['trajectories (self-checked)']:,} usable "
                f"trajectories ({result.stats['skipped_total']:,} rows skipped, listed above); "
                f"{result.out_dir.resolve()} holds only {', '.join(result.files)}."
            )
            return 1
        console.print(
            f"[bold green]Built[/] {counts['pairs selected']:,} pairs "
            f"({counts['train pairs']:,} train / {counts['test pairs']:,} test) "
            f"in {result.stats['seconds']} s "
            f"→ {result.out_dir.resolve()}  ({', '.join(result.files)})"
        )
    return 0


def _is_file_spec(spec: str) -> bool:
    return not spec.startswith("hub:") and spec != BFCL_INPUT and not spec.startswith(BFCL_INPUT + ":")


if __name__ == "__main__":
    sys.exit(main())
