"""The Bradley-Terry trainer end to end (slow): it learns, and it resumes exactly.

- Learning: a tiny classifier trained on the embedded ToolPref-style pairs reaches held-out
  pairwise accuracy clearly above chance, and lm-eval's ``trbench_bfcl_disc`` through ``hf-rm``
  scores the trained checkpoint above the untrained one on the same pairs.
  (The trained checkpoint loading in ``hf-rm`` is part of that run.)
- Resume: a run resumed from a checkpoint ends with the parameters of the uninterrupted run.

Proved once, for the core loop every trainer shares: 2 processes (torchrun, gloo, FSDP2) match
one (tests/test_train_core_distributed.py); a SIGKILL while a checkpoint is written resumes from
the previous one (tests/test_train_core.py).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from toolrm_train.bt.config import BTConfig
from toolrm_train.bt.trainer import train
from toolrm_train.core.config import load_config


pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def toolpref_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded ToolPref-style build (DiscRM files), with a fifth of the contexts held out."""
    from rich.console import Console

    from toolrm_train.toolpref.pipeline import PipelineConfig, run_pipeline

    out = tmp_path_factory.mktemp("toolpref") / "build"
    with open(os.devnull, "w") as quiet:
        run_pipeline(PipelineConfig(out_dir=out, test_fraction=0.2), Console(file=quiet))
    return out


@pytest.fixture(scope="module")
def small_pairs_file(toolpref_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 short training pairs as JSONL (the layout a user's own file would have)."""
    import pyarrow.parquet as pq

    rows = pq.read_table(toolpref_dir / "toolpref_train_disc.parquet").to_pylist()
    short = [row for row in rows if len(json.dumps(row["chosen"])) < 2200][:48]
    path = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    path.write_text(
        "".join(json.dumps({k: row[k] for k in ("chosen", "rejected", "context_id")}) + "\n" for row in short)
    )
    return path


def metrics(output_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines()]


def losses(output_dir: Path) -> dict[int, float]:
    return {record["step"]: record["loss"] for record in metrics(output_dir) if "loss" in record}


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "model.safetensors"))


def max_weight_difference(a: Path, b: Path) -> float:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


# --- learning --------------------------------------------------------------------------------------

LEARNING_STEPS = 80
HELD_OUT_PAIRS = 160
TRBENCH_PAIRS = 150


def trbench_disc(model_dir: Path) -> dict[str, float]:
    import lm_eval
    from lm_eval.tasks import TaskManager

    from harness_tasks import TASKS_DIR

    results = lm_eval.simple_evaluate(
        model="hf-rm",
        model_args=f"pretrained={model_dir},dtype=float32,show_progress=false",
        tasks=["trbench_bfcl_disc"],
        task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False),
        device="cpu",
        bootstrap_iters=0,
        limit=TRBENCH_PAIRS,
    )
    return {k.split(",")[0]: v for k, v in results["results"]["trbench_bfcl_disc"].items() if "," in k}


def test_trained_rm_beats_untrained_on_held_out_pairs_and_trbench(
    tiny_classifier_dir: Path, toolpref_dir: Path, tmp_path: Path
) -> None:
    config = load_config(BTConfig, ROOT / "toolrm_train" / "configs" / "bt_tiny_demo.yaml", [
        f"model_name_or_path={tiny_classifier_dir}",
        f"dataset_path={toolpref_dir}",
        f"output_dir={tmp_path / 'run'}",
        f"max_steps={LEARNING_STEPS}",
        f"max_eval_pairs={HELD_OUT_PAIRS}",
        "eval_every_steps=0",
    ])  # fmt: skip
    final = train(config, resume=False)
    evals = [r for r in metrics(tmp_path / "run") if "eval_accuracy" in r]
    before, after = evals[0], evals[-1]
    assert (before["step"], after["step"]) == (0, LEARNING_STEPS)
    # an untrained random head is at chance; after ~80 steps of 8 pairs clearly above it
    assert abs(before["eval_accuracy"] - 0.5) < 0.1
    assert after["eval_accuracy"] >= 0.6, after
    assert after["eval_loss"] < before["eval_loss"]
    untrained, trained = trbench_disc(tiny_classifier_dir), trbench_disc(final)
    assert trained["n_pairs"] == untrained["n_pairs"] == TRBENCH_PAIRS
    assert trained["w_avg"] > untrained["w_avg"], (trained["w_avg"], untrained["w_avg"])


# --- resume ----------------------------------------------------------------------------------------


def run_args(model_dir: Path, pairs: Path, out: Path) -> list[str]:
    return [
        f"model_name_or_path={model_dir}",
        f"dataset_path={pairs}",
        f"output_dir={out}",
        "learning_rate=1e-3",
        "warmup_ratio=0",
        "gradient_checkpointing=false",
        "gradient_accumulation_steps=1",
        "eval_every_steps=0",
        "eval_fraction=0.2",
        "eval_batch_size=4",
        "log_every_steps=1",
    ]


@pytest.fixture
def one_thread():
    """One thread for both runs: CPU kernels reduce in a thread-count-dependent order, and
    bit-identical continuation is asked for."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_resumed_run_reaches_the_same_parameters(
    tiny_classifier_dir: Path, small_pairs_file: Path, tmp_path: Path, one_thread: None
) -> None:
    """Resume from checkpoint-2 of a finished run, in process: bit-identical parameters and losses.

    A SIGKILL during a checkpoint write and half-written checkpoints are the core's, proved once in
    tests/test_train_core.py; here the BT trainer's own state (data order, eval split, optimiser,
    schedule) must come back whole.
    """

    def config(name: str) -> BTConfig:
        run = ["per_device_batch_size=4", "max_steps=6", "save_every_steps=2", "keep_last_checkpoints=3"]
        return load_config(
            BTConfig, None, [*run_args(tiny_classifier_dir, small_pairs_file, tmp_path / name), *run]
        )

    reference = train(config("uninterrupted"), resume=False)
    assert max_weight_difference(tiny_classifier_dir, reference) > 2e-3  # training moved the parameters
    shutil.copytree(
        tmp_path / "uninterrupted",
        tmp_path / "resumed",
        ignore=shutil.ignore_patterns("final", "checkpoint-4"),
    )
    assert sorted(p.name for p in (tmp_path / "resumed").glob("checkpoint-*")) == ["checkpoint-2"]
    resumed = train(config("resumed"), resume=True)
    assert max_weight_difference(reference, resumed) == 0.0
    assert losses(tmp_path / "resumed") == losses(tmp_path / "uninterrupted")
