"""Resumable judge runs (harness_tasks.generation_cache, ``toolrm-eval --generation_cache``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import lm_eval
import pytest
from lm_eval.tasks import TaskManager
from scripted_judges import ScriptedJudge

from harness_tasks import TASKS_DIR
from harness_tasks.generation_cache import TRIAL_ATTRIBUTE, GenerationStore, request_keys
from harness_tasks.lm_eval_bridge import cache_generations


TESTS_DIR = Path(__file__).resolve().parent
TASK = "trbench_bfcl_think_live_parallel"  # 34 pairs, 68 generations
ROWS = 68


def request(prompt: str, **gen_kwargs) -> SimpleNamespace:
    return SimpleNamespace(args=(prompt, {"temperature": 0.6, **gen_kwargs}))


def test_keys_depend_on_content_and_number_identical_requests_apart():
    identity = {"model": "hf", "model_args": "pretrained=a", "seeds": [0, 1234, 1234]}
    keys = request_keys(identity, [request("p"), request("p"), request("q")])
    assert len(set(keys)) == 3  # repeats of one prompt stay independent samples
    assert request_keys(identity, [request("q")]) == keys[2:]
    other_model = request_keys({**identity, "model_args": "pretrained=b"}, [request("q")])
    other_seed = request_keys({**identity, "seeds": [1, 1234, 1234]}, [request("q")])
    other_kwargs = request_keys(identity, [request("q", top_p=0.5)])
    assert len({keys[2], *other_model, *other_seed, *other_kwargs}) == 4


def test_trials_of_one_prompt_have_keys_of_their_own_and_trial_0_keeps_the_old_key():
    identity = {"model": "hf"}
    plain = request("p")
    trials = [request("p") for _ in range(3)]
    for trial, each in enumerate(trials):
        if trial:
            setattr(each, TRIAL_ATTRIBUTE, trial)
    keys = [request_keys(identity, [each])[0] for each in trials]
    assert keys[0] == request_keys(identity, [plain])[0]  # caches from before trials still serve
    assert len(set(keys)) == 3  # each trial's first occurrence is a new generation


def test_torn_last_line_is_ignored_and_appending_continues(tmp_path):
    path = tmp_path / "generations_rank0.jsonl"
    store = GenerationStore(path)
    store.put("a", "<choice>\n1\n</choice>")
    store.close()
    with open(path, "a") as out:
        out.write('["b", "<choice>\\n2')  # a write cut by SIGKILL
    reopened = GenerationStore(path)
    assert (reopened.get("a"), "b" in reopened) == ("<choice>\n1\n</choice>", False)
    reopened.put("b", "two")
    reopened.close()
    assert GenerationStore(path).get("b") == "two"


class CountingModel:
    rank = 0

    def __init__(self):
        self.cache_hook = None
        self.made = []

    def generate_until(self, requests, disable_tqdm=False):
        self.made += [r.args[0] for r in requests]
        return [f"out:{r.args[0]}" for r in requests]


def test_stored_generations_are_served_not_made_again(tmp_path):
    identity = {"model": "counting"}
    first = CountingModel()
    store = cache_generations(first, tmp_path, identity)
    assert first.generate_until([request("p"), request("q")]) == ["out:p", "out:q"]
    store.close()
    second = CountingModel()
    store = cache_generations(second, tmp_path, identity)
    assert second.generate_until([request("q"), request("r"), request("p")]) == ["out:q", "out:r", "out:p"]
    store.close()
    assert second.made == ["r"]


def toolrm_eval(args: list[str]) -> subprocess.Popen:
    driver = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); import scripted_judges; "
        "from harness_tasks.cli import main; main()"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", driver, str(TESTS_DIR), "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )


def judge_args(log: Path, cache: Path, out: Path, delay: float) -> list[str]:
    return [
        "--model", "scripted-judge",
        "--model_args", f"strategy=tricky,delay={delay},log_path={log}",
        "--tasks", TASK,
        "--generation_cache", str(cache),
        "--output_path", str(out),
        "--log_samples",
    ]  # fmt: skip


def metrics_of(out: Path) -> tuple[dict, dict]:
    [results_file] = out.glob("*/results_*.json")
    results = json.loads(results_file.read_text())
    return {k: v for k, v in results["results"][TASK].items() if "," in k}, results["config"]


def generations_logged(log: Path) -> list[tuple[str, str]]:
    """Complete lines only: the judge may be writing the next one."""
    text = log.read_text() if log.exists() else ""
    return [tuple(json.loads(line)) for line in text[: text.rfind("\n") + 1].splitlines()]


@pytest.mark.slow
def test_judge_run_killed_midway_resumes_without_generating_twice(tmp_path):
    log, cache = tmp_path / "made.jsonl", tmp_path / "cache"
    killed = toolrm_eval(judge_args(log, cache, tmp_path / "killed", delay=0.1))
    deadline = time.monotonic() + 300
    stored = cache / "generations_rank0.jsonl"

    def between_generations() -> bool:  # the last one made is stored: the judge is pausing
        made = len(generations_logged(log))
        return made >= 10 and stored.exists() and stored.read_text().count("\n") == made

    while not between_generations():
        assert killed.poll() is None, killed.stdout.read()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    made_before = len(generations_logged(log))
    assert 10 <= made_before < ROWS

    resumed = toolrm_eval(judge_args(log, cache, tmp_path / "resumed", delay=0.1))  # the same arguments
    output = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, output[-3000:]
    made = generations_logged(log)
    assert len(made) == ROWS and len(set(made)) == ROWS  # every row generated exactly once

    resumed_metrics, config = metrics_of(tmp_path / "resumed")
    straight = lm_eval.simple_evaluate(  # an uninterrupted run of the same judge, in process
        model=ScriptedJudge(strategy="tricky"),
        tasks=[TASK],
        task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False),
    )
    straight_metrics = {k: v for k, v in straight["results"][TASK].items() if "," in k}
    same_keys = {k: straight_metrics[k] for k in resumed_metrics}
    assert json.dumps(resumed_metrics, sort_keys=True) == json.dumps(same_keys, sort_keys=True)  # NaN-safe
    assert 0 < resumed_metrics["w_avg,none"] < 1
    assert config["generation_cache"] == str(cache) and config["model"] == "scripted-judge"
