"""Trainer core: config loading, schedule, RNG, data order, metrics, checkpoints and exact resume."""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from toolrm_train.core import cli
from toolrm_train.core.checkpoint import (
    COMPLETE_MARKER,
    find_last_checkpoint,
    list_checkpoints,
    read_trainer_state,
    resolve_resume,
)
from toolrm_train.core.config import (
    ConfigError,
    TrainerConfig,
    config_to_dict,
    describe_fields,
    load_config,
    save_config,
)
from toolrm_train.core.data_order import EpochSampler
from toolrm_train.core.distributed import DistEnv, all_reduce_sums, rank_slice
from toolrm_train.core.metrics_log import MetricsLogger, truncate_metrics
from toolrm_train.core.optim import build_optimizer, build_scheduler, total_training_steps
from toolrm_train.core.rng import capture_rng_state, restore_rng_state, seed_everything


@dataclass
class ExampleConfig(TrainerConfig):
    """A trainer's subclass: new field, overridden default."""

    learning_rate: float = 4e-6
    num_generations: int = field(default=8, metadata={"help": "samples per prompt"})


# --- config ----------------------------------------------------------------------------------------


def test_load_config_yaml_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(
        "output_dir: runs/x\nlearning_rate: 1e-5\nlr_scheduler: cosine\ndataset_path: data.parquet\n"
        "num_generations: 4\nbf16: auto\n"
    )
    config = load_config(
        ExampleConfig, path, ["learning_rate=2e-6", "report_to=[jsonl, tensorboard]", "bf16=true", "seed=7"]
    )
    assert config.output_dir == "runs/x"
    assert config.learning_rate == 2e-6  # override wins; YAML's "1e-5" (a string in YAML 1.1) also parsed
    assert config.lr_scheduler == "cosine"
    assert config.dataset_paths == ["data.parquet"]  # alias + single string -> list
    assert config.num_generations == 4
    assert config.report_to == ["jsonl", "tensorboard"]
    assert config.bf16 is True
    assert config.seed == 7
    assert load_config(ExampleConfig, path, []).learning_rate == 1e-5
    assert load_config(ExampleConfig, None, []).learning_rate == 4e-6  # subclass default


def test_config_round_trips_through_yaml(tmp_path: Path) -> None:
    config = load_config(ExampleConfig, None, ["max_steps=12", "dataset_paths=[a, b]", "bf16=false"])
    saved = save_config(config, tmp_path / "c.yaml")
    assert load_config(ExampleConfig, saved, []) == config
    assert config_to_dict(config)["dataset_paths"] == ["a", "b"]


@pytest.mark.parametrize(
    ("yaml_text", "overrides", "message"),
    [
        ("learning_rat: 1e-6\n", [], "unknown config key 'learning_rat' (did you mean 'learning_rate'?)"),
        ("", ["num_epochz=2"], "override 'num_epochz=2': unknown config key"),
        ("num_epochs: two\n", [], "key 'num_epochs': expected an integer, got 'two'"),
        ("num_epochs: true\n", [], "expected an integer, got True"),
        ("gradient_checkpointing: 1\n", [], "expected true or false"),
        ("lr_scheduler: cosin\n", [], "expected one of ['constant', 'cosine', 'linear']"),
        ("bf16: maybe\n", [], "key 'bf16': expected bool | 'auto'"),
        ("report_to: [jsonl, mlflow]\n", [], "unknown sink(s) ['mlflow']"),
        ("- a\n- b\n", [], "the top level must be a mapping"),
        ("warmup_ratio: 1.5\n", [], "'warmup_ratio': must be in [0, 1)"),
        ("", ["learning_rate"], "expected key=value"),
    ],
)
def test_config_errors_name_the_file_and_key(tmp_path: Path, yaml_text, overrides, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(ExampleConfig, path, overrides)
    assert message in str(info.value)
    if not overrides and "mapping" not in message and "must be" not in message and "sink" not in message:
        assert str(path) in str(info.value)


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(TrainerConfig, tmp_path / "nope.yaml", [])


def test_every_field_is_documented() -> None:
    text = describe_fields(ExampleConfig)
    import dataclasses

    for f in dataclasses.fields(TrainerConfig):
        assert f.metadata.get("help"), f"field {f.name} has no help"
        assert f"  {f.name} (" in text
    assert "num_generations (int, default: 8)" in text


# --- optimiser and schedule -------------------------------------------------------------------------


def test_schedule_warmup_then_cosine_to_floor() -> None:
    model = torch.nn.Linear(3, 2)
    config = TrainerConfig(learning_rate=1.0, lr_scheduler="cosine", warmup_ratio=0.2, min_lr_ratio=0.1)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, total_steps=10)  # warm-up 2 steps, decay 8
    lrs = []
    for _ in range(10):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [0.0, 0.5] + [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * k / 8)) for k in range(8)]
    assert lrs == pytest.approx(expected)
    linear = build_scheduler(
        build_optimizer(model, TrainerConfig(learning_rate=1.0, lr_scheduler="linear")),
        TrainerConfig(learning_rate=1.0, lr_scheduler="linear"),
        total_steps=4,
    )
    assert linear.get_last_lr()[0] == 1.0
    for value in (0.75, 0.5, 0.25):
        linear.optimizer.step()
        linear.step()
        assert linear.get_last_lr()[0] == pytest.approx(value)


def test_weight_decay_skips_biases_and_norms() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    optimizer = build_optimizer(model, TrainerConfig(weight_decay=0.1, adam_beta2=0.95))
    decayed = {id(p) for g in optimizer.param_groups if g["weight_decay"] == 0.1 for p in g["params"]}
    assert decayed == {id(model[0].weight)}
    assert optimizer.param_groups[0]["betas"] == (0.9, 0.95)


def test_total_training_steps() -> None:
    assert total_training_steps(TrainerConfig(num_epochs=2), steps_per_epoch=5) == 10
    assert total_training_steps(TrainerConfig(max_steps=3), steps_per_epoch=5) == 3
    with pytest.raises(ValueError, match="smaller than one global batch"):
        total_training_steps(TrainerConfig(), steps_per_epoch=0)


# --- RNG, data order, ranks ------------------------------------------------------------------------


def test_rng_state_restores_every_source() -> None:
    seed_everything(3)
    gen = torch.Generator().manual_seed(11)
    state = json.loads(json.dumps(capture_rng_state({"rollout": gen})))  # JSON-safe by design

    def draw():
        return (
            random.random(),
            float(np.random.rand()),
            float(torch.rand(())),
            float(torch.rand((), generator=gen)),
        )

    first = draw()
    assert draw() != first
    restore_rng_state(state, {"rollout": gen})
    assert draw() == first
    with pytest.raises(KeyError, match="no generator named 'other'"):
        restore_rng_state(state, {"other": torch.Generator()})


def test_epoch_sampler_is_deterministic_and_resumes_exactly() -> None:
    sampler = EpochSampler(10, seed=5)
    batches = [sampler.next_global_batch(4) for _ in range(6)]  # 2 batches per epoch (tail of 2 dropped)
    assert all(len(b) == 4 for b in batches)
    assert batches[0] + batches[1] != batches[2] + batches[3]  # a new permutation each epoch
    assert len(set(batches[0] + batches[1])) == 8
    assert sampler.epoch == 2
    assert EpochSampler(10, seed=5).order(1).tolist() == sampler.order(1).tolist()
    assert EpochSampler(10, seed=6).order(0).tolist() != sampler.order(0).tolist()

    again = EpochSampler(10, seed=5)
    for _ in range(3):
        again.next_global_batch(4)
    resumed = EpochSampler(10, seed=5)
    resumed.load_state_dict(json.loads(json.dumps(again.state_dict())))
    assert [resumed.next_global_batch(4) for _ in range(3)] == batches[3:]
    with pytest.raises(ValueError, match="num_items=10, this run has num_items=11"):
        EpochSampler(11, seed=5).load_state_dict(again.state_dict())


def test_rank_slices_cover_the_global_batch_in_order() -> None:
    items = list(range(7))
    shares = [rank_slice(items, DistEnv(rank=r, world_size=3, is_main=r == 0)) for r in range(3)]
    assert shares == [[0, 1, 2], [3, 4], [5, 6]]
    assert all_reduce_sums([1, torch.tensor(2.0), 0.5], DistEnv()) == [1.0, 2.0, 0.5]


# --- metrics ---------------------------------------------------------------------------------------


def test_metrics_jsonl_and_resume_truncation(tmp_path: Path) -> None:
    config = TrainerConfig(output_dir=str(tmp_path))
    with MetricsLogger(config, DistEnv(), total_steps=4) as metrics:
        for step in (1, 2, 3):
            metrics.log(step, {"loss": torch.tensor(1.0 / step), "lr": 1e-6})
    path = tmp_path / "metrics.jsonl"
    with path.open("a") as fh:
        fh.write('{"step": 4, "loss": 0.2')  # torn line from a kill
    records = [json.loads(line) for line in path.read_text().splitlines()[:3]]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert records[1]["loss"] == 0.5 and records[1]["lr"] == 1e-6

    with MetricsLogger(config, DistEnv(), resume_step=2) as metrics:
        metrics.log(3, {"loss": 9.0})
    steps = [json.loads(line)["step"] for line in path.read_text().splitlines()]
    assert steps == [1, 2, 3]
    assert json.loads(path.read_text().splitlines()[-1])["loss"] == 9.0
    assert truncate_metrics(path, 1) == 1

    silent = MetricsLogger(
        TrainerConfig(output_dir=str(tmp_path / "r1")), DistEnv(rank=1, world_size=2, is_main=False)
    )
    silent.log(1, {"loss": 1.0})
    silent.close()
    assert not (tmp_path / "r1").exists()


# --- checkpoints and exact resume (the generic loop in train_core_loop.py) ---------------------------


def _loop_config(model_dir: Path, out: Path, **overrides) -> object:
    from train_core_loop import LoopConfig

    values = {
        "model_name_or_path": str(model_dir),
        "output_dir": str(out),
        "max_steps": 6,
        "save_every_steps": 2,
    }
    return LoopConfig(**{**values, **overrides})


def _params(model_dir: Path) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    return dict(AutoModelForCausalLM.from_pretrained(model_dir).state_dict())


@pytest.fixture(scope="module")
def uninterrupted_run(tiny_causal_lm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from train_core_loop import train

    out = tmp_path_factory.mktemp("loop-full")
    train(_loop_config(tiny_causal_lm_dir, out), resume=False)
    return out


def test_resume_continues_exactly(uninterrupted_run: Path, tiny_causal_lm_dir: Path, tmp_path: Path) -> None:
    from train_core_loop import read_losses, train

    full_losses = read_losses(uninterrupted_run)
    assert len(full_losses) == 6 and len(set(full_losses.values())) == 6

    out = tmp_path / "run"
    train(_loop_config(tiny_causal_lm_dir, out, stop_after_steps=3), resume=False)  # "killed" after step 3
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-2"]
    state = read_trainer_state(out / "checkpoint-2")
    assert state["step"] == 2 and state["trainer_state"]["data"]["position"] == 8 and len(state["rng"]) == 1

    final = train(_loop_config(tiny_causal_lm_dir, out), resume=True)
    losses = read_losses(out)
    assert sorted(losses) == [1, 2, 3, 4, 5, 6]  # step 3 of the killed run was cut and redone
    assert losses == full_losses  # same data, same RNG draws, same optimiser/scheduler state: exact
    expected = _params(uninterrupted_run / "final")
    for name, value in _params(final).items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=0, msg=name)
    # keep_last_checkpoints=2 pruned checkpoint-2
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-4", "checkpoint-6"]


def test_resume_without_rng_restore_would_differ(uninterrupted_run: Path, tiny_causal_lm_dir: Path) -> None:
    """The resume test can fail: dropping the saved RNG state changes the next losses."""
    from train_core_loop import read_losses, train

    # Re-run step 5-6 from checkpoint-4 with the RNG entries removed from a copy.
    work = uninterrupted_run.parent / "loop-norng"
    shutil.copytree(uninterrupted_run, work, dirs_exist_ok=True)
    shutil.rmtree(work / "checkpoint-6")
    meta = json.loads((work / "checkpoint-4" / "trainer_state.json").read_text())
    meta["rng"] = []
    (work / "checkpoint-4" / "trainer_state.json").write_text(json.dumps(meta))
    train(_loop_config(tiny_causal_lm_dir, work), resume=True)
    assert read_losses(work)[5] != read_losses(uninterrupted_run)[5]


@pytest.mark.slow
def test_sigkill_during_checkpoint_write_resumes_from_previous(
    uninterrupted_run: Path, tiny_causal_lm_dir: Path, tmp_path: Path, caplog
) -> None:
    """A real SIGKILL while checkpoint-4 is being written: resume uses checkpoint-2 and ends identical."""
    from train_core_loop import read_losses, train

    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        str(Path(__file__).with_name("train_core_loop.py")),
        f"model_name_or_path={tiny_causal_lm_dir}",
        f"output_dir={out}",
        "max_steps=6",
        "save_every_steps=2",
        "hang_in_save_at_step=4",
    ]
    # the killed run uses this process's thread count: CPU kernels reduce in a thread-count-dependent
    # order, and the comparison below is bit for bit
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 240
        while not (out / "HANGING").exists():
            assert proc.poll() is None, f"the run ended early: {proc.stderr.read()[-3000:]}"
            assert time.monotonic() < deadline, "the run never reached the checkpoint write"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (out / ".tmp-checkpoint-4" / "dcp").is_dir()  # half-written: shards but no marker
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-2"]

    with caplog.at_level(logging.WARNING, logger="toolrm_train.checkpoint"):
        final = train(_loop_config(tiny_causal_lm_dir, out), resume=True)
    assert ".tmp-checkpoint-4" in caplog.text and "half-written" in caplog.text
    assert read_losses(out) == read_losses(uninterrupted_run)
    expected = _params(uninterrupted_run / "final")
    for name, value in _params(final).items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=0, msg=name)
    assert not (out / ".tmp-checkpoint-4").exists()  # cleaned once a newer checkpoint completed


def test_checkpoint_hf_dir_loads_with_tokenizer_and_chat_template(uninterrupted_run: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ckpt = uninterrupted_run / "checkpoint-6"
    assert (ckpt / COMPLETE_MARKER).is_file()
    model = AutoModelForCausalLM.from_pretrained(ckpt / "hf")
    tokenizer = AutoTokenizer.from_pretrained(ckpt / "hf")
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False
    )
    final = _params(uninterrupted_run / "final")
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, final[name], rtol=0, atol=0)  # checkpoint-6 is the final step
    assert yaml.safe_load((ckpt / "config.yaml").read_text())["max_steps"] == 6


def test_half_written_checkpoints_are_ignored(uninterrupted_run: Path, tmp_path: Path, caplog) -> None:
    out = tmp_path / "run"
    shutil.copytree(uninterrupted_run, out)
    shutil.copytree(out / "checkpoint-6", out / "checkpoint-8")
    (out / "checkpoint-8" / COMPLETE_MARKER).unlink()  # killed before the marker
    (out / ".tmp-checkpoint-10").mkdir()  # killed mid-write
    with caplog.at_level(logging.WARNING, logger="toolrm_train.checkpoint"):
        assert find_last_checkpoint(out) == out / "checkpoint-6"
    assert "checkpoint-8" in caplog.text and "no COMPLETE marker" in caplog.text
    assert ".tmp-checkpoint-10" in caplog.text and "half-written" in caplog.text
    assert find_last_checkpoint(tmp_path / "empty") is None


def test_fresh_run_refuses_a_folder_with_checkpoints(uninterrupted_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(uninterrupted_run, out)
    with pytest.raises(ConfigError, match="pass --resume"):
        resolve_resume(TrainerConfig(output_dir=str(out)), False, DistEnv())
    from train_core_loop import LoopConfig  # --resume needs the run's own config (resume_check)

    same_run = load_config(LoopConfig, out / "checkpoint-6" / "config.yaml", [f"output_dir={out}"])
    assert resolve_resume(same_run, True, DistEnv()) == out / "checkpoint-6"
    assert (
        resolve_resume(TrainerConfig(output_dir=str(out), overwrite_output_dir=True), False, DistEnv())
        is None
    )
    assert list_checkpoints(out) == [] and not (out / "final").exists()
    assert resolve_resume(TrainerConfig(output_dir=str(tmp_path / "new")), True, DistEnv()) is None


# --- CLI -------------------------------------------------------------------------------------------


@pytest.fixture
def loop_trainer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.TRAINERS, "loop", ("train_core_loop", "test loop"))


def test_cli_help_lists_fields(loop_trainer, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["loop", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert (
        "--resume" in out and "learning_rate (float, default: 0.002)" in out and "Peak learning rate" in out
    )


def test_cli_print_config_and_errors(loop_trainer, tmp_path: Path, capsys) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("max_steps: 3\n")
    assert cli.main(["loop", "--config", str(path), "seed=4", "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["max_steps"] == 3 and printed["seed"] == 4
    assert cli.main(["loop", "--config", str(path), "sed=4"]) == 2
    assert "unknown config key 'sed' (did you mean 'seed'?)" in capsys.readouterr().err


def test_cli_trains_and_resumes(loop_trainer, tiny_causal_lm_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli-run"
    args = ["loop", f"model_name_or_path={tiny_causal_lm_dir}", f"output_dir={out}", "max_steps=2"]
    assert cli.main([*args, "save_every_steps=1"]) == 0
    assert capsys.readouterr().out.strip().endswith(str(out / "final"))
    assert cli.main(args) == 2  # a fresh run may not clobber the folder
    assert "already holds a run" in capsys.readouterr().err
    assert cli.main([*args, "max_steps=3", "--resume"]) == 0
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
