"""The main job on the embedded default, offline: evaluate reward models on TRBench-BFCL, publish a table.

    python examples/demo_tiny_judge.py            # what `make demo` runs
    python examples/demo_tiny_judge.py --limit 0 --rm-limit 0  # every pair (slow on 2 CPU cores)

1. Build two tiny Qwen3-architecture models locally (no weights can be downloaded here): a causal
   LM used as a generative judge and a sequence classifier used as a scalar reward model. Both
   are randomly initialised, so expect chance-level or zero scores: the point is the pipeline,
   not the numbers. Pass ``--judge``/``--rm`` to evaluate real checkpoints instead.
2. Run real lm-eval evaluations through ``toolrm-eval`` (lm-eval's own CLI with our tasks):
   ``trbench_bfcl_no_think`` with ``--model hf --apply_chat_template`` for the judge and
   ``trbench_bfcl_disc`` with ``--model hf-rm`` for the reward model. lm-eval prints its table.
3. Write the leaderboard (Markdown, LaTeX, HTML, chart) for the runs just made, beside the
   numbers reported in the paper, and print it.

Both runs use ``--limit`` by default: the tasks order rows so that any prefix holds whole pairs and
every category in proportion, so a limited run is a stratified sample of the benchmark (the
leaderboard marks it as a sample and does not rank it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml
from rich.console import Console


console = Console()

DEFAULT_OUT = Path("runs/demo")
DEMO_MODELS = {
    "judge": ("tiny-qwen3-judge (random)", "genrm"),
    "rm": ("tiny-qwen3-rm (random)", "discrm"),
}


def run(command: list[str]) -> None:
    console.print(f"[bold cyan]$ {' '.join(command)}[/bold cyan]")
    subprocess.run(command, check=True)


def build_tiny_model(kind: str, out_dir: Path) -> Path:
    """Build once; a later demo run reuses the directory (the builders are deterministic)."""
    if (out_dir / "config.json").exists():
        console.print(f"reusing {out_dir}")
    else:
        run([sys.executable, "-m", "toolrm_train.tiny_models", kind, str(out_dir)])
    return out_dir


def evaluate(model: str, model_args: str, task: str, output_path: Path, extra: list[str]) -> None:
    run(
        [
            sys.executable,
            "-m",
            "harness_tasks.cli",
            "run",
            "--model",
            model,
            "--model_args",
            model_args,
            "--tasks",
            task,
            "--device",
            "cpu",
            "--output_path",
            str(output_path),
            "--log_samples",
            *extra,
        ]
    )


def write_models_yaml(path: Path, judge: str, rm: str) -> Path:
    """Display names and families for the leaderboard (lm-eval records only the model path)."""
    entries = {}
    for key, model in (("judge", judge), ("rm", rm)):
        display_name, family = DEMO_MODELS[key]
        entries[model] = {"display_name": display_name, "family": family}
    path.write_text(yaml.safe_dump({"models": entries}, sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder for models, results, leaderboard"
    )
    parser.add_argument("--judge", help="generative judge to evaluate (default: a tiny random one)")
    parser.add_argument("--rm", help="scalar reward model to evaluate (default: a tiny random one)")
    parser.add_argument(
        "--limit", type=int, default=200, help="judge rows to evaluate (two per pair; 0: all 5,966)"
    )
    parser.add_argument(
        "--rm-limit",
        type=int,
        default=1000,
        help="reward-model pairs to score (one row per pair; 0: all 2,983)",
    )
    parser.add_argument("--max-gen-toks", type=int, default=64, help="judge generation budget per row")
    args = parser.parse_args(argv)

    results = args.out / "results"
    console.rule("[bold]1. Models")
    judge = args.judge or str(build_tiny_model("causal-lm", args.out / "tiny-judge"))
    rm = args.rm or str(build_tiny_model("classifier", args.out / "tiny-rm"))

    console.rule("[bold]2a. Generative judge on trbench_bfcl_no_think (lm-eval, --model hf)")
    limit = ["--limit", str(args.limit)] if args.limit else []
    evaluate(
        "hf",
        f"pretrained={judge},dtype=float32",
        "trbench_bfcl_no_think",
        results,
        [
            "--apply_chat_template",
            "--gen_kwargs",
            f"max_gen_toks={args.max_gen_toks}",
            "--batch_size",
            "16",
            *limit,
        ],
    )
    console.rule("[bold]2b. Scalar reward model on trbench_bfcl_disc (lm-eval, --model hf-rm)")
    rm_limit = ["--limit", str(args.rm_limit)] if args.rm_limit else []
    evaluate("hf-rm", f"pretrained={rm},dtype=float32", "trbench_bfcl_disc", results, rm_limit)

    console.rule("[bold]3. Leaderboard")
    models_yaml = write_models_yaml(args.out / "models.yaml", judge, rm)
    leaderboard = args.out / "leaderboard"
    run(
        [
            sys.executable,
            "-m",
            "leaderboard",
            str(results),
            "--models",
            str(models_yaml),
            "--with-paper",
            "--dedupe",
            "latest",
            "--out",
            str(leaderboard),
        ]
    )
    console.print(f"\n[bold green]Done.[/bold green] Results in {results}, leaderboard in {leaderboard}.")


if __name__ == "__main__":
    main()
