"""Shared fixtures: tiny locally built Qwen3 models (no downloads), built once per test session."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest


TESTS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS_DIR))  # helper modules (scripted judges, vLLM shim) import by name

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


# --- one vLLM engine start for every task family's `--model vllm` test --------------------------------

VLLM_TOOLRM_EVAL = [sys.executable, str(TESTS_DIR / "toolrm_eval_vllm_cpu.py")]
"""The ``toolrm-eval`` entry for ``--model vllm`` on vLLM's CPU build (a guarded script: vLLM's
spawned workers re-import the main module)."""


@pytest.fixture(scope="session")
def vllm_generative_run(tiny_causal_lm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of ONE ``toolrm-eval --model vllm`` run of every generative task family.

    Starting vLLM's engine on CPU costs about a minute; TRBench-BFCL, Best-of-N (listwise and
    knockout) and self-correction (critic and oracle rounds) share one start, as a user's run of
    several tasks would, and each family's test reads its own task's results and samples.
    """
    import subprocess

    from vllm_cpu_args import VLLM_GENERATIVE_LIMIT, VLLM_GENERATIVE_TASKS, vllm_cpu_model_args

    out = tmp_path_factory.mktemp("vllm-generative-run")
    command = [
        *VLLM_TOOLRM_EVAL,
        "--model", "vllm",
        "--model_args", vllm_cpu_model_args(tiny_causal_lm_dir),
        "--tasks", ",".join(VLLM_GENERATIVE_TASKS),
        "--apply_chat_template",
        "--gen_kwargs", "max_gen_toks=8",
        "--limit", str(VLLM_GENERATIVE_LIMIT),
        "--output_path", str(out),
        "--log_samples",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-6000:]
    return out
