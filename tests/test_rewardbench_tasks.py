"""FC-RewardBench and Plan-RewardBench through real lm-eval runs on the fixtures.

One lm-eval run per scripted strategy scores all four judge tasks at once (module-scoped), so
the whole file costs a few seconds; the fixtures are read through the same ``datasets`` call
that reads the Hub releases (``dataset_path`` in ``--metadata`` names the local copy).
"""

from __future__ import annotations

import json
import math

import lm_eval
import pytest
from lm_eval.tasks import TaskManager
from scripted_rewardbench_judges import ScriptedRewardBenchJudge

from harness_tasks import TASKS_DIR
from harness_tasks.fc_rewardbench.dataset import (
    ERROR_TYPE_KEYS,
    HUB_DATASET,
    HUB_REVISION,
    DataFormatError,
    read_pairs,
    source_of,
)
from harness_tasks.plan_rewardbench.dataset import SPLITS
from harness_tasks.plan_rewardbench.dataset import DataFormatError as PlanDataFormatError
from harness_tasks.plan_rewardbench.dataset import read_pairs as read_plan_pairs


JUDGE_TASKS = [
    "fc_rewardbench",
    "fc_rewardbench_pointwise",
    "plan_rewardbench",
    "plan_rewardbench_toolrm_no_think",
]
FIXTURE = {"dataset_path": "fixture"}
FC_PAIRS, PLAN_PAIRS = 10, 14


def task_manager(metadata: dict | None = None) -> TaskManager:
    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata or FIXTURE)


def metrics_of(results: dict, task: str) -> dict:
    """Metric -> value; lm-eval's ``"N/A"`` placeholders for stderrs we do not compute are dropped."""
    return {
        key.split(",")[0]: value
        for key, value in results["results"][task].items()
        if "," in key and value != "N/A"
    }


@pytest.fixture(scope="module")
def runs() -> dict[str, dict]:
    manager = task_manager()
    out = {}
    for strategy in ("correct", "first", "tie", "coin", "pattern"):
        tasks = ["fc_rewardbench_pointwise"] if strategy == "pattern" else JUDGE_TASKS
        results = lm_eval.simple_evaluate(
            model=ScriptedRewardBenchJudge(strategy=strategy),
            tasks=tasks,
            task_manager=manager,
            bootstrap_iters=0,
        )
        out[strategy] = {task: metrics_of(results, task) for task in tasks}
    return out


def test_always_right_judge_scores_one_everywhere(runs):
    fc, point, plan, plan_toolrm = (runs["correct"][t] for t in JUDGE_TASKS)
    assert fc["n_pairs"] == FC_PAIRS and fc["incomplete_pairs"] == 0
    assert (fc["acc"], fc["pair_acc"], fc["position_consistency"], fc["strict_parse_rate"]) == (
        1.0,
        1.0,
        1.0,
        1.0,
    )
    assert all(fc[f"acc_err_{key}"] == 1.0 for key in ERROR_TYPE_KEYS)  # the fixture has every type
    assert math.isnan(fc["acc_err_other"])
    assert fc["first_position_rate"] == 0.5
    assert (point["balanced_accuracy"], point["accuracy"], point["f1"], point["n_rows"]) == (
        1.0,
        1.0,
        1.0,
        20,
    )
    for metrics in (plan, plan_toolrm):
        assert metrics["n_pairs"] == PLAN_PAIRS
        assert (metrics["avg"], metrics["micro_acc"], metrics["pair_acc"]) == (1.0, 1.0, 1.0)
        assert all(metrics[f"acc_{split}"] == 1.0 for split in SPLITS)
        assert (metrics["tie_rate"], metrics["invalid_rate"], metrics["position_consistency"]) == (
            0.0,
            0.0,
            1.0,
        )
        present = [m for m in metrics if m.startswith("acc_len_") and not math.isnan(metrics[m])]
        assert len(present) >= 2 and all(metrics[m] == 1.0 for m in present)
        assert sum(metrics[m] for m in metrics if m.startswith("n_len_")) == 2 * PLAN_PAIRS


def test_always_first_judge_scores_exactly_half(runs):
    fc, point, plan, plan_toolrm = (runs["first"][t] for t in JUDGE_TASKS)
    # every FC pair is judged in both orders: right once, wrong once
    assert (fc["acc"], fc["pair_acc"], fc["position_consistency"], fc["first_position_rate"]) == (
        0.5,
        0.0,
        0.0,
        1.0,
    )
    assert all(fc[f"acc_err_{key}"] == 0.5 for key in ERROR_TYPE_KEYS)
    # always "yes": every incorrect call flagged, every correct one too
    assert (point["balanced_accuracy"], point["fpr"], point["fnr"]) == (0.5, 1.0, 0.0)
    for metrics in (plan, plan_toolrm):
        assert (metrics["avg"], metrics["micro_acc"], metrics["pair_acc"], metrics["tie_rate"]) == (
            0.5,
            0.5,
            0.0,
            0.0,
        )
        assert all(metrics[f"acc_{split}"] == 0.5 for split in SPLITS)


def test_ties_score_half_and_unreadable_answers_zero(runs):
    fc, point, plan, plan_toolrm = (runs["tie"][t] for t in JUDGE_TASKS)
    assert (plan["avg"], plan["tie_rate"], plan["invalid_rate"], plan["pair_acc"]) == (0.5, 1.0, 0.0, 0.0)
    assert plan["position_consistency"] == 0.0 and math.isnan(plan["first_position_rate"])
    # the ToolRM prompt and FC have no tie answer: the same output is unreadable, scored wrong
    assert (plan_toolrm["avg"], plan_toolrm["invalid_rate"]) == (0.0, 1.0)
    assert (fc["acc"], fc["invalid_rate"]) == (0.0, 1.0)
    # Granite's rule: a missing label is the wrong label
    assert (point["balanced_accuracy"], point["parse_failure_rate"]) == (0.0, 1.0)


def test_coin_lands_within_its_interval(runs):
    for task, samples in (("fc_rewardbench", 2 * FC_PAIRS), ("plan_rewardbench", 2 * PLAN_PAIRS)):
        metrics = runs["coin"][task]
        value = metrics["acc"] if task.startswith("fc") else metrics["micro_acc"]
        assert abs(value - 0.5) <= 3 * math.sqrt(0.25 / samples), (task, value)
    point = runs["coin"]["fc_rewardbench_pointwise"]
    # the mean of two recalls over 10 rows each
    assert abs(point["balanced_accuracy"] - 0.5) <= 3 * math.sqrt(0.25 / 10 + 0.25 / 10) / 2


def test_headline_intervals_bracket_the_estimate_and_collapse_when_every_unit_agrees(runs):
    headline = {"fc_rewardbench": "acc", "fc_rewardbench_pointwise": "balanced_accuracy"}
    for task in JUDGE_TASKS:
        metric = headline.get(task, "avg")
        coin = runs["coin"][task]
        assert coin[f"{metric}_ci_lower"] <= coin[metric] <= coin[f"{metric}_ci_upper"], task
        assert coin[f"{metric}_ci_upper"] - coin[f"{metric}_ci_lower"] > 0.05, task  # a real spread
        correct = runs["correct"][task]
        assert (correct[f"{metric}_ci_lower"], correct[f"{metric}_ci_upper"]) == (1.0, 1.0), task


def test_pointwise_balanced_accuracy_matches_a_hand_computation(runs):
    metrics = runs["pattern"]["fc_rewardbench_pointwise"]
    # label 0 (10 correct calls): pairs 0 and 1 flagged -> TNR 8/10, FPR 2/10.
    # label 1 (10 incorrect calls): the 2 "Parameter value error" pairs missed and pair 9
    # unreadable (counted as the wrong label) -> TPR 7/10, FNR 3/10.
    assert metrics["balanced_accuracy"] == pytest.approx((8 / 10 + 7 / 10) / 2)
    assert metrics["accuracy"] == pytest.approx(15 / 20)
    assert metrics["f1"] == pytest.approx(2 * 7 / (2 * 7 + 2 + 3))
    assert (metrics["fpr"], metrics["fnr"]) == (pytest.approx(0.2), pytest.approx(0.3))
    assert metrics["parse_failure_rate"] == pytest.approx(1 / 20)
    assert metrics["recall_err_parameter_value_error"] == 0.0


def test_fixtures_load_through_the_hub_reader():
    rows, source = read_pairs("fixture")
    assert len(rows) == FC_PAIRS and source.endswith("fc_rewardbench/fixture")
    assert {row["error_type"] for row in rows} >= {"Parsing error", "Unexpected parameter"}
    assert source_of(None) == (HUB_DATASET, HUB_REVISION)  # the default reads the pinned release
    pairs, _ = read_plan_pairs("fixture")
    assert len(pairs) == PLAN_PAIRS and {pair["split"] for pair in pairs} == set(SPLITS)
    roles = {m["role"] for pair in pairs for m in pair["chosen"] + pair["reject"]}
    assert roles == {"user", "assistant", "tool_call", "tool_response"}
    assert max(len(pair["chosen"]) for pair in pairs) >= 40  # the long multi-turn trajectory


def write_copy(tmp_path, name: str, rows: list[dict]) -> str:
    (tmp_path / "data").mkdir()
    with open(tmp_path / "data" / name, "w") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    return str(tmp_path)


def test_bad_fc_row_names_row_and_field(tmp_path):
    rows, _ = read_pairs("fixture")
    broken = [dict(rows[0]), {**rows[1], "conversation": [{"role": "assistant", "content": "hi"}]}]
    path = write_copy(tmp_path, "data-00000-of-00001.jsonl", broken)
    with pytest.raises(DataFormatError, match=r"row 1: field 'conversation' must end with the user turn"):
        read_pairs(path)


def test_bad_plan_row_names_row_and_field(tmp_path):
    line = (
        (TASKS_DIR / "plan_rewardbench" / "fixture" / "data" / "safety_refusal.jsonl")
        .read_text()
        .splitlines()[0]
    )
    row = json.loads(line)
    path = write_copy(tmp_path, "rows.jsonl", [row, {**row, "_lcp_bucket": "planning_medium"}])
    with pytest.raises(
        PlanDataFormatError, match=r"row 1: field '_lcp_bucket' must name one of the 7 splits"
    ):
        read_plan_pairs(path)


def test_reported_reference_rows_are_consistent():
    """Plan-RewardBench's printed Avg is the macro-average of its printed splits (to rounding)."""
    from toolrm_leaderboard.reported_rewardbench import FC_POINTWISE_TSV, PLAN_TSV, read_reported

    plan = read_reported(PLAN_TSV)
    assert len(plan) == 7 and all(row["reported"] for row in plan)
    for row in plan:
        assert sum(row[split] for split in SPLITS) / len(SPLITS) == pytest.approx(row["avg"], abs=0.006)
    best = {
        row["model"]: row["balanced_accuracy"]
        for row in read_reported(FC_POINTWISE_TSV)
        if row["mode"] != "think"
    }
    assert best["granite-guardian-4.1-8b"] == 0.79


def test_prompts_over_the_context_are_skipped_whole_and_counted(tiny_causal_lm_dir):
    from harness_tasks.fc_rewardbench.loader import load_fc_rewardbench
    from harness_tasks.plan_rewardbench.loader import load_plan_rewardbench

    for load, total, limit in (
        (load_fc_rewardbench, FC_PAIRS, 650),
        (load_plan_rewardbench, PLAN_PAIRS, 3000),
    ):
        documents = load(dataset_path="fixture", pretrained=str(tiny_causal_lm_dir), context_limit=limit)[
            "test"
        ]
        kept = {doc["pair_id"] for doc in documents}
        skipped = documents[0]["skipped_context"]
        assert 0 < skipped < total and len(kept) + skipped == total, (load.__name__, skipped)
        assert len(documents) == 2 * len(kept)  # both documents of every kept pair
        with pytest.raises(ValueError, match=f"every one of the {total} pairs"):
            load(dataset_path="fixture", pretrained=str(tiny_causal_lm_dir), context_limit=10)


def test_answer_parsers_follow_their_sources_on_awkward_outputs():
    from harness_tasks.judgment import parse_guardian_label, parse_winner

    # Plan-RewardBench: marker priority, not position; JSON fallback; anything else is no answer
    assert parse_winner('"winner": "[[B]]" ... on reflection [[A]]') == "A"
    assert parse_winner('{"reasoning": "x", "winner": "[[tie]]"}') == "Tie"
    assert parse_winner('{"winner": "b"}') == "B"
    assert parse_winner('{"winner":"A"}') is None  # the source's literal needs the space
    assert parse_winner("") is None
    # Granite: think blocks removed, <score> first, then bare yes/no anywhere ("know" reads as no)
    assert parse_guardian_label("<think>yes</think><score> no </score>") == 0
    assert parse_guardian_label("<score>YES</score>") == 1
    assert parse_guardian_label("I know the call is fine") == 0
    assert parse_guardian_label("<think>unclosed yes") == 1
    assert parse_guardian_label("<score>maybe</score>") is None
    hostile = "<think>" * 50_000 + "<score>" * 50_000  # linear-time scans: returns at once
    assert parse_guardian_label(hostile) is None and parse_winner(hostile) is None
