"""GRPO learning to judge, on CPU in minutes: reward over the run, and W-Avg from real lm-eval runs.

    python examples/grpo_easy_slice.py                 # about 10 minutes on 2 CPU cores
    python examples/grpo_easy_slice.py --steps 200     # shorter (GRPO has not learned yet)

1. Data: the embedded ToolPref-style build (``toolrm-data build --target-size 4000
   --max-pairs-per-context 0``, a few seconds) and its **easy slice**: the GenRM pairs in which
   exactly one response calls a tool (``<tool_call>``). A tiny model learns that distinction in
   minutes; the full data is too hard for it (toolrm_train/README.md).
2. Judge: a tiny Qwen3-architecture model built locally (random weights), then a short supervised
   **format warm-up** with random answer positions (:mod:`toolrm_train.grpo.format_warmup`), so it
   writes ``<choice>\\nN\\n</choice>`` and is right about half the time.
3. Before: ``trbench_bfcl_no_think`` through lm-eval (``--model hf``, chat template) on the fixed
   subset of TRBench-BFCL pairs of the same kind (exactly one response calls a tool; prompts of
   at most 1,024 tokens). TRBench's questions are not in the training data.
4. GRPO: ``toolrm-train grpo --config toolrm_train/configs/grpo_easy_slice.yaml`` (8 prompts × 8
   judgments per step, reward = the evaluation's ``compute_score``, a small KL to the warmed-up
   judge that keeps the answer format, packed prompts). The reward stays near 0.5 for 200-300
   steps, then rises to ~1 within ~50 (toolrm_train/README.md).
5. After: the same lm-eval run on the trained judge; the summary prints the mean training reward
   per 50 steps and W-Avg before and after, and is written to ``OUT/summary.json``.

Every stage is reused when its output exists, so an interrupted run continues (GRPO with
``--resume`` from its last checkpoint).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.markup import escape

from harness_tasks.atomic_files import write_atomically


ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "toolrm_train" / "configs" / "grpo_easy_slice.yaml"
TASK = "trbench_bfcl_no_think"
MAX_PROMPT_TOKENS = 1024
console = Console()


def calls_a_tool(text: str) -> bool:
    return "<tool_call>" in text


def run(command: list[str]) -> None:
    console.print(f"[bold cyan]$ {escape(' '.join(command))}[/bold cyan]")
    subprocess.run(command, check=True)


def easy_training_slice(build: Path, out_dir: Path) -> Path:
    """The build's no_think GenRM rows in which exactly one response calls a tool."""
    target = out_dir / "toolpref_train_no_think.parquet"
    if not target.exists():
        rows = pd.read_parquet(build / "toolpref_train_no_think.parquet")
        keep = [
            calls_a_tool(c["content"]) != calls_a_tool(r["content"])
            for c, r in zip(rows.chosen_response, rows.reject_response, strict=True)
        ]
        buffer = io.BytesIO()
        rows[keep].to_parquet(buffer)
        write_atomically(target, buffer.getvalue())
    console.print(f"easy slice: {len(pd.read_parquet(target))} GenRM rows in {target}")
    return out_dir


def easy_benchmark_pairs(path: Path) -> Path:
    """TRBench-BFCL pairs of the same kind, as a pairs file the task loader takes (``pairs_file``)."""
    from harness_tasks.trbench_bfcl.dataset import read_pairs

    if not path.exists():
        pairs = [
            p
            for p in read_pairs()
            if calls_a_tool(p["chosen_response"]) != calls_a_tool(p["reject_response"])
        ]
        text = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
        write_atomically(path, gzip.compress(text.encode("utf-8"), mtime=0))
    return path


def w_avg(model_dir: Path, pairs_file: Path) -> dict[str, float]:
    """A real lm-eval run of the judge task on the fixed subset; returns its metrics."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    from harness_tasks import TASKS_DIR
    from harness_tasks.trbench_bfcl.dataset import embedded_data_build

    metadata = {
        "pretrained": str(model_dir),
        "enable_thinking": False,
        "pairs_file": str(pairs_file),
        "data_build": embedded_data_build(pairs_file),
        "max_prompt_tokens": MAX_PROMPT_TOKENS,
        "max_gen_toks": 16,
    }
    results = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={model_dir},dtype=float32,enable_thinking=False",
        tasks=[TASK],
        task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata),
        gen_kwargs={"max_gen_toks": 16},
        apply_chat_template=True,
        batch_size=16,
        device="cpu",
    )
    return {k.split(",")[0]: v for k, v in results["results"][TASK].items() if "," in k}


def reward_by_window(metrics_file: Path, window: int = 50) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in metrics_file.read_text().splitlines()]
    return [
        (chunk[-1]["step"], sum(r["reward"] for r in chunk) / len(chunk))
        for chunk in (records[i : i + window] for i in range(0, len(records), window))
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("runs/grpo-easy"), help="folder for every stage")
    parser.add_argument(
        "--steps", type=int, default=500, help="GRPO steps (rollout batches of 8 prompts × 8)"
    )
    parser.add_argument("--warmup-steps", type=int, default=200, help="format warm-up steps (4 prompts each)")
    args = parser.parse_args(argv)
    out = args.out.resolve()

    console.rule("[bold]1. Data")
    build = out / "toolpref"
    if not (build / "toolpref_train_no_think.parquet").exists():
        run([sys.executable, "-m", "toolrm_train.toolpref", "build", "--target-size", "4000",
             "--max-pairs-per-context", "0", "--out-dir", str(build)])  # fmt: skip
    easy = easy_training_slice(build, out / "easy-slice")
    pairs_file = easy_benchmark_pairs(out / "trbench_easy_pairs.jsonl.gz")

    console.rule("[bold]2. Judge: tiny Qwen3 + format warm-up")
    base, warm = out / "tiny-judge", out / "warm-judge"
    if not (base / "config.json").exists():
        run([sys.executable, "-m", "toolrm_train.tiny_models", "causal-lm", str(base)])
    if not (warm / "config.json").exists():
        from toolrm_train.grpo.format_warmup import warm_up_judge

        warm_up_judge(base, easy, warm, steps=args.warmup_steps, max_prompt_length=MAX_PROMPT_TOKENS)

    console.rule("[bold]3. W-Avg before GRPO")
    before = w_avg(warm, pairs_file)

    console.rule("[bold]4. GRPO")
    grpo = out / "grpo"
    if not (grpo / "final" / "config.json").exists():
        resume = ["--resume"] if grpo.exists() else []
        run([sys.executable, "-m", "toolrm_train", "grpo", "--config", str(CONFIG), *resume,
             f"model_name_or_path={warm}", f"dataset_paths=[{easy}]", f"output_dir={grpo}",
             f"max_steps={args.steps}"])  # fmt: skip

    console.rule("[bold]5. W-Avg after GRPO")
    after = w_avg(grpo / "final", pairs_file)

    rewards = reward_by_window(grpo / "metrics.jsonl")
    summary = {
        "before": before,
        "after": after,
        "reward_by_50_steps": rewards,
    }
    write_atomically(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    console.rule("[bold]Summary")
    for step, reward in rewards:
        print(f"mean training reward, steps up to {step:>4}: {reward:.3f}")
    for name in ("n_pairs", "skipped_overlong", "w_avg", "avg", "strict_parse_rate", "position_consistency"):
        if name in before and name in after:
            print(f"{name:<22} before {before[name]:.3f}   after {after[name]:.3f}")


if __name__ == "__main__":
    main()
