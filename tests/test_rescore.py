"""``toolrm-eval rescore``: metrics recomputed from a run's sample logs, without a model.

Runs are real ``toolrm-eval run`` invocations (in-process) with scripted judges, whose outputs are
deterministic, so a fresh run with a changed setting is the ground truth a re-scoring must match.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import scripted_judges  # noqa: F401  (registers scripted-judge)
import scripted_selfcorrect  # noqa: F401  (registers scripted-selfcorrect)
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model
from same_metrics import same_metrics

from harness_tasks.cli import main as toolrm_eval
from harness_tasks.rescore import RescoreError, find_runs, rescore_run


TRBENCH_TASK = "trbench_bfcl_think_live_parallel"  # 34 pairs, 68 generations
SELFCORRECT_TASK = "trbench_selfcorrect_think"
BON_TASK = "trbench_bon_think_n4"


@register_model("rescore-first-choice-bon-judge")
class FirstChoiceBonJudge(LM):
    """Always names display position 1 (the selection then depends only on the shown order)."""

    def __init__(self, **_: object) -> None:
        super().__init__()

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        return ["<choice>\n1\n</choice>" for _ in requests]

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError


def run_cli(out: Path, model: str, model_args: str, task: str, *extra: str) -> Path:
    with _no_exit():
        toolrm_eval(["run", "--model", model, "--model_args", model_args, "--tasks", task,
                     "--output_path", str(out), "--log_samples", *extra])  # fmt: skip
    [results] = out.glob("*/results_*.json")
    return results


class _no_exit:
    """lm-eval's command line may end with ``SystemExit(0)``; any other exit fails the test."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        return kind is SystemExit and not value.code


def metrics_of(document: dict, task: str) -> dict:
    return {k: v for k, v in document["results"][task].items() if "," in k}


@pytest.fixture(scope="module")
def trbench_runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("rescore_trbench")
    return {
        "reference": run_cli(base / "reference", "scripted-judge", "strategy=tricky", TRBENCH_TASK),
        "final_answer": run_cli(
            base / "final_answer",
            "scripted-judge",
            "strategy=tricky",
            TRBENCH_TASK,
            "--metadata",
            '{"parse_mode": "final_answer"}',
        ),
    }


def test_rescore_with_unchanged_settings_reproduces_every_metric(trbench_runs):
    [run] = find_runs(trbench_runs["reference"].parent)
    original = json.loads(trbench_runs["reference"].read_text())
    document, samples = rescore_run(run, {})
    assert same_metrics(metrics_of(document, TRBENCH_TASK), metrics_of(original, TRBENCH_TASK))
    assert "w_avg_ci_lower,none" in document["results"][TRBENCH_TASK]
    assert len(samples[TRBENCH_TASK]) == 68
    assert document["rescored"]["source_results"] == str(trbench_runs["reference"])
    assert document["rescored"]["settings"] == {}


def test_rescore_with_final_answer_parse_equals_a_fresh_run_with_it(trbench_runs):
    [run] = find_runs(trbench_runs["reference"].parent)
    document, _ = rescore_run(run, {"parse_mode": "final_answer"})
    fresh = json.loads(trbench_runs["final_answer"].read_text())
    reference = json.loads(trbench_runs["reference"].read_text())
    rescored = metrics_of(document, TRBENCH_TASK)
    assert same_metrics(rescored, metrics_of(fresh, TRBENCH_TASK))
    # the tricky judge's outputs read differently under the two parses, so this could have failed
    for metric in ("w_avg,none", "invalid_rate,none", "w_avg_ci_lower,none"):
        assert rescored[metric] != reference["results"][TRBENCH_TASK][metric], metric
    assert document["configs"][TRBENCH_TASK]["metadata"]["parse_mode"] == "final_answer"


def test_the_command_writes_a_marked_results_file_and_leaves_the_source_alone(trbench_runs, tmp_path, capsys):
    source = trbench_runs["reference"]
    before = source.read_bytes()
    with _no_exit():
        toolrm_eval(["rescore", str(source.parent), "--output_path", str(tmp_path),
                     "--metadata", "parse_mode=final_answer"])  # fmt: skip
    assert source.read_bytes() == before
    [written] = tmp_path.glob("*/results_*.json")
    document = json.loads(written.read_text())
    assert document["rescored"]["settings"] == {"parse_mode": "final_answer"}
    [log] = tmp_path.glob(f"*/samples_{TRBENCH_TASK}_*.jsonl")
    assert len(log.read_text().splitlines()) == 68
    assert "wrote" in capsys.readouterr().out


def test_a_sample_log_of_other_documents_is_refused(trbench_runs, tmp_path):
    folder = tmp_path / "edited"
    folder.mkdir()
    source = trbench_runs["reference"]
    (folder / source.name).write_bytes(source.read_bytes())
    [log] = source.parent.glob("samples_*.jsonl")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    lines[5]["doc"]["pair_id"] = "someone-else"
    (folder / log.name).write_text("".join(json.dumps(line) + "\n" for line in lines))
    [run] = find_runs(folder)
    with pytest.raises(RescoreError, match=r"doc_id 5: the logged document differs .* pair_id"):
        rescore_run(run, {})


def test_a_run_without_sample_logs_is_refused(trbench_runs, tmp_path):
    (tmp_path / trbench_runs["reference"].name).write_bytes(trbench_runs["reference"].read_bytes())
    [run] = find_runs(tmp_path)
    with pytest.raises(RescoreError, match="re-scoring needs a run made with --log_samples"):
        rescore_run(run, {})


def test_self_correction_rescore_reproduces_every_metric(tmp_path):
    results = run_cli(tmp_path, "scripted-selfcorrect", "critic=truth,reviser=ground_truth", SELFCORRECT_TASK,
                      "--limit", "12")  # fmt: skip
    [run] = find_runs(results)
    document, _ = rescore_run(run, {})
    original = json.loads(results.read_text())
    assert same_metrics(metrics_of(document, SELFCORRECT_TASK), metrics_of(original, SELFCORRECT_TASK))
    assert not math.isnan(original["results"][SELFCORRECT_TASK]["fixed_rate_ci_lower,none"])


def test_best_of_n_rescore_reproduces_every_metric_and_refuses_new_settings(tmp_path):
    results = run_cli(tmp_path, "rescore-first-choice-bon-judge", "", BON_TASK, "--limit", "20")
    [run] = find_runs(results)
    document, _ = rescore_run(run, {})
    original = json.loads(results.read_text())
    assert same_metrics(metrics_of(document, BON_TASK), metrics_of(original, BON_TASK))
    assert "majority_at_n_4,none" in original["results"][BON_TASK]
    with pytest.raises(RescoreError, match="cannot be re-applied from the sample log"):
        rescore_run(run, {"parse_mode": "final_answer"})


DISC_TASK = "trbench_bfcl_disc"


@pytest.mark.slow
def test_scalar_rm_rescore_reproduces_every_metric(tiny_classifier_dir, tmp_path):
    """The disc task reads each pair's two logged scores; a tiny classifier's run is re-scored without it."""
    model_args = f"pretrained={tiny_classifier_dir},dtype=float32,show_progress=false,max_batch_tokens=8192"
    results = run_cli(tmp_path, "hf-rm", model_args, DISC_TASK, "--limit", "20")
    [run] = find_runs(results)
    document, samples = rescore_run(run, {})
    original = json.loads(results.read_text())
    rescored = metrics_of(document, DISC_TASK)
    assert same_metrics(rescored, metrics_of(original, DISC_TASK))
    assert rescored["n_pairs,none"] == 20 and len(samples[DISC_TASK]) == 20
    # the random classifier's scores differ between the two replies, so margin is a real number to match
    assert rescored["margin,none"] != 0 and not math.isnan(rescored["w_avg_ci_lower,none"])


def test_logged_scores_are_restored_exactly_and_a_garbled_one_is_refused(tmp_path):
    from types import SimpleNamespace

    from harness_tasks.rescore import _restore_responses

    task = SimpleNamespace(OUTPUT_TYPE="multiple_choice")
    value = -0.1 - 0.2  # a float whose shortest text has 17 digits
    sample = {"doc_id": 3, "filtered_resps": [[str(value), "False"], ["nan", "True"]]}
    (score, greedy), (missing, flag) = _restore_responses(task, tmp_path / "log.jsonl", sample)
    assert score == value and greedy is False and math.isnan(missing) and flag is True
    with pytest.raises(RescoreError, match=r"doc_id 3: filtered_resps\[1\] is \['x', 'True'\]"):
        _restore_responses(
            task, tmp_path / "log.jsonl", {"doc_id": 3, "filtered_resps": [["1", "True"], ["x", "True"]]}
        )
    generation = {"doc_id": 0, "filtered_resps": ["<choice>1</choice>"]}
    assert _restore_responses(SimpleNamespace(OUTPUT_TYPE="generate_until"), tmp_path, generation) == [
        "<choice>1</choice>"
    ]
