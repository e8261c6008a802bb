"""The GRPO trainer end to end on CPU: a real run, a resume, and what it reads.

Two processes matching one is proved once, for the core loop (tests/test_train_core_distributed.py);
what GRPO adds to it, losses divided by global counts times the world size, is proved on tensors
(tests/test_grpo_losses.py::test_aggregation_is_split_invariant_except_the_microbatch_mode), and
a completion that does not depend on the process drawing it in tests/test_rollout.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
import yaml
from grpo_fixtures import build_quick_genrm_data
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from toolrm_train.core.config import ConfigError, load_config
from toolrm_train.grpo.config import GRPOConfig, validate_grpo_config
from toolrm_train.grpo.data import load_judge_prompts
from toolrm_train.grpo.format_warmup import warm_up_judge
from toolrm_train.grpo.trainer import train
from toolrm_train.toolpref.issues import IssueLog


@pytest.fixture(scope="module")
def genrm_data(tmp_path_factory) -> Path:
    return build_quick_genrm_data(tmp_path_factory.mktemp("genrm"))


@pytest.fixture(scope="module")
def warm_judge(tiny_causal_lm_dir, genrm_data, tmp_path_factory) -> Path:
    return warm_up_judge(tiny_causal_lm_dir, genrm_data, tmp_path_factory.mktemp("warm-judge"))


def run_config(model: Path, data: Path, out: Path, **extra) -> dict:
    config = {
        "model_name_or_path": str(model),
        "dataset_paths": [str(data)],
        "prompt_variant": "no_think",
        "enable_thinking": False,
        "output_dir": str(out),
        "max_prompt_length": 850,
        "max_response_length": 12,
        "max_length": 1024,
        "prompts_per_step": 2,
        "minibatches_per_step": 2,
        "num_generations": 4,
        "per_device_batch_size": 2,
        "rollout_batch_size": 8,
        "stop": ["</choice>"],
        "learning_rate": 2e-4,
        "max_steps": 4,
        "save_every_steps": 2,
        "gradient_checkpointing": False,
        "seed": 3,
    }
    config.update(extra)
    return config


def write_config(path: Path, values: dict) -> Path:
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


def read_metrics(out: Path) -> dict[int, dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return {record["step"]: record for record in map(json.loads, lines)}


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "final" / "model.safetensors"))


@pytest.mark.slow  # a format warm-up and a short run: about half a minute on an idle machine
def test_a_resumed_run_reaches_the_same_losses_and_weights(warm_judge, genrm_data, tmp_path):
    """Resume from the step-2 checkpoint, in process: the trainer restores its model, optimiser,
    schedule, data order and randomness. (A SIGKILL during a checkpoint write, and half-written
    checkpoints, are the core's and proved once, in tests/test_train_core.py.)"""
    # the reference: one uninterrupted run (it keeps checkpoint-2 beside its final model)
    straight = tmp_path / "straight"
    train(
        load_config(
            GRPOConfig, write_config(tmp_path / "a.yaml", run_config(warm_judge, genrm_data, straight)), []
        )
    )
    expected = read_metrics(straight)
    assert any(expected[s]["loss"] != 0.0 for s in expected)  # the warmed judge gives a learning signal
    assert 0.0 < sum(expected[s]["reward"] for s in expected) / len(expected) < 1.0

    # the same run as it stood after its step-2 checkpoint (later steps' log lines are left in, so
    # the resume must drop them), then resumed
    resumed_dir = tmp_path / "resumed"
    shutil.copytree(straight, resumed_dir, ignore=shutil.ignore_patterns("final", "checkpoint-4"))
    assert sorted(p.name for p in resumed_dir.glob("checkpoint-*")) == ["checkpoint-2"]
    config_path = write_config(tmp_path / "b.yaml", run_config(warm_judge, genrm_data, resumed_dir))
    train(load_config(GRPOConfig, config_path, []), resume=True)
    lines = (resumed_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4]
    resumed = read_metrics(resumed_dir)
    for step in (3, 4):
        assert resumed[step]["loss"] == pytest.approx(expected[step]["loss"], rel=1e-5, abs=1e-7)
        assert resumed[step]["reward"] == expected[step]["reward"]
    weights, reference = final_weights(resumed_dir), final_weights(straight)
    start = load_file(str(warm_judge / "model.safetensors"))
    assert any(not torch.equal(reference[name], start[name]) for name in reference)  # training moved them
    for name, tensor in reference.items():
        torch.testing.assert_close(weights[name], tensor, rtol=1e-5, atol=1e-6)

    # the final folder is a Hugging Face judge (model, tokenizer, chat template)
    model = AutoModelForCausalLM.from_pretrained(resumed_dir / "final")
    tokenizer = AutoTokenizer.from_pretrained(resumed_dir / "final")
    assert tokenizer.chat_template and model.config.model_type == "qwen3"


def test_data_reader_counts_every_skip(tiny_causal_lm_dir, genrm_data, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm_dir)
    good = pq.read_table(genrm_data / "toolpref_train_think.parquet").to_pylist()[:3]
    released = {  # the ToolPref-Pairwise-30K GenRM layout: JSON-string fields are accepted too
        "prompt": good[0]["prompt"],
        "reward_model": json.dumps({"ground_truth": "2", "style": "rule"}),
        "extra_info": {"index": 7},
    }
    rows = [
        *good,
        released,
        {"prompt": [], "reward_model": {"ground_truth": "1"}},
        {"prompt": good[0]["prompt"], "reward_model": {"ground_truth": "3"}},
        {"prompt": good[0]["prompt"]},
    ]
    path = tmp_path / "mixed.jsonl"  # JSON lines: rows of mixed shapes (Parquet needs one schema)
    stored = [{**r, "extra_info": json.dumps(r["extra_info"])} if r is released else r for r in rows]
    path.write_text("".join(json.dumps(r) + "\n" for r in stored) + "{not json\n", encoding="utf-8")
    issues = IssueLog()
    prompts = load_judge_prompts([str(path)], tokenizer, variant="think", enable_thinking=None,
                                 max_prompt_length=100_000, issues=issues)  # fmt: skip
    assert [p.ground_truth for p in prompts] == [r["reward_model"]["ground_truth"] for r in good] + ["2"]
    assert prompts[-1].extra_info == {"index": 7}
    assert issues.count(reason="invalid_prompt") == 1 and issues.count(reason="invalid_ground_truth") == 2
    assert "mixed.jsonl, row 5" in json.dumps(issues.to_json())
    assert issues.count(reason="invalid_json") == 1
    # the length limit: every prompt over it is counted, none silently dropped
    limit = sorted(len(p.prompt_ids) for p in prompts)[1]
    short = IssueLog()
    kept = load_judge_prompts([str(path)], tokenizer, variant="think", enable_thinking=None,
                              max_prompt_length=limit, issues=short)  # fmt: skip
    assert len(kept) + short.count(reason="prompt_too_long") == len(prompts)
    assert short.count(reason="prompt_too_long") >= 1


def test_config_defaults_are_the_paper_recipe_and_checked():
    config = GRPOConfig()
    recipe = {
        "num_generations": 8, "prompts_per_step": 128, "minibatches_per_step": 4, "learning_rate": 1e-6,
        "kl_coef": 0.0, "temperature": 1.0, "top_p": 1.0, "top_k": 0, "clip_ratio_low": 0.2,
        "clip_ratio_high": 0.2, "clip_ratio_c": 3.0, "max_prompt_length": 16384, "max_response_length": 4096,
        "per_device_batch_size": 2, "weight_decay": 0.01, "max_grad_norm": 1.0, "lr_scheduler": "constant",
        "num_epochs": 1, "ppo_epochs": 1, "save_every_steps": 20,
    }  # fmt: skip
    assert {key: getattr(config, key) for key in recipe} == recipe
    with pytest.raises(ConfigError, match="minibatches_per_step"):
        validate_grpo_config(GRPOConfig(model_name_or_path="m", dataset_paths=["d"], prompts_per_step=6))
    with pytest.raises(ConfigError, match="gradient_accumulation_steps"):
        validate_grpo_config(
            GRPOConfig(model_name_or_path="m", dataset_paths=["d"], gradient_accumulation_steps=2)
        )
