"""``toolrm-train {grpo,bt} --config FILE.yaml [key=value ...] [--resume]`` (also ``python -m toolrm_train``).

One command for every trainer. A trainer is a module exposing ``CONFIG_CLASS`` (a ``TrainerConfig``
subclass) and ``train(config, *, resume: bool) -> Path`` (the final Hugging Face directory); it is
imported only when chosen, so ``toolrm-train bt`` does not pay for GRPO's imports. The same command
runs on one process and under torchrun:

    toolrm-train bt --config bt.yaml
    torchrun --nproc_per_node 4 -m toolrm_train bt --config bt.yaml output_dir=runs/bt4
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

import yaml

from toolrm_train.core.config import ConfigError, config_to_dict, describe_fields, load_config
from toolrm_train.core.errors import CheckpointError


TRAINERS = {
    "grpo": (
        "toolrm_train.grpo.trainer",
        "generative judge (GRPO on the judge prompt, reward = correct <choice>)",
    ),
    "bt": ("toolrm_train.bt.trainer", "discriminative scalar RM (Bradley-Terry on chosen/rejected pairs)"),
}


def _import_trainer(name: str) -> ModuleType:
    module_name = TRAINERS[name][0]
    module = importlib.import_module(module_name)
    for attr in ("CONFIG_CLASS", "train"):
        if not hasattr(module, attr):
            raise RuntimeError(f"trainer module {module_name} does not define {attr}")
    return module


def _fields_epilog(name: str) -> str:
    try:
        module = _import_trainer(name)
    except Exception as exc:  # help must still print when a trainer cannot import
        return f"(config fields unavailable: trainer module {TRAINERS[name][0]} failed to import: {exc})"
    return "config fields (YAML keys and key=value overrides):\n" + describe_fields(module.CONFIG_CLASS)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolrm-train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="trainer", required=True, metavar="{" + ",".join(TRAINERS) + "}")
    # Only the chosen trainer's fields are listed (importing a trainer is not free).
    chosen = next((a for a in (argv or []) if a in TRAINERS), None)
    for name, (_, summary) in TRAINERS.items():
        wants_help = chosen == name and any(a in ("-h", "--help") for a in (argv or []))
        p = sub.add_parser(
            name,
            help=summary,
            description=f"Train a {summary}.\n\nValues: YAML file first, then key=value overrides in order.",
            epilog=_fields_epilog(name) if wants_help else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument(
            "--config", metavar="FILE.yaml", help="YAML file whose keys are config fields (optional)."
        )
        p.add_argument(
            "overrides",
            nargs="*",
            metavar="key=value",
            help="override a config field; the value is parsed as YAML (e.g. learning_rate=2e-6 "
            "report_to=[jsonl,tensorboard] bf16=true).",
        )
        p.add_argument(
            "--resume",
            action="store_true",
            help="continue from the last complete checkpoint in output_dir (model, optimiser, scheduler, "
            "data position and RNG restored); starts from scratch, with a message, when there is none.",
        )
        p.add_argument(
            "--print-config",
            action="store_true",
            help="print the resolved config as YAML and exit without training.",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        module = _import_trainer(args.trainer)
    except (ImportError, RuntimeError) as exc:
        print(f"toolrm-train {args.trainer}: cannot load the trainer: {exc}", file=sys.stderr)
        return 1
    try:
        config = load_config(module.CONFIG_CLASS, args.config, args.overrides)
    except ConfigError as exc:
        print(f"toolrm-train {args.trainer}: config error: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        print(yaml.safe_dump(config_to_dict(config), sort_keys=False), end="")
        return 0
    try:
        final = module.train(config, resume=args.resume)
    except ConfigError as exc:
        print(f"toolrm-train {args.trainer}: config error: {exc}", file=sys.stderr)
        return 2
    except CheckpointError as exc:  # a write that failed (disk full, permissions) or an unsafe checkpoint
        print(f"toolrm-train {args.trainer}: checkpoint error: {exc}", file=sys.stderr)
        return 1
    print(final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
