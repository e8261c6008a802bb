"""pass^k of the Best-of-N ``_passk`` tasks, end to end: repeats are trials, each its own driver run.

The judge is scripted and *tires*: it picks the oracle's candidate the first two times it is sent a
prompt and a wrong one (where the set has one) every later time. Judged 4 times, an item with both
right and wrong candidates is right on trials 0 and 1 and wrong on 2 and 3; an item whose candidates
are all right (all wrong) is right (wrong) every time. A bridge that ran the driver once and copied
its record to every repeat would make every item right 4 times out of 4.
"""

from __future__ import annotations

import json
from pathlib import Path

import lm_eval
import pytest
from lm_eval.api.instance import Instance
from lm_eval.tasks import TaskManager
from same_metrics import same_metrics
from scripted_judges import ScriptedBonJudge

from harness_tasks import TASKS_DIR
from harness_tasks.cli import main as toolrm_eval
from harness_tasks.lm_eval_bridge import (
    answer_multi_round,
    cache_generations,
    generation_request,
    multi_round_request,
    register_driver,
    trial_of,
)
from harness_tasks.rescore import find_runs, rescore_run


TASK = "trbench_bon_think_passk"
LIMIT = 8
REPEATS = 4  # the task's default

# pass^1, pass^2, pass^4 of one item by its number of correct trials c of 4, worked out by hand:
# C(c, k) / C(4, k): c=4 -> 1, 1, 1; c=2 -> 2/4, 1/6, 0/1; c=0 -> 0, 0, 0
BY_HAND = {4: (1.0, 1.0, 1.0), 2: (0.5, 1 / 6, 0.0), 0: (0.0, 0.0, 0.0)}


def successes_of_a_tiring_judge(correct: list[bool]) -> int:
    if all(correct):
        return 4
    return 2 if any(correct) else 0


def evaluate(model, limit: int = LIMIT, metadata: dict | None = None) -> dict:
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
    return lm_eval.simple_evaluate(
        model=model, tasks=[TASK], task_manager=manager, limit=limit, bootstrap_iters=0, log_samples=True
    )


@pytest.fixture(scope="module")
def tiring_run() -> tuple[ScriptedBonJudge, dict]:
    judge = ScriptedBonJudge("tiring")
    return judge, evaluate(judge)


def test_a_tiring_judge_gets_exactly_the_pass_hat_k_worked_out_by_hand(tiring_run):
    judge, output = tiring_run
    results, samples = output["results"][TASK], output["samples"][TASK]
    assert len(samples) == LIMIT
    # one listwise prompt per item and trial: every trial was sent to the judge
    assert judge.calls == LIMIT * REPEATS
    counts = [successes_of_a_tiring_judge(s["doc"]["correct"]) for s in samples]
    assert 2 in counts  # the items include some where the judge's choice matters
    for k_index, k in enumerate((1, 2, 4)):
        expected = sum(BY_HAND[c][k_index] for c in counts) / LIMIT
        assert results[f"pass_hat_k_{k},none"] == pytest.approx(expected, abs=1e-12)
        lower, upper = results[f"pass_hat_k_{k}_ci_lower,none"], results[f"pass_hat_k_{k}_ci_upper,none"]
        assert lower <= expected <= upper
    assert "pass_hat_k_3,none" not in results  # 4 trials report k = 1, 2, 4
    # the plain metrics are the first trial's: the oracle's pick wherever a candidate is right
    assert results["acc_at_n_8,none"] == results["oracle_at_n_8,none"] > results["pass_hat_k_1,none"]
    for sample, c in zip(samples, counts, strict=True):
        hits = sample["pass_hat_k_1"]["hits"]
        assert hits == [True] * 4 if c == 4 else [True, True, False, False] if c == 2 else [False] * 4
        assert len(sample["filtered_resps"][0]) == REPEATS  # take_first_k kept every trial's record


def test_metadata_sets_the_number_of_trials_and_the_reported_k():
    judge = ScriptedBonJudge("tiring")
    results = evaluate(judge, limit=3, metadata={"repeats": 3})["results"][TASK]
    assert judge.calls == 3 * 3
    names = {key.split(",")[0] for key in results}
    assert {n for n in names if n.removeprefix("pass_hat_k_").isdigit()} == {
        "pass_hat_k_1",
        "pass_hat_k_2",
        "pass_hat_k_3",
    }
    with pytest.raises(ValueError, match="whole number of trials >= 2"):
        evaluate(ScriptedBonJudge("tiring"), limit=1, metadata={"repeats": 1})


PROBE = "pass_hat_k_probe_task"


def test_each_repeat_is_a_driver_run_of_its_own_and_padding_runs_none():
    """The request list as lm-eval's evaluator builds it (``evaluator.evaluate``, 0.4.13): every
    request ``repeats`` times in a row, then data-parallel padding: ``repeats`` more copies of the
    last request per padding step."""
    calls: list[list[list[tuple[int, int, int]]]] = []

    def driver(lm, items: list[list[Instance]]) -> list[str]:
        calls.append([[(r.doc_id, r.idx, trial_of(r)) for r in group] for group in items])
        return [f"item {group[0].doc_id}, trial {trial_of(group[0])}" for group in items]

    register_driver(PROBE, driver)
    repeats = 3
    requests = [
        multi_round_request({}, (f"prompt {doc_id}.{idx}", {}), idx, (PROBE, doc_id, repeats))
        for doc_id, idx in ((0, 1), (0, 0), (1, 0))  # item 0 has two requests, listed out of order
    ]
    cloned = [request for request in requests for _ in range(repeats)]
    padding_steps = 2
    cloned += [requests[-1]] * repeats * padding_steps

    answers = answer_multi_round(object(), cloned)

    assert len(calls) == repeats  # one run per trial, none for the padding
    for trial, items in enumerate(calls):
        assert items == [[(0, 0, trial), (0, 1, trial)], [(1, 0, trial)]]
    item_0_second = ["", "", ""]
    item_0_first = [f"item 0, trial {t}" for t in range(repeats)]
    item_1 = [f"item 1, trial {t}" for t in range(repeats)]
    assert answers == item_0_second + item_0_first + item_1 + item_1 * padding_steps


def test_a_round_inherits_the_trial_of_its_item():
    source = multi_round_request({}, ("p", {}), 0, (PROBE, 0, 4))
    assert trial_of(generation_request({}, "q", {}, source=source)) == 0
    copies: list[Instance] = []
    register_driver(PROBE, lambda lm, items: copies.extend(g[0] for g in items) or ["r"] * len(items))
    answer_multi_round(object(), [source] * 4)
    assert [trial_of(generation_request({}, "q", {}, source=c)) for c in copies] == [0, 1, 2, 3]


def test_trials_are_cached_apart_and_a_resumed_run_makes_only_the_missing_trials(tmp_path):
    identity = {"model": "scripted"}
    # a run cut after two trials (as a killed run leaves its cache), then the full run on that cache
    first = ScriptedBonJudge("tiring")
    store = cache_generations(first, tmp_path, identity)
    evaluate(first, limit=4, metadata={"repeats": 2})
    store.close()
    assert first.calls == 4 * 2  # trial 1's prompts were not served trial 0's generations

    resumed = ScriptedBonJudge("tiring")
    store = cache_generations(resumed, tmp_path, identity)
    output = evaluate(resumed, limit=4)
    store.close()
    assert resumed.calls == 4 * 2  # only trials 2 and 3 were generated
    # a fresh judge is right the first two times: trials 2 and 3 are new samples, right as well
    for sample in output["samples"][TASK]:
        assert sample["pass_hat_k_1"]["hits"] == [any(sample["doc"]["correct"])] * 4

    never_asked = ScriptedBonJudge("garbage")
    store = cache_generations(never_asked, tmp_path, identity)
    again = evaluate(never_asked, limit=4)
    store.close()
    assert never_asked.calls == 0
    assert json.dumps(again["results"][TASK], sort_keys=True) == json.dumps(
        output["results"][TASK], sort_keys=True
    )


def metrics_of(document: dict) -> dict:
    return {k: v for k, v in document["results"][TASK].items() if "," in k}


def test_rescore_reproduces_pass_hat_k_from_the_sample_log(tmp_path):
    try:
        toolrm_eval(["run", "--model", "scripted-bon-judge", "--model_args", "strategy=tiring",
                     "--tasks", TASK, "--limit", "5", "--metadata", json.dumps({"repeats": 3}),
                     "--output_path", str(tmp_path), "--log_samples"])  # fmt: skip
    except SystemExit as ended:  # lm-eval's command line may end with SystemExit(0)
        assert not ended.code
    [results] = tmp_path.glob("*/results_*.json")
    original = json.loads(Path(results).read_text())
    assert original["configs"][TASK]["repeats"] == 3
    [run] = find_runs(results)
    document, _ = rescore_run(run, {})
    rescored = metrics_of(document)
    assert same_metrics(rescored, metrics_of(original))
    assert {"pass_hat_k_2,none", "pass_hat_k_3,none", "pass_hat_k_3_ci_upper,none"} <= rescored.keys()
    assert rescored["pass_hat_k_1,none"] > rescored["pass_hat_k_3,none"]
