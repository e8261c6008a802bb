"""Sampling rules: offline samplers, difficulty filter, pair construction, balanced sampling, splits."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from harness_tasks.tool_call_score import score_tool_calls
from harness_tasks.tool_calls import ToolCall, format_tool_calls, parse_tool_calls, render_tools_system_prompt
from harness_tasks.trbench_build.error_operators import OPERATORS
from harness_tasks.trbench_build.error_operators import Candidate as OperatorOutput
from toolrm_train.toolpref.balanced_sampling import Buckets, balanced_sample
from toolrm_train.toolpref.difficulty import difficulty_verdict, filter_by_difficulty
from toolrm_train.toolpref.export import ordered_with_positions, split_pairs
from toolrm_train.toolpref.issues import IssueLog
from toolrm_train.toolpref.pairing import build_pairs
from toolrm_train.toolpref.samplers import (
    OfflineOperatorSampler,
    OperatorProfile,
    context_difficulty,
    make_samplers,
)
from toolrm_train.toolpref.trajectory import GROUND_TRUTH, Candidate, Pair, Segment


TOOLS = [{"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}]


def make_segment(
    context_id: str = "src/t1#1", source: str = "src", calls: int = 1, complexity: int | None = None
):
    trajectory_id = context_id.split("#")[0]
    truth = [ToolCall("f", {"a": i}) for i in range(calls)]
    return Segment(
        context_id=context_id,
        trajectory_id=trajectory_id,
        source=source,
        raw_id=trajectory_id.split("/")[-1],
        turn_index=1,
        chat_history=[
            {"role": "system", "content": render_tools_system_prompt(TOOLS)},
            {"role": "user", "content": f"question of {context_id}"},
        ],
        tools=TOOLS,
        ground_truth=format_tool_calls(truth),
        complexity=calls if complexity is None else complexity,
    )


def candidate(segment: Segment, sampler: str, text: str, index: int = 0) -> Candidate:
    verdict = score_tool_calls(text, segment.ground_truth, segment.tools)
    return Candidate(segment.context_id, sampler, text, verdict.score, verdict.message, index)


# ---------------------------------------------------------------- operators


def bump_value(calls, tools, question, rng):
    """A deliberately simple operator, so counts below are predictable (the real ones are tested too)."""
    if not calls:
        return None
    index = rng.randrange(len(calls))
    out = list(calls)
    out[index] = ToolCall(calls[index].name, {k: v + 1 for k, v in calls[index].arguments.items()})
    return OperatorOutput.of_calls(out)


def answer_in_text(calls, tools, question, rng):
    return OperatorOutput.of_text("I am not sure which tool to use.")


TEST_OPERATORS = {"bump_value": bump_value, "answer_in_text": answer_in_text}


# ---------------------------------------------------------------- offline sampler


def test_offline_sampler_is_deterministic_and_returns_n_samples():
    segments = [make_segment(f"src/t{i}#1", calls=1 + i % 3) for i in range(30)]
    sampler = OfflineOperatorSampler(OperatorProfile("p", skill=1.0), seed=3, operators=TEST_OPERATORS)
    first = sampler.sample(segments, 3, IssueLog())
    again = OfflineOperatorSampler(OperatorProfile("p", skill=1.0), seed=3, operators=TEST_OPERATORS)
    assert first == again.sample(segments, 3, IssueLog())
    assert all(len(texts) == 3 for texts in first.values())
    other_seed = OfflineOperatorSampler(OperatorProfile("p", skill=1.0), seed=4, operators=TEST_OPERATORS)
    assert other_seed.sample(segments, 3, IssueLog()) != first


def test_offline_profiles_differ_in_skill():
    segments = [make_segment(f"src/t{i}#1", calls=1 + i % 4) for i in range(200)]

    def solve_rate(skill: float) -> float:
        sampler = OfflineOperatorSampler(OperatorProfile("p", skill=skill), seed=0, operators=TEST_OPERATORS)
        samples = sampler.sample(segments, 2, IssueLog())
        solved = [text == s.ground_truth for s in segments for text in samples[s.context_id]]
        return sum(solved) / len(solved)

    strong, medium, weak = solve_rate(3.0), solve_rate(1.5), solve_rate(-0.5)
    assert strong > 0.75 > medium > 0.45 > weak


def test_context_difficulty_grows_with_calls():
    easy = [context_difficulty(make_segment(f"s/e{i}#1", calls=1), 0) for i in range(200)]
    hard = [context_difficulty(make_segment(f"s/h{i}#1", calls=5), 0) for i in range(200)]
    assert sum(hard) / 200 - sum(easy) / 200 == pytest.approx(4 * 0.6 + 4 * 0.15, abs=0.35)


def test_mistakes_chain_up_to_max_errors():
    segment = make_segment(calls=1)
    sampler = OfflineOperatorSampler(
        OperatorProfile("clumsy", skill=-50, max_errors=3), seed=0, operators={"bump_value": bump_value}
    )
    texts = sampler.sample([segment], 40, IssueLog())[segment.context_id]
    values = {text.split('"a": ')[1].split("}")[0] for text in texts}
    assert values == {"1", "2", "3"}  # one to three bumps of a=0


def test_offline_sampler_uses_the_benchmark_builders_operators():
    tools = [
        {"name": "spotify.play", "parameters": {"type": "dict", "properties": {"artist": {"type": "string"},
         "duration": {"type": "integer"}}, "required": ["artist", "duration"]}},
    ]  # fmt: skip
    truth = [
        ToolCall("spotify.play", {"artist": "Taylor Swift", "duration": 20}),
        ToolCall("spotify.play", {"artist": "Maroon 5", "duration": 15}),
    ]
    segment = make_segment(calls=1)
    segment.tools, segment.ground_truth = tools, format_tool_calls(truth)
    segment.chat_history[1]["content"] = "Play Taylor Swift for 20 minutes and Maroon 5 for 15."
    sampler = OfflineOperatorSampler(OperatorProfile("never-right", skill=-50, max_errors=1), seed=0)
    assert sampler.operators is OPERATORS
    texts = sampler.sample([segment], 60, IssueLog())[segment.context_id]
    scores = [score_tool_calls(text, truth, tools) for text in texts]
    assert all(score.score < 1.0 for score in scores)  # every sample is a mistake
    messages = {score.message for score in scores}
    assert {"partial_match", "wrong_call_count", "missing_tool_call"} <= messages
    assert any(0.0 < score.score < 1.0 for score in scores)
    assert sum(not parse_tool_calls(text).calls for text in texts) > 0  # text answers


def test_sampler_specs():
    names = [s.name for s in make_samplers(["offline:strong,weak"], operators=TEST_OPERATORS)]
    assert names == ["offline-strong", "offline-weak"]
    assert len(make_samplers(["offline"], operators=TEST_OPERATORS)) == 4
    with pytest.raises(ValueError, match="unknown sampler spec"):
        make_samplers(["gpt:4"])
    with pytest.raises(ValueError, match="unique"):
        make_samplers(["offline:weak", "offline:weak"], operators=TEST_OPERATORS)


# ---------------------------------------------------------------- difficulty filter


def test_difficulty_verdicts():
    segment = make_segment()
    right = candidate(segment, "a", segment.ground_truth)
    partial = candidate(segment, "b", format_tool_calls([ToolCall("f", {"a": 7})]))
    wrong = candidate(segment, "c", "no idea")
    assert (right.score, partial.score, wrong.score) == (1.0, pytest.approx(2 / 3), 0.0)
    assert difficulty_verdict([right, right]) == "too_easy"
    assert difficulty_verdict([partial, wrong]) == "too_hard"
    assert difficulty_verdict([right, partial]) == "kept"
    assert difficulty_verdict([]) == "no_candidates"
    assert difficulty_verdict([partial, wrong], solve_threshold=0.6) == "kept"


def test_filter_by_difficulty_sorts_contexts():
    easy, hard, mixed, empty = (make_segment(f"s/{n}#1") for n in ("easy", "hard", "mixed", "empty"))
    candidates = {
        easy.context_id: [candidate(easy, "a", easy.ground_truth)] * 3,
        hard.context_id: [candidate(hard, "a", "text")],
        mixed.context_id: [candidate(mixed, "a", mixed.ground_truth), candidate(mixed, "b", "text")],
    }
    result = filter_by_difficulty([easy, hard, mixed, empty], candidates)
    assert [s.context_id for s in result.kept] == ["s/mixed#1"]
    assert result.counts() == {"kept": 1, "too_easy": 1, "too_hard": 1, "no_candidates": 1}


# ---------------------------------------------------------------- pairs


def test_pairs_from_score_differences():
    segment = make_segment()
    candidates = [
        candidate(segment, "a", segment.ground_truth),  # same text as the ground truth: one response
        candidate(segment, "b", format_tool_calls([ToolCall("f", {"a": 7})])),  # 2/3
        candidate(segment, "c", "no idea"),  # 0.0
        candidate(segment, "d", "no idea", 1),  # duplicate text: one response
    ]
    pairs = build_pairs(segment, candidates)
    summary = sorted((p.chosen.sampler, p.rejected.sampler, p.intensity) for p in pairs)
    assert summary == [("b", "c", 0.666667), (GROUND_TRUTH, "b", 0.333333), (GROUND_TRUTH, "c", 1.0)]
    assert all(p.chosen.score > p.rejected.score for p in pairs)
    assert all(p.rejected.sampler != GROUND_TRUTH for p in pairs)
    assert len({p.pair_id for p in pairs}) == 3
    strong_only = build_pairs(segment, candidates, min_intensity=0.5)
    assert sorted(p.intensity for p in strong_only) == [0.666667, 1.0]
    assert [p.intensity for p in build_pairs(segment, candidates, include_ground_truth=False)] == [0.666667]


def test_equal_scores_make_no_pair():
    segment = make_segment()
    same = [candidate(segment, "a", "no"), candidate(segment, "b", "nope")]
    assert [(p.chosen.sampler, p.rejected.sampler) for p in build_pairs(segment, same)] == [
        (GROUND_TRUTH, "a"),
        (GROUND_TRUTH, "b"),
    ]


# ---------------------------------------------------------------- balanced ranked sampling


def synthetic_pairs(counts: dict[str, int], pairs_per_context: int = 1, seed: int = 0) -> list[Pair]:
    """``counts[source]`` pairs per source, with complexity and intensity spread at random."""
    rng = random.Random(seed)
    pairs = []
    for source, n in counts.items():
        for i in range(n):
            context = i // pairs_per_context
            segment = make_segment(
                f"{source}/t{context}#1", source=source, complexity=rng.choice([1, 2, 3, 6])
            )
            chosen = Candidate(segment.context_id, GROUND_TRUTH, "gt", 1.0, GROUND_TRUTH)
            rejected = Candidate(
                segment.context_id, "x", f"r{i}", round(rng.choice([0.0, 0.3, 0.6, 0.9]), 2), "p"
            )
            pairs.append(Pair(f"{segment.context_id}|{i}", segment, chosen, rejected))
    return pairs


def test_buckets():
    buckets = Buckets()
    assert [buckets.complexity(c) for c in (0, 1, 2, 3, 4, 5, 7, 8, 40)] == [
        "0", "1", "2", "3-4", "3-4", "5-7", "5-7", "8+", "8+",
    ]  # fmt: skip
    assert [buckets.intensity(x) for x in (0.1, 0.25, 0.26, 0.75, 1.0)] == [
        "(0.00, 0.25]", "(0.00, 0.25]", "(0.25, 0.50]", "(0.50, 0.75]", "(0.75, 1.00]",
    ]  # fmt: skip


def test_balanced_sample_respects_target_and_spreads_sources():
    pool = synthetic_pairs({"big": 900, "mid": 300, "small": 60})
    selected = balanced_sample(pool, 300, seed=1)
    assert len(selected) == 300
    by_source = Counter(p.segment.source for p in selected)
    assert by_source["small"] == 60  # a scarce source is taken whole
    assert abs(by_source["big"] - by_source["mid"]) <= 10  # the rest split evenly
    assert selected == balanced_sample(pool, 300, seed=1)  # deterministic
    assert len({p.pair_id for p in selected}) == 300


def test_balanced_sample_evens_out_intensity_and_complexity():
    pool = synthetic_pairs({"a": 2000}, seed=5)
    selected = balanced_sample(pool, 400, seed=0)
    buckets = Buckets()
    intensity = Counter(buckets.intensity(p.intensity) for p in selected)
    complexity = Counter(buckets.complexity(p.segment.complexity) for p in selected)
    assert max(intensity.values()) - min(intensity.values()) <= 4
    assert max(complexity.values()) - min(complexity.values()) <= 4


def test_balanced_sample_caps_pairs_per_context_and_returns_small_pools_whole():
    pool = synthetic_pairs({"a": 60}, pairs_per_context=6)  # 10 contexts × 6 pairs
    capped = balanced_sample(pool, 1000, max_pairs_per_context=2)
    assert len(capped) == 20
    assert max(Counter(p.segment.context_id for p in capped).values()) == 2
    assert len(balanced_sample(pool, 1000, max_pairs_per_context=None)) == 60
    for pair in pool:  # one stratum: only the rank decides the order
        pair.segment.complexity, pair.rejected.score = 1, 0.0
    spread = balanced_sample(pool, 10, max_pairs_per_context=None)
    assert len({p.segment.context_id for p in spread}) == 10  # first pair of every context before a second


# ---------------------------------------------------------------- splits and positions


def test_split_keeps_every_trajectory_on_one_side():
    pool = synthetic_pairs({"a": 400, "b": 200}, pairs_per_context=3)
    for pair in pool[::2]:  # several segments (contexts) per trajectory
        pair.segment.context_id = pair.segment.context_id.replace("#1", "#5")
    splits = split_pairs(pool, 0.1, seed=0)
    train_ids = {p.segment.context_id for p in splits["train"]}
    test_ids = {p.segment.context_id for p in splits["test"]}
    assert train_ids and test_ids and not train_ids & test_ids
    assert not {p.segment.trajectory_id for p in splits["train"]} & {
        p.segment.trajectory_id for p in splits["test"]
    }
    trajectories = {p.segment.trajectory_id for p in pool}
    assert len({p.segment.trajectory_id for p in splits["test"]}) == round(0.1 * len(trajectories))
    assert len(splits["train"]) + len(splits["test"]) == len(pool)
    assert split_pairs(pool, 0.1, seed=0) == splits


def test_ground_truth_positions_alternate_exactly():
    pool = synthetic_pairs({"a": 11})
    positions = Counter(position for _, position in ordered_with_positions(pool, seed=0))
    assert positions == {"1": 6, "2": 5}
    assert Counter(p for _, p in ordered_with_positions(pool[:10], seed=0)) == {"1": 5, "2": 5}
