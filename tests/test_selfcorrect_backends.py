"""Real ``toolrm-eval`` runs of the self-correction tasks with ``--model hf`` and ``--model vllm``
(vLLM's CPU build) on a tiny random Qwen3: the outputs are noise, so what is checked is that both
rounds run through the backend, every metric is reported, and nothing is dropped. The runs are the
suite's shared generative runs (conftest.py, tests/generative_runs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from generative_runs import GENERATIVE_LIMIT

from harness_tasks.trbench_selfcorrect import _generate_configs


def read_run(output_dir: Path) -> tuple[dict, dict[str, list[dict]]]:
    [results_file] = output_dir.glob("*/results_*.json")
    samples: dict[str, list[dict]] = {}
    for path in output_dir.glob("*/samples_*.jsonl"):
        task = path.name.removeprefix("samples_").rsplit("_", 1)[0]
        samples[task] = [json.loads(line) for line in path.open()]
    return json.loads(results_file.read_text()), samples


def assert_every_metric_reported(results: dict, task: str, limit: int) -> None:
    reported = results["results"][task]
    config = _generate_configs.task_configs()[f"{task}.yaml"]
    for entry in config["metric_list"]:
        assert f"{entry['metric']},none" in reported, entry["metric"]
    assert reported["n_problems,none"] == limit  # unparseable outputs are counted, not dropped
    assert results["configs"][task]["metadata"]["data_build"].startswith("selfcorrect:sha256:")


@pytest.mark.slow
def test_hf_backend_runs_both_rounds_and_reports_every_metric(hf_generative_run):
    """Self-correction's part of the suite's one ``--model hf`` run (conftest.py), whose
    ``reviser_model_args`` declare a reviser: a second model loaded with the same backend."""
    limit = GENERATIVE_LIMIT
    results, samples = read_run(hf_generative_run)
    for task in ("trbench_selfcorrect_no_think", "trbench_selfcorrect_no_critic_no_think"):
        assert_every_metric_reported(results, task, limit)
    critic_run = [json.loads(s["resps"][0][0]) for s in samples["trbench_selfcorrect_no_think"]]
    assert all(run["critic_prompt"].startswith("<|im_start|>user\n<task>") for run in critic_run)
    assert all(run["critic_output_tokens"] > 0 for run in critic_run)
    reviser_run = [json.loads(s["resps"][0][0]) for s in samples["trbench_selfcorrect_no_critic_no_think"]]
    assert all(run["revision_requested"] and run["reviser_output_tokens"] > 0 for run in reviser_run)
    # the reviser reads the conversation: system turn with the tools, ..., its own call, the request
    prompt = reviser_run[0]["reviser_prompt"]
    assert prompt.startswith("<|im_start|>system\n") and "<tools>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    no_critic = results["results"]["trbench_selfcorrect_no_critic_no_think"]
    assert no_critic["revision_rate,none"] == 1.0
    assert no_critic["reviser_output_tokens,none"] > 0


@pytest.mark.slow
def test_vllm_backend_runs_both_rounds_and_reports_every_metric(vllm_generative_run):
    """Self-correction's part of the suite's one ``--model vllm`` run (conftest.py)."""
    limit = GENERATIVE_LIMIT
    results, samples = read_run(vllm_generative_run)
    for task in ("trbench_selfcorrect_think", "trbench_selfcorrect_oracle_think"):
        assert_every_metric_reported(results, task, limit)
    oracle = [json.loads(s["resps"][0][0]) for s in samples["trbench_selfcorrect_oracle_think"]]
    wrong = [s for s in samples["trbench_selfcorrect_oracle_think"] if not s["doc"]["candidate_correct"]]
    assert wrong, "the limited run has no wrong candidate to revise"
    assert sum(run["revision_requested"] for run in oracle) == len(wrong)
    assert all(run["reviser_output_tokens"] > 0 for run in oracle if run["revision_requested"])
