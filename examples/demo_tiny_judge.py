"""The main job, offline: train a reward model, evaluate a judge and RMs on TRBench-BFCL, publish a table.

    python examples/demo_tiny_judge.py            # what `make demo` runs
    python examples/demo_tiny_judge.py --limit 0 --rm-limit 0  # every pair (slow on 2 CPU cores)

1. Build two tiny Qwen3-architecture models locally (no weights can be downloaded here): a causal
   LM used as a generative judge and a sequence classifier used as a scalar reward model, both
   randomly initialised. Pass ``--judge``/``--rm`` to evaluate real checkpoints instead.
2. Build the embedded ToolPref-style preference data (``toolrm-data build``) and train the tiny
   reward model on it with the Bradley-Terry trainer for about a minute
   (``toolrm-train bt --config toolrm_train/configs/bt_tiny_demo.yaml``): the trainer prints its
   held-out pairwise accuracy before and after.
3. Run real lm-eval evaluations through ``toolrm-eval`` (lm-eval's own CLI with our tasks):
   ``trbench_bfcl_no_think`` with ``--model hf --apply_chat_template`` for the judge, and
   ``trbench_bfcl_disc`` with ``--model hf-rm`` for the reward model before and after training,
   on the same pairs. lm-eval prints its tables.
4. Write the leaderboard (Markdown, LaTeX, HTML, chart) for the runs just made, beside the
   numbers reported in the paper, and print it.

What the numbers mean: the random judge answers with no parsable choice, so it scores 0; the
untrained RM is at chance (about 50); the trained RM, 0.9M parameters and a minute of CPU, is
above chance on TRBench-BFCL pairs it never saw (the benchmark's questions are excluded from the
training data), far below the paper's 4B models. The point is the loop, data to trained RM to
leaderboard, not the level.

Both runs use ``--limit`` by default: the tasks order rows so that any prefix holds whole pairs and
every category in proportion, so a limited run is a stratified sample of the benchmark (the
leaderboard marks it as a sample and does not rank it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml
from rich.console import Console


console = Console()

DEFAULT_OUT = Path("runs/demo")
DEMO_MODELS = {
    "judge": ("tiny-qwen3-judge (random)", "genrm"),
    "rm": ("tiny-qwen3-rm (untrained)", "discrm"),
    "trained_rm": ("tiny-qwen3-rm (Bradley-Terry, 1 min CPU)", "discrm"),
}
BT_DEMO_CONFIG = Path(__file__).resolve().parent.parent / "toolrm_train" / "configs" / "bt_tiny_demo.yaml"


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


def build_preference_data(out_dir: Path) -> Path:
    """The embedded ToolPref-style build (a few seconds); reused when it is already there."""
    if (out_dir / "toolpref_train_disc.parquet").exists():
        console.print(f"reusing {out_dir}")
    else:
        run([sys.executable, "-m", "toolrm_train.toolpref", "build", "--out-dir", str(out_dir)])
    return out_dir


def train_reward_model(rm: str, data: Path, out_dir: Path) -> Path:
    """Bradley-Terry training of the tiny RM (the demo config); reused when its final model exists."""
    final = out_dir / "final"
    if (final / "config.json").exists():
        console.print(f"reusing {final}")
        return final
    overrides = [f"model_name_or_path={rm}", f"dataset_path={data}", f"output_dir={out_dir}"]
    run([sys.executable, "-m", "toolrm_train", "bt", "--config", str(BT_DEMO_CONFIG), *overrides,
         "overwrite_output_dir=true"])  # fmt: skip
    return final


def held_out_accuracy(run_dir: Path) -> tuple[float, float] | None:
    """(before, after) held-out pairwise accuracy from the trainer's metrics.jsonl."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return None
    evals = [r for r in map(json.loads, path.read_text().splitlines()) if "eval_accuracy" in r]
    return (evals[0]["eval_accuracy"], evals[-1]["eval_accuracy"]) if len(evals) >= 2 else None


def write_models_yaml(path: Path, models: dict[str, str]) -> Path:
    """Display names and families for the leaderboard (lm-eval records only the model path)."""
    entries = {}
    for key, model in models.items():
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
    parser.add_argument(
        "--rm", help="scalar reward model to evaluate (default: a tiny random one, then trained by the demo)"
    )
    parser.add_argument(
        "--no-train", action="store_true", help="skip the Bradley-Terry training (evaluate the RM as given)"
    )
    parser.add_argument(
        "--limit", type=int, default=200, help="judge rows to evaluate (two per pair; 0: all 5,966)"
    )
    parser.add_argument(
        "--rm-limit",
        type=int,
        default=500,
        help="reward-model pairs to score, the same for the RM before and after training "
        "(one row per pair; 0: all 2,983)",
    )
    parser.add_argument("--max-gen-toks", type=int, default=64, help="judge generation budget per row")
    args = parser.parse_args(argv)

    results = args.out / "results"
    console.rule("[bold]1. Models")
    judge = args.judge or str(build_tiny_model("causal-lm", args.out / "tiny-judge"))
    rm = args.rm or str(build_tiny_model("classifier", args.out / "tiny-rm"))

    trained_rm = None
    if not args.no_train:
        console.rule("[bold]2. Preference data and Bradley-Terry training of the reward model")
        data = build_preference_data(args.out / "toolpref")
        trained_rm = str(train_reward_model(rm, data, args.out / "bt-tiny"))

    console.rule("[bold]3a. Generative judge on trbench_bfcl_no_think (lm-eval, --model hf)")
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
    rm_limit = ["--limit", str(args.rm_limit)] if args.rm_limit else []
    console.rule("[bold]3b. Scalar reward model on trbench_bfcl_disc (lm-eval, --model hf-rm), untrained")
    evaluate("hf-rm", f"pretrained={rm},dtype=float32", "trbench_bfcl_disc", results, rm_limit)
    if trained_rm:
        console.rule("[bold]3c. The same reward model after Bradley-Terry training, same pairs")
        evaluate("hf-rm", f"pretrained={trained_rm},dtype=float32", "trbench_bfcl_disc", results, rm_limit)

    console.rule("[bold]4. Leaderboard")
    models = {"judge": judge, "rm": rm} | ({"trained_rm": trained_rm} if trained_rm else {})
    models_yaml = write_models_yaml(args.out / "models.yaml", models)
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
    accuracy = held_out_accuracy(args.out / "bt-tiny") if trained_rm else None
    if accuracy:
        console.print(
            f"Bradley-Terry training: held-out pairwise accuracy {accuracy[0]:.1%} -> {accuracy[1]:.1%} "
            "(embedded ToolPref-style test split); TRBench-BFCL rows above: untrained vs trained."
        )
    console.print(f"\n[bold green]Done.[/bold green] Results in {results}, leaderboard in {leaderboard}.")


if __name__ == "__main__":
    main()
