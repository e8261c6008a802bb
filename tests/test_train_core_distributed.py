"""Trainer core under torchrun: 2 CPU processes (gloo), FSDP2-sharded tiny Qwen3.

The generic loop of ``train_core_loop.py`` runs once in-process (global batch 4 on one process)
and as 2 processes × 2 items, stopped after step 2 and resumed from its sharded (DCP) checkpoint.
Same global batch, seed and data order, so the loss curve and the final weights must match the
single-process run within float tolerance; the consolidated HF checkpoint must load with
``AutoModelForCausalLM``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch


TESTS_DIR = Path(__file__).resolve().parent


def _torchrun(args: list[str], timeout: int = 300) -> None:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(TESTS_DIR / "train_core_loop.py"),
        *args,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, f"torchrun failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"


@pytest.mark.slow
def test_two_process_fsdp_matches_single_process(tiny_causal_lm_dir: Path, tmp_path: Path) -> None:
    from train_core_loop import LoopConfig, read_losses, train
    from transformers import AutoModelForCausalLM, AutoTokenizer

    common = {"model_name_or_path": str(tiny_causal_lm_dir), "max_steps": 4, "save_every_steps": 2}
    single = tmp_path / "single"
    train(LoopConfig(output_dir=str(single), per_device_batch_size=4, **common), resume=False)

    dist_out = tmp_path / "two"
    args = [f"{k}={v}" for k, v in common.items()] + [f"output_dir={dist_out}", "per_device_batch_size=2"]
    _torchrun([*args, "stop_after_steps=2"])
    shards = sorted(p.name for p in (dist_out / "checkpoint-2" / "dcp").glob("*.distcp"))
    assert len(shards) == 2  # each rank wrote its own shard
    assert json.loads((dist_out / "checkpoint-2" / "trainer_state.json").read_text())["world_size"] == 2
    _torchrun([*args, "--resume"])
    _check_sharded_checkpoint_loads_on_one_process(tiny_causal_lm_dir, dist_out / "checkpoint-2")

    expected, got = read_losses(single), read_losses(dist_out)
    assert sorted(got) == [1, 2, 3, 4]
    for step in expected:
        assert got[step] == pytest.approx(expected[step], rel=1e-5, abs=1e-5), step
    assert len(set(expected.values())) == 4  # the losses move, so equality is not trivial

    probe_single = json.loads((single / "probe.json").read_text())
    probe_dist = json.loads((dist_out / "probe.json").read_text())
    # After step 3 (in the resumed run, which then trains step 4): generate() runs on the FSDP model
    # with gathered parameters, and its logits equal the single-process model's.
    assert probe_dist["new_tokens"] == 3
    torch.testing.assert_close(
        torch.tensor(probe_dist["logits"]), torch.tensor(probe_single["logits"]), rtol=1e-4, atol=1e-4
    )

    for folder in (dist_out / "final", dist_out / "checkpoint-4" / "hf"):
        model = AutoModelForCausalLM.from_pretrained(folder)
        assert type(model).__name__ == "Qwen3ForCausalLM"
        assert AutoTokenizer.from_pretrained(folder).chat_template
        reference = AutoModelForCausalLM.from_pretrained(single / "final").state_dict()
        for name, value in model.state_dict().items():
            torch.testing.assert_close(value, reference[name], rtol=1e-4, atol=1e-5, msg=name)


def _check_sharded_checkpoint_loads_on_one_process(model_dir: Path, ckpt: Path) -> None:
    """DCP reshards: a checkpoint written by 2 processes resumes on 1 (model and optimiser)."""
    from train_core_loop import LoopConfig
    from transformers import AutoModelForCausalLM

    from toolrm_train.core.checkpoint import load_checkpoint
    from toolrm_train.core.distributed import DistEnv
    from toolrm_train.core.optim import build_optimizer, build_scheduler

    config = LoopConfig(model_name_or_path=str(model_dir), max_steps=4)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, 4)
    state = load_checkpoint(ckpt, model=model, optimizer=optimizer, scheduler=scheduler, env=DistEnv())
    assert state["step"] == 2 and state["data"]["position"] == 8
    assert scheduler.last_epoch == 2
    saved = AutoModelForCausalLM.from_pretrained(ckpt / "hf").state_dict()
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, saved[name], rtol=0, atol=0, msg=name)
    steps = {int(s["step"]) for s in optimizer.state_dict()["state"].values()}
    assert steps == {2} and len(optimizer.state_dict()["state"]) == len(list(model.parameters()))
