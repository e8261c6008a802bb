"""Trainer configs refuse nonsense, and --resume refuses a change it would ignore (issue 26, item 3).

Range checks run in ``load_config`` (so ``--print-config`` and a run refuse alike) and name the
override or file and the key; the CLI turns them into exit 2. On ``--resume`` the requested config
is compared with the checkpoint's: a field outside the documented allow-list is refused with both
values; an allowed one (more steps, another checkpoint interval) is honoured, which the metrics
and the saved config show.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from toolrm_train.bt.config import BTConfig
from toolrm_train.core import cli
from toolrm_train.core.checkpoint import list_checkpoints
from toolrm_train.core.config import ConfigError, TrainerConfig, load_config
from toolrm_train.core.optim import lr_multiplier
from toolrm_train.core.resume_check import changed_fields
from toolrm_train.grpo.config import GRPOConfig


ROOT = Path(__file__).resolve().parents[1]

# (override, the key the error must name): each value was accepted, or crashed later, before.
SHARED_NONSENSE = [
    ("adam_beta1=5", "adam_beta1"),
    ("adam_beta1=-0.1", "adam_beta1"),
    ("adam_beta2=1", "adam_beta2"),
    ("adam_eps=-1", "adam_eps"),
    ("adam_eps=0", "adam_eps"),
    ("adam_eps=.nan", "adam_eps"),
    ("learning_rate=1e300", "learning_rate"),
    ("learning_rate=0", "learning_rate"),
    ("learning_rate=-1e-6", "learning_rate"),
    ("learning_rate=.nan", "learning_rate"),
    ("learning_rate=.inf", "learning_rate"),
    ("min_lr_ratio=5", "min_lr_ratio"),
    ("min_lr_ratio=-0.1", "min_lr_ratio"),
    ("min_lr_ratio=.nan", "min_lr_ratio"),
    ("max_grad_norm=.nan", "max_grad_norm"),
    ("max_grad_norm=.inf", "max_grad_norm"),
    ("weight_decay=.nan", "weight_decay"),
    ("weight_decay=-0.01", "weight_decay"),
    ("weight_decay=2000000", "weight_decay"),  # lr 4e-6 × 2e6 = 8: the weights would flip sign
    ("warmup_ratio=.nan", "warmup_ratio"),
    ("output_dir=", "output_dir"),
    ("output_dir='  '", "output_dir"),
    ("max_length=0", "max_length"),
    ("seed=-1", "seed"),
    ("dataset_paths=['']", "dataset_paths"),
]
BT_NONSENSE = [
    ("center_rewards_coefficient=.nan", "center_rewards_coefficient"),
    ("margin_scale=.inf", "margin_scale"),
    ("score_init_std=0", "score_init_std"),
    ("eval_fraction=1", "eval_fraction"),
    ("chosen_key=", "chosen_key"),
]
GRPO_NONSENSE = [
    ("num_generations=1", "num_generations"),
    ("temperature=.nan", "temperature"),
    ("top_p=.nan", "top_p"),
    ("top_k=-1", "top_k"),
    ("clip_ratio_low=1", "clip_ratio_low"),
    ("clip_ratio_high=.nan", "clip_ratio_high"),
    ("clip_ratio_c=0.5", "clip_ratio_c"),
    ("advantage_eps=0", "advantage_eps"),
    ("kl_coef=.nan", "kl_coef"),
    ("rollout_sync_every=-1", "rollout_sync_every"),
]
CASES = [(BTConfig, *case) for case in SHARED_NONSENSE + BT_NONSENSE] + [
    (GRPOConfig, *case) for case in SHARED_NONSENSE + GRPO_NONSENSE
]


@pytest.mark.parametrize(
    ("config_cls", "override", "key"), CASES, ids=[f"{c.__name__}-{o}" for c, o, _ in CASES]
)
def test_nonsense_values_are_config_errors_naming_override_and_key(config_cls, override, key) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(config_cls, None, [override])
    assert str(info.value).startswith(f"override '{override}': config key '{key}': must be")


def test_a_range_error_from_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bt.yaml"
    path.write_text("adam_beta1: 5\n")
    with pytest.raises(
        ConfigError, match=rf"^{path}: config key 'adam_beta1': must be in \[0, 1\), got 5.0$"
    ):
        load_config(BTConfig, path, [])


def test_grpo_group_of_one_says_why() -> None:
    with pytest.raises(ConfigError, match="with one judgment per prompt every advantage is 0"):
        load_config(GRPOConfig, None, ["num_generations=1"])


@pytest.mark.parametrize(
    "override",
    ["adam_beta1=0", "min_lr_ratio=1", "min_lr_ratio=0", "max_grad_norm=0", "max_grad_norm=-1",
     "learning_rate=1", "learning_rate=1e-9", "seed=0", "weight_decay=0"],
)  # fmt: skip
def test_edge_values_inside_the_ranges_are_accepted(override: str) -> None:
    load_config(BTConfig, None, [override])
    load_config(GRPOConfig, None, [override])


def test_defaults_and_shipped_recipes_pass() -> None:
    for config_cls in (TrainerConfig, BTConfig, GRPOConfig):
        config_cls().validate()
    for path in sorted((ROOT / "toolrm_train" / "configs").glob("*.yaml")):
        load_config(GRPOConfig if path.name.startswith("grpo") else BTConfig, path, [])


@pytest.mark.parametrize("trainer", ["bt", "grpo"])
@pytest.mark.parametrize("override", ["adam_beta1=5", "adam_eps=-1", "learning_rate=1e300"])
def test_cli_exits_2_with_a_config_error(trainer: str, override: str, capsys) -> None:
    assert cli.main([trainer, "model_name_or_path=m", "dataset_paths=[d]", override]) == 2
    err = capsys.readouterr().err
    assert f"toolrm-train {trainer}: config error: override '{override}': config key" in err
    assert "Traceback" not in err
    assert cli.main([trainer, override, "--print-config"]) == 2  # nothing nonsensical is printed as valid


def test_the_installed_command_exits_2_for_an_overflowing_rate() -> None:
    """The console entry point itself (python -m toolrm_train), once, in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "toolrm_train", "bt", "learning_rate=1e300", "--print-config"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "config key 'learning_rate': must be a finite number in (0, 1.0]" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


# --- --resume: refuse what would be ignored, honour what is allowed -------------------------------------


def test_changed_fields_compares_missing_keys_with_defaults() -> None:
    config = BTConfig(learning_rate=1e-5)
    saved = {"learning_rate": 4e-6, "adam_beta1": "0.9"}  # a field missing = the default then
    assert changed_fields(config, saved) == [("learning_rate", 4e-6, 1e-5)]


@pytest.fixture
def loop_trainer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.TRAINERS, "loop", ("train_core_loop", "test loop"))


@pytest.fixture
def finished_run(loop_trainer, tiny_causal_lm_dir: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A 4-step run of the generic loop (cosine, 25% warm-up) with checkpoints at steps 2 and 4."""
    out = tmp_path / "run"
    args = ["loop", f"model_name_or_path={tiny_causal_lm_dir}", f"output_dir={out}", "save_every_steps=2"]
    assert cli.main([*args, "max_steps=4"]) == 0
    return out, args


def _metrics(out: Path) -> dict[int, dict]:
    return {r["step"]: r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())}


def test_resume_refuses_a_changed_learning_rate_naming_both_values(finished_run, capsys) -> None:
    out, args = finished_run
    before = (out / "metrics.jsonl").read_text()
    saved_config = (out / "checkpoint-4" / "config.yaml").read_text()
    capsys.readouterr()
    assert cli.main([*args, "max_steps=6", "learning_rate=0.01", "adam_beta1=0.5", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "config error: --resume from" in err and "checkpoint-4" in err
    assert "learning_rate: checkpoint 0.002, requested 0.01" in err
    assert "adam_beta1: checkpoint 0.9, requested 0.5" in err
    assert "Changeable on --resume:" in err and "max_steps" in err
    # nothing trained, nothing rewritten: no step at the old rate, no new value in a saved config
    assert (out / "metrics.jsonl").read_text() == before
    assert (out / "checkpoint-4" / "config.yaml").read_text() == saved_config


def test_resume_honours_more_steps_and_another_checkpoint_interval(finished_run, capsys) -> None:
    out, args = finished_run
    assert cli.main([*args, "max_steps=7", "save_every_steps=1", "keep_last_checkpoints=3", "--resume"]) == 0
    metrics = _metrics(out)
    assert sorted(metrics) == [1, 2, 3, 4, 5, 6, 7]
    # steps 5-7 follow the schedule rebuilt over 7 steps (warm-up ceil(0.25 × 7) = 2, cosine to 0);
    # the old 4-step schedule would have kept the rate at its floor, 0
    for step in (5, 6, 7):
        expected = 2e-3 * lr_multiplier(step, total_steps=7, warmup=2, schedule="cosine", min_ratio=0.0)
        assert math.isclose(metrics[step]["lr"], expected, rel_tol=1e-9), step
    assert metrics[5]["lr"] > 0
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-5", "checkpoint-6", "checkpoint-7"]
    saved = yaml.safe_load((out / "checkpoint-7" / "config.yaml").read_text())
    assert saved["max_steps"] == 7 and saved["save_every_steps"] == 1 and saved["learning_rate"] == 2e-3


def test_resume_refuses_max_steps_below_the_checkpoint(finished_run, capsys) -> None:
    _, args = finished_run
    capsys.readouterr()
    assert cli.main([*args, "max_steps=3", "--resume"]) == 2
    assert "max_steps=3 but the checkpoint is already past it, at step 4" in capsys.readouterr().err
