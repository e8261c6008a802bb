"""Bootstrap intervals, paired differences and rank bounds behave as their definitions promise.

Judges are simulated with a known accuracy, so the checks can fail: an interval that is too
narrow misses the truth too often, a paired test that ignores pairing calls random flips real.
"""

from __future__ import annotations

import math
import random
import time

import numpy as np
import pytest
from mcnemar import mcnemar_exact_p
from threadpoolctl import threadpool_limits

from harness_tasks import uncertainty
from harness_tasks.categories import CATEGORY_NAMES
from harness_tasks.trbench_bfcl.pairwise_metrics import METRICS, JudgedRow, _pair_intervals
from harness_tasks.trbench_bfcl_disc import disc_metrics
from harness_tasks.trbench_bon.bon_metrics import BonRecord, metrics_for
from harness_tasks.trbench_selfcorrect.metrics import METRICS as SELFCORRECT_METRICS
from harness_tasks.trbench_selfcorrect.metrics import ItemOutcome


def judged_records(correct_pairs: list[bool], categories: list[str]) -> list[list]:
    """Both orders of each pair; a wrong pair gets its second order wrong."""
    records = []
    for index, (correct, category) in enumerate(zip(correct_pairs, categories, strict=True)):
        pair_id = f"p{index}"
        records.append(JudgedRow(pair_id, category, "1", "1", "strict").to_record())
        records.append(JudgedRow(pair_id, category, "2", "2" if correct else "1", "strict").to_record())
    return records


def test_interval_covers_the_true_accuracy_in_about_95_percent_of_simulations():
    rng = np.random.default_rng(7)
    truth, n, covered = 0.7, 300, 0
    for simulation in range(200):
        outcomes = rng.random(n) < truth
        interval = uncertainty.proportion_interval(outcomes, seed=simulation)
        covered += interval.lower <= truth <= interval.upper
    assert 0.91 <= covered / 200 <= 0.985


def test_w_avg_half_width_over_2983_pairs_at_one_half_is_about_1_8_points():
    rng = np.random.default_rng(3)
    categories = [CATEGORY_NAMES[i % len(CATEGORY_NAMES)] for i in range(2983)]
    records = judged_records(list(rng.random(2983) < 0.5), categories)
    lower = METRICS["w_avg_ci_lower"][0](records)
    upper = METRICS["w_avg_ci_upper"][0](records)
    estimate = METRICS["w_avg"][0](records)
    assert lower < estimate < upper
    assert 0.016 <= (upper - lower) / 2 <= 0.020


def test_every_headline_metric_has_an_interval_around_its_estimate():
    rng = np.random.default_rng(5)
    categories = [CATEGORY_NAMES[i % len(CATEGORY_NAMES)] for i in range(900)]
    records = judged_records(list(rng.random(900) < 0.7), categories)
    for name in ("w_avg", "avg", *(f"acc_{c}" for c in CATEGORY_NAMES)):
        lower, upper = METRICS[f"{name}_ci_lower"][0](records), METRICS[f"{name}_ci_upper"][0](records)
        assert lower <= METRICS[name][0](records) <= upper, name
    # a category holds 1/9 of the pairs, so its interval is about three times wider than W-Avg's
    width = lambda name: METRICS[f"{name}_ci_upper"][0](records) - METRICS[f"{name}_ci_lower"][0](records)  # noqa: E731
    assert 2.2 < width("acc_simple") / width("w_avg") < 4.0


def test_intervals_do_not_depend_on_the_order_rows_were_logged():
    rng = np.random.default_rng(11)
    categories = [CATEGORY_NAMES[i % 3] for i in range(200)]
    records = judged_records(list(rng.random(200) < 0.6), categories)
    shuffled = records[:]
    random.Random(0).shuffle(shuffled)
    for name in ("w_avg_ci_lower", "avg_ci_upper", "acc_simple_ci_lower"):
        assert METRICS[name][0](records) == METRICS[name][0](shuffled)


def test_a_category_absent_from_the_run_has_no_interval():
    records = judged_records([True, False, True], ["simple"] * 3)
    assert math.isnan(METRICS["acc_multiple_ci_lower"][0](records))
    assert not math.isnan(METRICS["acc_simple_ci_lower"][0](records))


def test_all_intervals_of_a_3000_pair_run_cost_under_a_second():
    rng = np.random.default_rng(1)
    categories = [CATEGORY_NAMES[i % len(CATEGORY_NAMES)] for i in range(3000)]
    records = judged_records(list(rng.random(3000) < 0.7), categories)
    timings = []
    # CPU time on one thread, best of three: a busy shared machine must not fail it (with several
    # BLAS threads, the process time also counts their spin-waits, 2.5x the work under load)
    with threadpool_limits(limits=1):
        for _ in range(3):
            _pair_intervals.cache_clear()
            start = time.process_time()
            for name, (aggregate, _) in METRICS.items():
                if "_ci_" in name:
                    aggregate(records)
            timings.append(time.process_time() - start)
    assert min(timings) < 1.0


def test_disc_task_intervals_use_the_same_pair_bootstrap():
    records = [
        disc_metrics.ScoredPair(f"p{i}", "simple", 1.0 if i % 4 else 0.0, 0.5).to_record() for i in range(200)
    ]
    lower = disc_metrics.METRICS["w_avg_ci_lower"][0](records)
    upper = disc_metrics.METRICS["w_avg_ci_upper"][0](records)
    assert lower < 0.75 < upper and upper - lower < 0.15


def _bon_record(index: int, correct: list[bool], selected: int) -> dict:
    return BonRecord(f"i{index:03d}", "bfcl", "simple", correct, selected).to_record()


def test_best_of_n_accuracy_carries_an_item_bootstrap_interval():
    rng = np.random.default_rng(2)
    records = [_bon_record(i, list(rng.random(4) < 0.5), int(rng.integers(4))) for i in range(400)]
    metrics = metrics_for(4, "listwise")
    value = metrics["acc_at_n_4"][0](records)
    lower, upper = metrics["acc_at_n_4_ci_lower"][0](records), metrics["acc_at_n_4_ci_upper"][0](records)
    assert lower < value < upper
    assert 0.07 < upper - lower < 0.12  # 2 * 1.96 * sqrt(0.25 / 400) = 0.098


def test_self_correction_fixed_broken_and_net_carry_intervals():
    rng = np.random.default_rng(4)
    records = []
    for i in range(300):
        candidate = bool(rng.random() < 0.5)
        final = bool(rng.random() < (0.9 if candidate else 0.4))
        outcome = ItemOutcome(f"i{i}", "bfcl", "simple", "op", candidate, final, True, "correct", True,
                              False, None, 10, 0)  # fmt: skip
        records.append(outcome.to_record())
    for name in ("fixed_rate", "broken_rate", "delta_acc", "acc_at_round_1"):
        value = SELFCORRECT_METRICS[name][0](records)
        lower = SELFCORRECT_METRICS[f"{name}_ci_lower"][0](records)
        upper = SELFCORRECT_METRICS[f"{name}_ci_upper"][0](records)
        assert lower < value < upper, name
        assert upper - lower < 0.25, name


def test_a_one_directional_three_percent_difference_is_significant():
    rng = np.random.default_rng(0)
    base = rng.random(2983) < 0.7
    wrong = np.flatnonzero(~base)
    better = base.copy()
    better[rng.choice(wrong, size=round(0.03 * 2983), replace=False)] = True
    difference = uncertainty.paired_difference(better, base)
    assert difference.estimate == pytest.approx(0.03, abs=0.001)
    assert difference.p_value < 0.05 and difference.lower > 0
    assert mcnemar_exact_p(int((better & ~base).sum()), int((base & ~better).sum())) < 0.05


def test_random_flips_are_not_significant_in_at_least_90_percent_of_runs():
    """The judges disagree on 3% of pairs, each disagreement going either way by a coin toss."""
    significant = 0
    runs = 50
    for seed in range(runs):
        rng = np.random.default_rng(100 + seed)
        base = rng.random(2983) < 0.7
        other = base.copy()
        disagree = rng.choice(2983, size=round(0.03 * 2983), replace=False)
        base_right = rng.random(len(disagree)) < 0.5
        base[disagree], other[disagree] = base_right, ~base_right
        significant += uncertainty.paired_difference(other, base, seed=seed).p_value < 0.05
    assert significant / runs <= 0.10


def test_pairing_matters_an_unpaired_reading_would_miss_a_small_consistent_gain():
    """1.5 points on 2,983 pairs is inside each judge's own interval, yet paired it is clear."""
    rng = np.random.default_rng(9)
    base = rng.random(2983) < 0.7
    better = base.copy()
    better[rng.choice(np.flatnonzero(~base), size=45, replace=False)] = True
    first, second = uncertainty.proportion_interval(better), uncertainty.proportion_interval(base)
    assert first.lower < second.upper  # the separate intervals overlap
    assert uncertainty.paired_difference(better, base).p_value < 0.05


def test_mcnemar_exact_matches_the_binomial_tail():
    # 2 * P(X <= 1) for X ~ Binomial(10, 1/2) = 2 * 11/1024
    assert mcnemar_exact_p(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact_p(0, 0) == 1.0
    assert mcnemar_exact_p(5, 5) == 1.0


def test_stratified_difference_of_category_means():
    a = [1, 1, 0, 0, 1, 1]
    b = [0, 1, 0, 0, 1, 0]
    strata = ["x", "x", "x", "x", "y", "y"]
    difference = uncertainty.paired_difference(a, b, strata=strata, mean_of_strata=True)
    # x: 0.5 vs 0.25; y: 1.0 vs 0.5 -> means 0.75 vs 0.375
    assert difference.estimate == pytest.approx(0.375)


def test_unit_counts_make_the_statistic_the_pooled_mean_over_judgments():
    # two units of two judgments and one lone judgment: sum(right) / sum(judgments) on each side
    difference = uncertainty.paired_difference(
        [2, 1, 1], [1, 1, 0], first_counts=[2, 2, 1], second_counts=[2, 2, 1]
    )
    assert difference.estimate == pytest.approx(4 / 5 - 2 / 5)


def test_equal_strata_means_give_the_same_test_as_the_pooled_mean():
    # equal-sized strata: the mean of the strata means is the pooled mean in every round, so the
    # paired test must not change with the statistic (float noise at 0 must not decide the p-value)
    rng = random.Random(0)
    first = [100 * float(rng.random() < 0.8) for _ in range(60)]  # in points, as the leaderboard
    second = [100 * float(rng.random() < 0.75) for _ in range(60)]
    strata = [i % 2 for i in range(60)]
    macro = uncertainty.paired_difference(first, second, strata=strata, mean_of_strata=True)
    pooled = uncertainty.paired_difference(first, second, strata=strata)
    assert macro.p_value == pooled.p_value
    assert (macro.lower, macro.upper) == pytest.approx((pooled.lower, pooled.upper))


def test_rank_bounds_follow_the_arena_rule():
    intervals = [(0.70, 0.80), (0.65, 0.75), (0.50, 0.60), (0.55, 0.66), (math.nan, math.nan)]
    ranks = uncertainty.rank_bounds(intervals)
    assert [(r.best, r.worst) for r in ranks] == [(1, 2), (1, 3), (3, 4), (2, 4), (5, 5)]
    lower_is_better = uncertainty.rank_bounds([(0.1, 0.2), (0.3, 0.4)], higher_is_better=False)
    assert [(r.best, r.worst) for r in lower_is_better] == [(1, 1), (2, 2)]


def test_the_bootstrap_is_seeded():
    values = [1, 0, 1, 1, 0, 1, 0, 1]
    assert uncertainty.proportion_interval(values) == uncertainty.proportion_interval(values)
    assert uncertainty.proportion_interval(values, seed=1) != uncertainty.proportion_interval(values, seed=2)
