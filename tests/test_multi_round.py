"""The bridge's multi-round mechanism: knockout and self-correction under lm-eval's and our caches.

Both task families hand every round to the model lm-eval evaluates with, so ``--use_cache``
(lm-eval's ``CachingLM``) and ``--generation_cache`` serve every round, and a killed knockout run
resumes without generating anything twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lm_eval
import pytest
from lm_eval.tasks import TaskManager
from scripted_judges import ScriptedBonJudge
from scripted_selfcorrect import ScriptedSelfCorrection

from harness_tasks import TASKS_DIR
from harness_tasks.lm_eval_bridge import MULTI_ROUND_REQUEST, answer_multi_round, cache_generations


TESTS_DIR = Path(__file__).resolve().parent
KNOCKOUT = "trbench_bon_no_think_knockout"
SELFCORRECT = "trbench_selfcorrect_think"
LIMIT = 4
KNOCKOUT_CALLS = LIMIT * 14  # 8 candidates: 7 comparisons, both orders
GREEDY = {"do_sample": False, "temperature": 0.0}


def evaluate(model, task: str, **kwargs) -> dict:
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    results = lm_eval.simple_evaluate(
        model=model, tasks=[task], task_manager=manager, limit=LIMIT, bootstrap_iters=0, **kwargs
    )
    return {k: v for k, v in results["results"][task].items() if "," in k}


def same(a: dict, b: dict) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # NaN-safe


def test_use_cache_serves_every_knockout_round(tmp_path):
    plain_judge = ScriptedBonJudge("oracle")
    plain = evaluate(plain_judge, KNOCKOUT, gen_kwargs=GREEDY)
    assert plain_judge.calls == KNOCKOUT_CALLS
    first = ScriptedBonJudge("oracle")
    cached = evaluate(first, KNOCKOUT, use_cache=str(tmp_path / "lm"), gen_kwargs=GREEDY)
    # a later round may show a pair whose prompt an earlier round sent (candidate sets hold equal
    # texts); the cache serves it then
    assert 0 < first.calls <= KNOCKOUT_CALLS and same(cached, plain)
    other = ScriptedBonJudge("garbage")  # would select nothing if it were asked
    again = evaluate(other, KNOCKOUT, use_cache=str(tmp_path / "lm"), gen_kwargs=GREEDY)
    assert other.calls == 0 and same(again, cached)
    assert cached["acc_at_n_8,none"] == cached["oracle_at_n_8,none"] > 0


def test_use_cache_with_sampling_runs_every_round_like_a_plain_run(tmp_path):
    """lm-eval's cache never serves sampled generations: the run is a plain run, round by round."""
    plain = evaluate(ScriptedBonJudge("oracle"), KNOCKOUT)
    judge = ScriptedBonJudge("oracle")
    assert same(evaluate(judge, KNOCKOUT, use_cache=str(tmp_path / "lm")), plain)
    assert judge.calls == KNOCKOUT_CALLS


def test_use_cache_serves_both_self_correction_rounds(tmp_path):
    first = ScriptedSelfCorrection(critic="always_incorrect", reviser="ground_truth")
    cached = evaluate(first, SELFCORRECT, use_cache=str(tmp_path / "lm"), gen_kwargs=GREEDY)
    assert sorted(first.calls) == ["critic"] * LIMIT + ["reviser"] * LIMIT
    other = ScriptedSelfCorrection(critic="garbage", reviser="break")
    again = evaluate(other, SELFCORRECT, use_cache=str(tmp_path / "lm"), gen_kwargs=GREEDY)
    assert other.calls == [] and same(again, cached) and cached["acc_at_round_1,none"] == 1.0


def test_generation_cache_serves_every_knockout_round(tmp_path):
    first = ScriptedBonJudge("oracle")
    store = cache_generations(first, tmp_path, identity={"model": "scripted"})
    cached = evaluate(first, KNOCKOUT)
    store.close()
    assert 0 < first.calls <= KNOCKOUT_CALLS and same(cached, evaluate(ScriptedBonJudge("oracle"), KNOCKOUT))
    other = ScriptedBonJudge("garbage")
    store = cache_generations(other, tmp_path, identity={"model": "scripted"})
    again = evaluate(other, KNOCKOUT)
    store.close()
    assert other.calls == 0 and same(again, cached)


def test_the_model_answers_multi_round_requests_only_while_lm_eval_evaluates():
    judge = ScriptedBonJudge("oracle")
    evaluate(judge, KNOCKOUT)
    assert MULTI_ROUND_REQUEST not in vars(judge)  # nothing is left on the model object
    with pytest.raises(RuntimeError, match="registered no driver"):
        from harness_tasks.lm_eval_bridge import multi_round_request

        answer_multi_round(judge, [multi_round_request({}, ("x", {}), 0, ("no_such_task", 0, 1))])


def toolrm_eval(args: list[str]) -> subprocess.Popen:
    entry = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); import scripted_judges; "
        "from harness_tasks.cli import main; main()"
    )
    return subprocess.Popen(
        [sys.executable, "-c", entry, str(TESTS_DIR), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )


def knockout_args(log: Path, cache: Path, out: Path) -> list[str]:
    return [
        "--model", "scripted-bon-judge",
        "--model_args", f"strategy=oracle,delay=0.05,log_path={log}",
        "--tasks", KNOCKOUT, "--limit", str(LIMIT),
        "--generation_cache", str(cache),
        "--output_path", str(out), "--log_samples",
    ]  # fmt: skip


def logged(log: Path) -> list[str]:
    text = log.read_text() if log.exists() else ""
    return text[: text.rfind("\n") + 1].splitlines()


@pytest.mark.slow
def test_a_killed_knockout_run_resumes_without_generating_twice(tmp_path):
    log, cache = tmp_path / "made.jsonl", tmp_path / "cache"
    stored = cache / "generations_rank0.jsonl"
    killed = toolrm_eval(knockout_args(log, cache, tmp_path / "killed"))
    deadline = time.monotonic() + 300

    def between_generations() -> bool:  # past the first round, and the last one made is stored
        made = len(logged(log))
        return made >= LIMIT * 8 + 2 and stored.exists() and stored.read_text().count("\n") == made

    while not between_generations():
        assert killed.poll() is None, killed.stdout.read()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    made_before = len(logged(log))
    assert LIMIT * 8 < made_before < KNOCKOUT_CALLS  # killed inside the later rounds

    resumed = toolrm_eval(knockout_args(log, cache, tmp_path / "resumed"))
    output = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, output[-3000:]
    straight_judge = ScriptedBonJudge("oracle")  # an uninterrupted run with a fresh cache, in process
    store = cache_generations(straight_judge, tmp_path / "straight-cache", identity={"model": "scripted"})
    straight = evaluate(straight_judge, KNOCKOUT)
    store.close()
    made = logged(log)
    assert len(made) == straight_judge.calls == len(set(made))  # every comparison generated exactly once

    [results_file] = (tmp_path / "resumed").glob("*/results_*.json")
    reported = json.loads(results_file.read_text())["results"][KNOCKOUT]
    resumed_metrics = {k: v for k, v in reported.items() if "," in k}
    assert same({k: straight[k] for k in resumed_metrics}, resumed_metrics)
