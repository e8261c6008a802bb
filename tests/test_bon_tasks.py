"""Best-of-N tasks through real lm-eval runs with scripted judges, a controlled scalar RM, bad files."""

from __future__ import annotations

import gzip
import json
import math
import random
import re
from pathlib import Path

import lm_eval
import pytest
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model
from lm_eval.tasks import TaskManager
from scripted_judges import ScriptedBonJudge

import harness_tasks.models  # noqa: F401  (built-in lm-eval models stay registered)
from harness_tasks import TASKS_DIR
from harness_tasks.tool_calls import parse_tool_calls
from harness_tasks.trbench_bon import _generate_configs, build
from harness_tasks.trbench_bon.candidates import CandidateFileError, candidate_data_build, read_candidate_file
from harness_tasks.trbench_bon.selection import (
    Match,
    decide_comparison,
    knockout_round,
    parse_index_choice,
    permutation,
    select_scalar,
)
from harness_tasks.trbench_bon.sources import check_turn


SETS = read_candidate_file(build.CANDIDATES_FILE)


@register_model("controlled-scalar-rm")
class ControlledScalarRM(LM):
    """A scalar RM whose score is read off the candidate text: ``score=<x>`` at its end."""

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        return [(float(request.args[1].rsplit("score=", 1)[1]), False) for request in requests]

    def generate_until(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError


def run(task: str, model: LM, metadata: dict | None = None, **kwargs) -> dict:
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
    return lm_eval.simple_evaluate(
        model=model, tasks=[task], task_manager=manager, bootstrap_iters=0, **kwargs
    )


def metrics(results: dict, task: str) -> dict[str, float]:
    return {k.split(",")[0]: v for k, v in results["results"][task].items() if k.endswith(",none")}


def expected(n: int = 8) -> dict[str, float]:
    correct = [[c.correct for c in s.candidates[:n]] for s in SETS]
    first_shown = [c[permutation(n, 0, s.item_id)[0]] for s, c in zip(SETS, correct, strict=True)]
    return {
        "oracle": sum(any(c) for c in correct) / len(SETS),
        "random": sum(sum(c) / n for c in correct) / len(SETS),
        "first_shown": sum(first_shown) / len(SETS),
        "first_sample": sum(c[0] for c in correct) / len(SETS),
    }


GENERATIVE_TASKS = [
    "trbench_bon_think",
    "trbench_bon_no_think_2perm",
    "trbench_bon_think_knockout",
    "trbench_bon_think_allpairs",
]


@pytest.mark.parametrize("task", GENERATIVE_TASKS)
def test_oracle_judge_reaches_the_oracle_rate(task):
    got = metrics(run(task, ScriptedBonJudge("oracle")), task)
    want = expected()
    assert got["acc_at_n_8"] == pytest.approx(want["oracle"])
    assert got["oracle_at_n_8"] == pytest.approx(want["oracle"])
    assert got["random_at_n_8"] == pytest.approx(want["random"])
    assert got["acc_at_n_1"] == pytest.approx(want["first_sample"])
    assert got["gain_over_random"] == pytest.approx(1.0)
    assert got["invalid_selection_rate"] == 0 and got["n_problems"] == len(SETS)
    assert 0.6 < want["oracle"] < 0.85 and 0.3 < want["random"] < 0.5  # the documented mix
    if task.endswith("2perm"):
        # consistent exactly where a correct candidate exists (else it answers position 1 twice)
        assert got["position_consistency"] == pytest.approx(want["oracle"])


def test_always_first_judge_scores_the_first_shown_candidates():
    got = metrics(run("trbench_bon_think", ScriptedBonJudge("always_first")), "trbench_bon_think")
    assert got["acc_at_n_8"] == pytest.approx(expected()["first_shown"])
    assert got["first_position_rate"] == 1.0
    two = metrics(run("trbench_bon_think_2perm", ScriptedBonJudge("always_first")), "trbench_bon_think_2perm")
    assert two["position_consistency"] == 0.0  # the reversed order shows another candidate first


def test_uniform_random_judge_lands_on_the_random_baseline():
    """Within 3 standard errors of the expected random accuracy (binomial SE over 240 items)."""
    random_rate = expected()["random"]
    bound = 3 * math.sqrt(random_rate * (1 - random_rate) / len(SETS))
    for seed in (0, 1):
        got = metrics(run("trbench_bon_think", ScriptedBonJudge("uniform", seed)), "trbench_bon_think")
        assert abs(got["acc_at_n_8"] - random_rate) < bound
        assert abs(got["first_position_rate"] - 1 / 8) < 0.07


@pytest.mark.parametrize(
    ("task", "n"), [("trbench_bon_think_knockout", 8), ("trbench_bon_think_allpairs", 8)]
)
def test_pairwise_protocols_make_the_declared_number_of_calls(task, n):
    judge = ScriptedBonJudge("uniform")
    results = run(task, judge, limit=10, log_samples=True)
    got = metrics(results, task)
    comparisons = n - 1 if "knockout" in task else n * (n - 1) // 2
    assert got["comparisons"] == comparisons
    assert got["judge_calls"] == 2 * comparisons
    assert judge.calls == 10 * 2 * comparisons
    for sample in results["samples"][task]:
        trace = json.loads(sample["filtered_resps"][0])
        assert len(trace["requests"]) == comparisons + (1 if "allpairs" in task else 0)
        if "knockout" in task:  # rounds of 4, 2 and 1 comparisons; each round's winners meet next
            rounds = [entry["round"] for entry in trace["requests"]]
            assert rounds == [1, 1, 1, 1, 2, 2, 3]
            final = trace["requests"][-1]
            assert trace["selected"] == final["winner"] in final["match"]


def test_invalid_answers_are_counted_never_selected():
    got = metrics(run("trbench_bon_think", ScriptedBonJudge("garbage"), limit=12), "trbench_bon_think")
    assert (
        got["acc_at_n_8"] == 0.0
        and got["invalid_selection_rate"] == 1.0
        and got["invalid_answer_rate"] == 1.0
    )
    ko = metrics(
        run("trbench_bon_think_knockout", ScriptedBonJudge("garbage"), limit=6), "trbench_bon_think_knockout"
    )
    assert (
        ko["invalid_answer_rate"] == 1.0 and ko["invalid_selection_rate"] == 1.0
    )  # coins decided every match


class OneHostileAnswerJudge(ScriptedBonJudge):
    """The oracle judge, except its first answer: a ``<choice>`` of 5,000 digits (``int()`` fails on it)."""

    def __init__(self) -> None:
        super().__init__("oracle")
        self.hostile_item: str | None = None

    def _answer(self, doc: dict) -> str:
        if self.hostile_item is None:
            self.hostile_item = doc["item_id"]
            return "<choice>\n" + "7" * 5000 + "\n</choice>"
        return super()._answer(doc)


@pytest.mark.parametrize(("task", "limit"), [("trbench_bon_think", 12), ("trbench_bon_think_knockout", 6)])
def test_one_hostile_answer_is_counted_and_the_run_reports_every_metric(task, limit):
    judge = OneHostileAnswerJudge()
    got = metrics(run(task, judge, limit=limit), task)
    clean = metrics(run(task, ScriptedBonJudge("oracle"), limit=limit), task)
    assert got["n_problems"] == limit and judge.hostile_item is not None
    assert got["invalid_answer_rate"] == pytest.approx(1 / judge.calls)
    assert clean["invalid_answer_rate"] == 0.0

    def undefined(values: dict) -> set[str]:  # categories absent from a --limit run
        return {name for name, value in values.items() if isinstance(value, float) and math.isnan(value)}

    assert got.keys() == clean.keys() and undefined(got) == undefined(clean)
    if task == "trbench_bon_think":  # one call per item: that item alone has no valid selection
        assert got["invalid_selection_rate"] == pytest.approx(1 / limit)


# ---------------------------------------------------------------- scalar RMs


@pytest.fixture(scope="module")
def scored_file(tmp_path_factory) -> tuple[Path, list[int]]:
    """8 sets whose candidates carry known scores, with ties, and the selection we expect."""
    rng = random.Random(7)
    rows, want = [], []
    for k, candidate_set in enumerate(SETS[:8]):
        row = candidate_set.to_dict()
        row["candidates"] = row["candidates"][:8]
        scores = [rng.choice([0.0, 1.0, 2.5]) for _ in range(8)]
        if k == 0:
            scores = [1.0] * 8  # all tied: the first candidate
        for candidate, score in zip(row["candidates"], scores, strict=True):
            candidate["text"] += f"\nscore={score}"
        rows.append(row)
        want.append(scores.index(max(scores)))
    path = tmp_path_factory.mktemp("scored") / "sets.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, want


def test_own_candidates_need_their_own_data_build(scored_file):
    """Without it the results would record the shipped sets' build: refused before any generation."""
    path, _ = scored_file
    build_of_path = candidate_data_build(path)
    assert build_of_path.startswith("bon:file:sha256:") and build_of_path != _generate_configs.data_build()
    model = ControlledScalarRM()
    with pytest.raises(CandidateFileError, match=re.escape(f'"data_build": "{build_of_path}"')):
        run("trbench_bon_disc", model, metadata={"candidates": str(path)})
    stale = {"candidates": str(path), "data_build": _generate_configs.data_build()}
    with pytest.raises(CandidateFileError, match="declares bon:embedded:sha256:"):
        run("trbench_bon_disc", model, metadata=stale)


def test_scalar_rm_selects_the_highest_score_ties_to_the_first(scored_file):
    path, want = scored_file
    own = {"candidates": str(path), "data_build": candidate_data_build(path)}
    results = run("trbench_bon_disc", ControlledScalarRM(), metadata=own, log_samples=True)
    assert results["configs"]["trbench_bon_disc"]["metadata"]["data_build"] == own["data_build"]
    got = metrics(results, "trbench_bon_disc")
    correct = [[c.correct for c in s.candidates[:8]] for s in SETS[:8]]
    assert got["acc_at_n_8"] == pytest.approx(sum(c[w] for c, w in zip(correct, want, strict=True)) / 8)
    assert got["acc_at_n_1"] == pytest.approx(sum(c[0] for c in correct) / 8)
    assert got["judge_calls"] == 8 and got["gen_tokens"] == 0
    assert set(got) >= {"acc_at_n_2", "acc_at_n_4", "acc_tie_split", "oracle_at_n_8", "random_at_n_8"}
    assert select_scalar([1.0, 3.0, 3.0], [False, False, True]) == (1, 0.5)


# ---------------------------------------------------------------- units


def test_choice_parser_reads_1_to_n_only_and_ignores_reasoning():
    assert parse_index_choice("<choice>\n7\n</choice>", 8) == 7
    assert parse_index_choice("<choice>12</choice>", 16) == 12
    assert parse_index_choice("<choice>\n9\n</choice>", 8) is None
    assert parse_index_choice("<think><choice>\n2\n</choice></think>no answer", 8) is None
    assert parse_index_choice("<choice>\n0\n</choice>", 8) is None
    assert parse_index_choice("<choice>" * 100_000, 8) is None


def test_comparison_tie_rule_and_byes():
    rng = random.Random(0)
    assert decide_comparison(Match(3, 5), [1, 2], rng) == (3, "consistent")  # 3 first, then 3 second
    assert decide_comparison(Match(3, 5), [None, 1], rng) == (5, "one_valid")
    assert decide_comparison(Match(3, 5), [1, 1], rng)[1] == "split"
    assert decide_comparison(Match(3, 5), [None, None], rng)[1] == "invalid"
    matches, bye = knockout_round([4, 0, 2, 1, 3])
    assert [(m.first, m.second) for m in matches] == [(4, 0), (2, 1)] and bye == 3


# ---------------------------------------------------------------- files


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_malformed_candidate_files_name_file_row_and_field(tmp_path):
    good = [s.to_dict() for s in SETS[:3]]
    missing = json.loads(json.dumps(good))
    del missing[1]["candidates"][4]["correct"]
    with pytest.raises(
        CandidateFileError, match=r"bad.jsonl: row 2: field 'candidates\[4\].correct' is missing"
    ):
        read_candidate_file(_write(tmp_path, missing))
    uneven = json.loads(json.dumps(good))
    uneven[2]["candidates"] = uneven[2]["candidates"][:5]
    with pytest.raises(
        CandidateFileError, match=r"bad.jsonl: row 3: field 'candidates' has 5 entries, but row 1 has 16"
    ):
        read_candidate_file(_write(tmp_path, uneven))
    unknown = json.loads(json.dumps(good))
    unknown[1]["item_id"] = "acebench:no_such_item_9"
    with pytest.raises(CandidateFileError, match=r"bad.jsonl: row 2: field 'item_id'.*no_such_item_9"):
        run("trbench_bon_think", ScriptedBonJudge(), metadata={"candidates": str(_write(tmp_path, unknown))})
    short = tmp_path / "short.jsonl"
    short.write_text("".join(json.dumps({**r, "candidates": r["candidates"][:4]}) + "\n" for r in good))
    with pytest.raises(
        CandidateFileError, match=r"short.jsonl: row 1: field 'candidates' has 4 entries; the task needs n=8"
    ):
        run("trbench_bon_think", ScriptedBonJudge(), metadata={"candidates": str(short)})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"text": "  "}, r"candidates\[1\]\.text' is empty"),
        ({"text": "<tool_call>\n{not json}\n</tool_call>", "correct": True}, "malformed tool call"),
        ({"correct": True, "error_type": "wrong_value"}, "'error_type' is 'wrong_value'"),
    ],
)
def test_candidates_that_no_checker_would_pass_as_labelled_are_refused(tmp_path, change, message):
    row = SETS[0].to_dict()
    row["candidates"][1] |= {"correct": False, "error_type": "x"} | change
    if change.get("correct") and "error_type" not in change:
        row["candidates"][1]["error_type"] = None
    with pytest.raises(CandidateFileError, match=r"bad.jsonl: row 1: field 'candidates\[1\]"):
        read_candidate_file(_write(tmp_path, [row]))
    with pytest.raises(CandidateFileError, match=message):
        read_candidate_file(_write(tmp_path, [row]))


def test_a_byte_that_is_not_utf8_names_file_and_row(tmp_path):
    path = tmp_path / "sets.jsonl"
    path.write_bytes(json.dumps(SETS[0].to_dict()).encode() + b"\n" + b'{"item_id": "caf\xe9"}\n')
    with pytest.raises(CandidateFileError, match=r"sets.jsonl: row 2: not JSON \(byte 0xe9 at byte 17"):
        read_candidate_file(path)


def test_parquet_layout_reads_like_jsonl(tmp_path):
    from harness_tasks.trbench_bon.candidates import write_candidate_file

    path = write_candidate_file(SETS[:5], tmp_path / "sets.parquet")
    assert [s.to_dict() for s in read_candidate_file(path)] == [s.to_dict() for s in SETS[:5]]


def test_build_is_byte_reproducible(tmp_path):
    stats = build.write_build(tmp_path)
    assert (tmp_path / build.CANDIDATES_FILE.name).read_bytes() == build.CANDIDATES_FILE.read_bytes()
    assert json.loads(build.STATS_FILE.read_text()) == stats


def test_stored_correctness_is_the_source_checker_verdict():
    """Every shipped candidate, re-scored from the text a judge sees, gets its stored verdict."""
    for candidate_set in SETS:
        for candidate in candidate_set.candidates:
            verdict = check_turn(candidate_set.source, candidate_set.item_id, candidate.text)
            assert verdict.correct == candidate.correct, (candidate_set.item_id, candidate.text)
    bfcl = {s.item_id.removeprefix("bfcl:") for s in SETS if s.source == "bfcl"}
    with gzip.open(build.PAIRWISE_PAIRS_FILE, "rt") as handle:
        assert not bfcl & {json.loads(line)["raw_id"] for line in handle}  # disjoint from TRBench-BFCL


def test_policy_samples_are_scored_by_the_source_checker():
    from harness_tasks.acebench.reader import item_by_id
    from harness_tasks.trbench_bon.build import acebench_truth_calls
    from harness_tasks.trbench_bon.sample import acebench_prompts, score_sample

    prompt = acebench_prompts(["normal_single_turn_single_function"])[0]
    item = item_by_id()[prompt.item_id.removeprefix("acebench:")]
    assert (
        prompt.messages[0]["role"] == "system" and "[ApiName(key1='value1'" in prompt.messages[0]["content"]
    )
    from harness_tasks.acebench import to_python_calls

    answer = to_python_calls(acebench_truth_calls(item))
    good = score_sample(prompt, f"<think>\nlet me see [x()]\n</think>\n{answer}", "policy:test")
    assert good.correct and good.native == answer and good.text.startswith("<tool_call>")
    bad = score_sample(prompt, "I would call a tool.", "policy:test")
    assert not bad.correct and bad.error_type == "wrong_output_format"


def test_limit_runs_see_both_sources():
    got = metrics(run("trbench_bon_think", ScriptedBonJudge("oracle"), limit=20), "trbench_bon_think")
    assert got["n_problems"] == 20
    assert not math.isnan(got["acc_acebench"]) and not math.isnan(got["acc_bfcl"])


def test_model_args_seed_does_not_collide_with_task_options():
    """lm-eval hands every --model_args key (vLLM's `seed=`) to the loader beside dataset_kwargs."""
    metadata = {"seed": 1234, "pretrained": "some/model", "n": 3}
    got = metrics(
        run("trbench_bon_think", ScriptedBonJudge("oracle"), metadata=metadata, limit=4), "trbench_bon_think"
    )
    assert got["n_problems"] == 4 and "acc_at_n_8" in got


def test_checker_option_is_recorded_and_disagreement_reported():
    """`--metadata '{"checker": "corrected"}'` reaches the loader and the results; the default is `source`."""
    for metadata, checker in ((None, "source"), ({"checker": "corrected"}, "corrected")):
        results = run("trbench_bon_think", ScriptedBonJudge("oracle"), metadata=metadata, limit=6)
        assert results["configs"]["trbench_bon_think"]["metadata"]["checker"] == checker
        got = metrics(results, "trbench_bon_think")
        assert got["checker_disagreement_rate"] == 0.0  # the shipped candidates avoid the quirks


def _flipped(candidate_set, want_correct: bool) -> tuple[dict, int]:
    """The set as a row, with one candidate's label flipped; a wrong one chosen well formed."""
    row = candidate_set.to_dict()
    for index, entry in enumerate(row["candidates"]):
        if entry["correct"] == want_correct and not parse_tool_calls(entry["text"]).malformed:
            entry["correct"], entry["error_type"] = not want_correct, None
            return row, index
    raise AssertionError(f"{candidate_set.item_id}: no candidate to flip")


@pytest.mark.parametrize("source", ["acebench", "bfcl"])
@pytest.mark.parametrize("want_correct", [False, True], ids=["wrong_marked_correct", "correct_marked_wrong"])
def test_a_user_label_that_contradicts_the_source_checker_is_refused_at_load(tmp_path, source, want_correct):
    """A hand-labelled file cannot pass a wrong candidate as correct (nor the reverse): the loader
    re-checks each label with the source checker and names file, row and field."""
    from harness_tasks.trbench_bon.task import load_bon_dataset

    chosen = [s for s in SETS if s.source == source][:2]
    row, index = _flipped(chosen[1], want_correct)
    path = _write(tmp_path, [chosen[0].to_dict(), row])
    read_candidate_file(path)  # structurally fine: only the checker can tell
    says = "passes it" if want_correct else "fails it"
    with pytest.raises(
        CandidateFileError,
        match=rf"bad.jsonl: row 2: field 'candidates\[{index}\].correct' is {str(not want_correct).lower()}, "
        rf"but the source checker .* {says}",
    ):
        load_bon_dataset(n_candidates=16, candidates=str(path), data_build=candidate_data_build(path))
    honest = _write(tmp_path, [chosen[0].to_dict(), chosen[1].to_dict()])
    docs = load_bon_dataset(n_candidates=16, candidates=str(honest), data_build=candidate_data_build(honest))
    loaded = dict(zip(docs["test"]["item_id"], docs["test"]["correct"], strict=True))
    assert loaded == {s.item_id: [c.correct for c in s.candidates] for s in chosen}


def test_a_contradicting_label_stops_the_run_before_any_generation(tmp_path):
    row, index = _flipped(SETS[0], want_correct=False)
    path = _write(tmp_path, [row])
    judge = ScriptedBonJudge()
    own = {"candidates": str(path), "data_build": candidate_data_build(path)}
    with pytest.raises(CandidateFileError, match=rf"row 1: field 'candidates\[{index}\].correct' is true"):
        run("trbench_bon_think", judge, metadata=own)
    assert judge.calls == 0
