"""Scalar-RM TRBench-BFCL metrics on hand-made score records."""

from __future__ import annotations

import math

import pytest

from harness_tasks.trbench_bfcl.pairwise_metrics import proportion_stderr
from harness_tasks.trbench_bfcl_disc import disc_metrics as dm
from harness_tasks.trbench_bfcl_disc.disc_metrics import ScoredPair


def metric(name: str, records: list) -> float:
    return dm.METRICS[name][0](records)


def record(pair_id: str, category: str, chosen: float, rejected: float) -> list:
    return ScoredPair(pair_id, category, chosen, rejected).to_record()


def test_chosen_must_score_strictly_higher():
    records = [
        record("a", "simple", 2.0, 1.0),  # right
        record(
            "b", "simple", 1.0, 1.0
        ),  # tie: wrong (lm-eval's argmax would pick choice 0 and call it right)
        record("c", "simple", 0.0, 3.0),  # wrong
        record("d", "simple", math.nan, -5.0),  # NaN: wrong
    ]
    assert metric("w_avg", records) == 0.25
    assert metric("tie_rate", records) == 0.25
    assert metric("n_pairs", records) == 4


def test_w_avg_weighs_by_size_avg_does_not():
    records = [record(f"s{i}", "simple", 1.0, 0.0) for i in range(3)] + [record("m", "multiple", 0.0, 1.0)]
    assert metric("w_avg", records) == pytest.approx(0.75)
    assert metric("avg", records) == pytest.approx(0.5)
    assert metric("acc_simple", records) == 1.0 and metric("acc_multiple", records) == 0.0
    assert math.isnan(metric("acc_live_simple", records))
    assert metric("w_avg_stderr", records) == pytest.approx(proportion_stderr(3, 4))


def test_margin_and_its_stderr():
    records = [
        record("a", "parallel", 3.0, 1.0),
        record("b", "parallel", 0.0, 1.0),
        record("c", "parallel", 2.0, 0.0),
    ]
    margins = [2.0, -1.0, 2.0]
    assert metric("margin", records) == pytest.approx(1.0)
    sample_sd = math.sqrt(sum((m - 1.0) ** 2 for m in margins) / 2)
    assert metric("margin_stderr", records) == pytest.approx(sample_sd / math.sqrt(3))


def test_a_pair_scored_twice_is_an_error():
    with pytest.raises(ValueError, match="pair 'a' was scored twice"):
        metric("w_avg", [record("a", "simple", 1.0, 0.0), record("a", "simple", 1.0, 0.0)])


def test_every_metric_is_followed_by_its_stderr_where_it_has_one():
    names = list(dm.METRICS)
    for name in names:
        if name.endswith("_stderr"):
            assert names[names.index(name) - 1] == name.removesuffix("_stderr")
    assert {"w_avg", "avg", "margin", "n_pairs", "acc_multi_turn_base"} <= set(names)
