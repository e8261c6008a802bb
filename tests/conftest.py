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
