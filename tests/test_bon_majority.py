"""Majority vote (self-consistency) over Best-of-N candidates: canonical calls, tie rule, metrics."""

from __future__ import annotations

import math

import pytest

from harness_tasks.trbench_bon.bon_metrics import BonRecord, metrics_for
from harness_tasks.trbench_bon.build import CANDIDATES_FILE
from harness_tasks.trbench_bon.candidates import read_candidate_file
from harness_tasks.trbench_bon.majority import candidate_groups, canonical_key, majority_pick


def call(name: str, arguments: str) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {arguments}}}\n</tool_call>'


def test_canonical_key_ignores_formatting_key_order_and_parallel_call_order():
    a = call("f", '{"x": 1, "y": [1, 2]}') + "\n" + call("g", "{}")
    b = call("g", "{}") + call("f", '{"y": [1, 2],   "x": 1}')
    assert canonical_key(a) == canonical_key(b)
    assert canonical_key(call("f", '{"x": 1}')) != canonical_key(call("f", '{"x": 2}'))
    assert canonical_key("I cannot   help") == canonical_key("I cannot help")
    assert canonical_key("<tool_call>{broken</tool_call>") != canonical_key(call("f", "{}"))


def test_majority_picks_the_most_frequent_call_ties_to_the_earliest_sample():
    texts = [call("a", "{}"), call("b", "{}"), call("b", "{}"), call("a", "{}"), call("c", "{}")]
    groups = candidate_groups(texts)
    assert groups == [0, 1, 1, 0, 4]
    assert majority_pick(groups, 1) == 0
    assert majority_pick(groups, 2) == 0  # a and b once each: the earlier sample wins
    assert majority_pick(groups, 3) == 1  # b twice
    assert majority_pick(groups, 4) == 0  # a and b twice each: a came first


def test_majority_at_n_metric_over_records():
    texts = [call("a", "{}"), call("b", "{}"), call("b", "{}"), call("c", "{}")]
    record = BonRecord("i1", "bfcl", "simple", [True, False, False, True], 0,
                       candidate_groups=candidate_groups(texts)).to_record()  # fmt: skip
    old = BonRecord("i2", "bfcl", "simple", [True, False, False, True], 0).to_record()  # no groups
    metrics = metrics_for(4, "listwise")
    assert metrics["majority_at_n_1"][0]([record]) == 1.0
    assert metrics["majority_at_n_4"][0]([record]) == 0.0  # b wins the vote and is wrong
    assert metrics["majority_at_n_4"][0]([record, old]) == 0.0  # records without groups do not count
    assert math.isnan(metrics["majority_at_n_4"][0]([old]))
    # judge-free baselines at every N up to the set size
    assert {"oracle_at_n_2", "random_at_n_2", "majority_at_n_2"} <= set(metrics)


def test_majority_on_the_shipped_sets_lies_between_the_first_sample_and_the_oracle():
    sets = read_candidate_file(CANDIDATES_FILE)
    records = [
        BonRecord(s.item_id, s.source, s.category, [c.correct for c in s.candidates], 0,
                  candidate_groups=candidate_groups([c.text for c in s.candidates])).to_record()
        for s in sets
    ]  # fmt: skip
    metrics = metrics_for(16, "scalar")
    first = sum(s.candidates[0].correct for s in sets) / len(sets)
    assert metrics["majority_at_n_1"][0](records) == pytest.approx(first)
    for n in (2, 4, 8, 16):
        assert metrics["majority_at_n_" + str(n)][0](records) <= metrics[f"oracle_at_n_{n}"][0](records)
    # self-consistency helps on sampled tool calls: the vote of 16 beats the first sample
    assert metrics["majority_at_n_16"][0](records) > first
