"""Self-correction tasks through real lm-eval runs with scripted critics and revisers.

The scripted model reads each item's truth, so every metric it earns is known exactly; a wrong
aggregation, a dropped unparseable item, or a reviser that is not the one declared shows up as a
wrong number.
"""

from __future__ import annotations

import json
import math

import lm_eval
import pytest
from lm_eval.tasks import TaskManager
from scripted_selfcorrect import BROKEN_CALL, ScriptedSelfCorrection

from harness_tasks import TASKS_DIR
from harness_tasks.trbench_selfcorrect.dataset import load_selfcorrect
from harness_tasks.trbench_selfcorrect.items import data_build


LIMIT = 60


@pytest.fixture(scope="module")
def task_manager() -> TaskManager:
    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False)


@pytest.fixture(scope="module")
def first_items() -> list[dict]:
    """The documents a ``--limit LIMIT`` run evaluates, read independently of lm-eval."""
    return list(load_selfcorrect(data_build=data_build())["test"].select(range(LIMIT)))


def run(task_manager, task: str, critic: str, reviser: str, metadata: dict | None = None) -> dict:
    model = ScriptedSelfCorrection(critic=critic, reviser=reviser)
    if metadata:  # as the CLI's --metadata does: merged into every task's metadata
        task_manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
    results = lm_eval.simple_evaluate(
        model=model,
        tasks=[task],
        task_manager=task_manager,
        limit=LIMIT,
        bootstrap_iters=0,
        log_samples=False,
    )
    metrics = {key.removesuffix(",none"): value for key, value in results["results"][task].items()}
    metrics["model_calls"] = model.calls
    return metrics


def share_correct(items: list[dict]) -> float:
    return sum(item["candidate_correct"] for item in items) / len(items)


def test_the_limited_run_mixes_correct_and_wrong_candidates(first_items):
    assert 0.2 < share_correct(first_items) < 0.6  # otherwise the checks below prove little


@pytest.mark.parametrize(
    ("task", "critic"),
    [
        ("trbench_selfcorrect_think", "always_incorrect"),
        ("trbench_selfcorrect_no_think", "always_incorrect"),
        ("trbench_selfcorrect_single_think", "always_incorrect"),
        ("trbench_selfcorrect_no_critic_think", "garbage"),
        ("trbench_selfcorrect_oracle_think", "garbage"),
    ],
)
def test_a_reviser_returning_the_ground_truth_scores_one(task_manager, first_items, task, critic):
    metrics = run(task_manager, task, critic, "ground_truth")
    assert metrics["acc_at_round_1"] == 1.0
    assert metrics["fixed_rate"] == 1.0
    assert metrics["broken_rate"] == 0.0
    assert metrics["acc_at_round_0"] == pytest.approx(share_correct(first_items))
    assert metrics["n_problems"] == LIMIT
    assert metrics["revision_parse_rate"] == 1.0


def test_an_echoing_reviser_keeps_the_candidates_accuracy(task_manager, first_items):
    metrics = run(task_manager, "trbench_selfcorrect_no_critic_think", "garbage", "echo")
    assert metrics["acc_at_round_1"] == pytest.approx(share_correct(first_items))
    assert metrics["acc_at_round_1"] == metrics["acc_at_round_0"]
    assert metrics["fixed_rate"] == 0.0
    assert metrics["broken_rate"] == 0.0
    assert metrics["delta_acc"] == 0.0
    assert metrics["revision_rate"] == 1.0
    assert math.isnan(metrics["verdict_acc"])  # no critic in this protocol
    # text-answer candidates echoed are no valid revision of a tool-call item: counted, not dropped
    text_candidates = sum("<tool_call>" not in item["candidate"] for item in first_items)
    assert metrics["unparsed_revisions"] == text_candidates
    assert metrics["revision_parse_rate"] == pytest.approx(1 - text_candidates / LIMIT)


def test_an_echoing_reviser_after_a_flagging_critic_changes_nothing(task_manager, first_items):
    metrics = run(task_manager, "trbench_selfcorrect_think", "always_incorrect", "echo")
    assert metrics["acc_at_round_1"] == pytest.approx(share_correct(first_items))
    assert metrics["fixed_rate"] == 0.0 and metrics["broken_rate"] == 0.0
    assert metrics["flag_rate"] == 1.0 and metrics["revision_rate"] == 1.0


def test_a_critic_calling_everything_correct_scores_the_share_of_correct_candidates(
    task_manager, first_items
):
    metrics = run(task_manager, "trbench_selfcorrect_think", "always_correct", "break")
    assert metrics["verdict_acc"] == pytest.approx(share_correct(first_items))
    assert metrics["flag_rate"] == 0.0
    assert metrics["revision_rate"] == 0.0
    assert metrics["acc_at_round_1"] == metrics["acc_at_round_0"]  # nothing revised, so nothing broken
    assert metrics["reviser_output_tokens"] == 0.0
    assert metrics["model_calls"] == ["critic"] * LIMIT


def test_a_right_critic_and_a_breaking_reviser(task_manager, first_items):
    metrics = run(task_manager, "trbench_selfcorrect_think", "truth", "break")
    assert metrics["verdict_acc"] == 1.0
    assert metrics["broken_rate"] == 0.0  # correct candidates are never sent to the reviser
    assert metrics["fixed_rate"] == 0.0
    assert metrics["acc_at_round_1"] == pytest.approx(share_correct(first_items))
    wrong = sum(not item["candidate_correct"] for item in first_items)
    assert metrics["model_calls"].count("reviser") == wrong


def test_a_reviser_that_breaks_every_call_has_broken_rate_one(task_manager):
    metrics = run(task_manager, "trbench_selfcorrect_think", "always_incorrect", "break")
    assert metrics["broken_rate"] == 1.0
    assert metrics["fixed_rate"] == 0.0
    assert metrics["acc_at_round_1"] == 0.0
    assert metrics["broken_rate_simple"] == 1.0


def test_unparseable_critiques_are_counted_and_scored_as_the_candidate(task_manager, first_items):
    metrics = run(task_manager, "trbench_selfcorrect_think", "garbage", "ground_truth")
    assert metrics["n_problems"] == LIMIT
    assert metrics["critique_parse_rate"] == 0.0
    assert metrics["unparsed_critiques"] == LIMIT
    assert metrics["verdict_acc"] == 0.0  # no verdict is never a right verdict
    assert metrics["acc_at_round_1"] == pytest.approx(share_correct(first_items))
    assert metrics["revision_rate"] == 0.0


def test_unparseable_revisions_are_counted_and_scored_as_the_candidate(task_manager, first_items):
    for task in ("trbench_selfcorrect_think", "trbench_selfcorrect_single_no_think"):
        metrics = run(task_manager, task, "always_incorrect", "garbage")
        assert metrics["n_problems"] == LIMIT
        assert metrics["revision_parse_rate"] == 0.0
        assert metrics["unparsed_revisions"] == LIMIT
        assert metrics["acc_at_round_1"] == pytest.approx(share_correct(first_items))
        assert metrics["broken_rate"] == 0.0


class OneHostileReviser(ScriptedSelfCorrection):
    """Revises with the reference turn, except once: a tool call whose arguments nest 1,000 levels deep
    (valid JSON that ``json.loads`` cannot read: RecursionError)."""

    def __init__(self) -> None:
        super().__init__(critic="always_incorrect", reviser="ground_truth")
        self.hostile_item: str | None = None

    def _revision(self, doc: dict) -> str:
        if self.hostile_item is None:
            self.hostile_item = doc["id"]
            deep = '{"a": ' * 1000 + "1" + "}" * 1000
            return f'<tool_call>\n{{"name": "f", "arguments": {deep}}}\n</tool_call>'
        return super()._revision(doc)


def test_one_hostile_revision_is_counted_and_the_run_reports_every_metric(task_manager, first_items):
    model = OneHostileReviser()
    results = lm_eval.simple_evaluate(
        model=model,
        tasks=["trbench_selfcorrect_think"],
        task_manager=task_manager,
        limit=LIMIT,
        bootstrap_iters=0,
    )
    metrics = {k.removesuffix(",none"): v for k, v in results["results"]["trbench_selfcorrect_think"].items()}
    hostile = next(item for item in first_items if item["id"] == model.hostile_item)
    assert metrics["n_problems"] == LIMIT
    assert metrics["unparsed_revisions"] == 1  # counted, and scored as its candidate:
    expected = (LIMIT - 1 + hostile["candidate_correct"]) / LIMIT
    assert metrics["acc_at_round_1"] == pytest.approx(expected)
    assert metrics["revision_parse_rate"] == pytest.approx((LIMIT - 1) / LIMIT)


def test_a_declared_reviser_model_revises_instead_of_the_critic(task_manager):
    # the model under test would echo; the declared policy model (same backend class) returns the truth
    metrics = run(
        task_manager,
        "trbench_selfcorrect_think",
        "always_incorrect",
        "echo",
        metadata={"reviser_model_args": "critic=garbage,reviser=ground_truth"},
    )
    assert metrics["acc_at_round_1"] == 1.0
    assert metrics["model_calls"] == ["critic"] * LIMIT  # the model under test only critiqued


def test_output_tokens_are_counted_per_item(task_manager):
    metrics = run(task_manager, "trbench_selfcorrect_think", "always_incorrect", "break")
    critique = ScriptedSelfCorrection(critic="always_incorrect")._critique({})
    assert metrics["critic_output_tokens"] == len(critique.split())  # no tokenizer: whitespace words
    broken = len(BROKEN_CALL.split())
    assert metrics["reviser_output_tokens"] == broken  # every item revised with the broken call
    assert metrics["total_output_tokens"] == metrics["critic_output_tokens"] + broken


def test_per_error_type_and_category_metrics(task_manager, first_items):
    metrics = run(task_manager, "trbench_selfcorrect_think", "truth", "ground_truth")
    operators = {item["error_operator"] for item in first_items if item["error_operator"]}
    for operator in operators:
        assert metrics[f"fixed_rate_{operator}"] == 1.0
        assert metrics[f"verdict_acc_{operator}"] == 1.0
    categories = {item["category"] for item in first_items}
    for category in categories:
        chosen = [item for item in first_items if item["category"] == category]
        assert metrics[f"acc_at_round_0_{category}"] == pytest.approx(share_correct(chosen))
        assert metrics[f"acc_at_round_1_{category}"] == 1.0


def test_system_instruction_is_refused_with_a_clear_message(task_manager):
    with pytest.raises(ValueError, match="system_instruction is not supported"):
        lm_eval.simple_evaluate(
            model=ScriptedSelfCorrection(),
            tasks=["trbench_selfcorrect_think"],
            task_manager=task_manager,
            limit=2,
            system_instruction="be nice",
        )


def test_the_leaderboard_reads_the_main_tasks_results(task_manager, tmp_path):
    from toolrm_leaderboard.cli import main as leaderboard

    results = lm_eval.simple_evaluate(
        model=ScriptedSelfCorrection(critic="truth", reviser="ground_truth"),
        tasks=["trbench_selfcorrect_think"],
        task_manager=task_manager,
        limit=LIMIT,
        bootstrap_iters=0,
        log_samples=False,
    )
    results["model_name"] = "scripted/truth-critic"
    run_dir = tmp_path / "runs" / "scripted__truth-critic"
    run_dir.mkdir(parents=True)
    (run_dir / "results_2026-12-02T10-00-00.000000.json").write_text(json.dumps(results, default=str))
    assert (
        leaderboard([str(tmp_path / "runs"), "--formats", "md", "--out", str(tmp_path / "out"), "--quiet"])
        == 0
    )
    table = (tmp_path / "out" / "leaderboard.md").read_text()
    row = next(line for line in table.splitlines() if "scripted/truth-critic" in line)
    before = 100 * results["results"]["trbench_selfcorrect_think"]["acc_at_round_0,none"]
    assert f"{before:.2f}" in row and "100.00" in row


def test_generation_cache_stores_both_rounds(task_manager, tmp_path):
    """``toolrm-eval --generation_cache`` wraps the model's ``generate_until``, which both rounds call:
    a rerun is served entirely from the store (the second model would score differently)."""
    from harness_tasks.lm_eval_bridge import cache_generations

    def cached_run(critic: str, reviser: str) -> tuple[dict, list[str]]:
        model = ScriptedSelfCorrection(critic=critic, reviser=reviser)
        cache_generations(model, tmp_path, identity={"model": "scripted"})
        results = lm_eval.simple_evaluate(
            model=model,
            tasks=["trbench_selfcorrect_think"],
            task_manager=task_manager,
            limit=10,
            bootstrap_iters=0,
        )
        return results["results"]["trbench_selfcorrect_think"], model.calls

    first, first_calls = cached_run("always_incorrect", "ground_truth")
    assert first["acc_at_round_1,none"] == 1.0 and first_calls == ["critic"] * 10 + ["reviser"] * 10
    again, again_calls = cached_run("garbage", "break")
    assert again_calls == []
    assert again["acc_at_round_1,none"] == 1.0


def test_report_by_checker_error_type_from_the_sample_log(task_manager, first_items, tmp_path):
    from collections import Counter

    from harness_tasks.trbench_selfcorrect.report import main as report
    from harness_tasks.trbench_selfcorrect.report import tally_by_error_type

    results = lm_eval.simple_evaluate(
        model=ScriptedSelfCorrection(critic="truth", reviser="break"),
        tasks=["trbench_selfcorrect_think"],
        task_manager=task_manager,
        limit=LIMIT,
        bootstrap_iters=0,
        log_samples=True,
    )
    samples = results["samples"]["trbench_selfcorrect_think"]
    tallies = tally_by_error_type(samples)
    expected = Counter(item["error_type"] for item in first_items if not item["candidate_correct"])
    assert {name: t.items for name, t in tallies.items()} == dict(expected)
    assert all(t.fixed == 0 and t.right_verdicts == t.items for t in tallies.values())
    log = tmp_path / "samples.jsonl"
    log.write_text("".join(json.dumps(sample, default=str) + "\n" for sample in samples))
    assert report([str(log)]) == 0
    log.write_text('{"doc": {}}\n')
    assert report([str(log)]) == 2


def test_the_protocols_tag_runs_four_protocols_in_one_run(task_manager, first_items):
    model = ScriptedSelfCorrection(critic="always_correct", reviser="break")
    results = lm_eval.simple_evaluate(
        model=model,
        tasks=["trbench_selfcorrect_protocols_think"],
        task_manager=task_manager,
        limit=LIMIT,
        bootstrap_iters=0,
    )["results"]
    share = pytest.approx(share_correct(first_items))
    assert results["trbench_selfcorrect_think"]["acc_at_round_1,none"] == share  # nothing flagged
    assert results["trbench_selfcorrect_single_think"]["acc_at_round_1,none"] == share
    assert results["trbench_selfcorrect_no_critic_think"]["acc_at_round_1,none"] == 0.0  # all broken
    assert (
        results["trbench_selfcorrect_oracle_think"]["acc_at_round_1,none"] == share
    )  # only wrong ones revised
    wrong = sum(not item["candidate_correct"] for item in first_items)
    assert sorted(model.calls) == sorted(
        ["critic"] * LIMIT + ["single"] * LIMIT + ["reviser"] * (LIMIT + wrong)
    )
