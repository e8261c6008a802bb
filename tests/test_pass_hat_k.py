"""pass^k (tau-bench's reliability metric) on hand-computed values."""

from __future__ import annotations

import math

import pytest

from harness_tasks.pass_hat_k import item_pass_hat_k, pass_hat_k, pass_hat_k_metrics, reported_ks


def test_one_item_is_the_chance_that_k_drawn_trials_all_succeeded():
    # 3 successes of 4 trials: C(3,2)/C(4,2) = 3/6; C(3,3)/C(4,3) = 1/4; k=4 needs all four
    assert item_pass_hat_k(3, 4, 1) == 0.75
    assert item_pass_hat_k(3, 4, 2) == 0.5
    assert item_pass_hat_k(3, 4, 3) == 0.25
    assert item_pass_hat_k(3, 4, 4) == 0.0
    assert item_pass_hat_k(4, 4, 4) == 1.0


def test_the_mean_over_items_falls_with_k_when_items_sometimes_fail():
    outcomes = [
        [True, True, True, True],  # 4/4: 1, 1, 1
        [True, False, True, True],  # 3/4: 3/4, 1/2, 0
        [False, False, True, False],  # 1/4: 1/4, 0, 0
    ]
    assert pass_hat_k(outcomes, 1) == pytest.approx((1 + 0.75 + 0.25) / 3)
    assert pass_hat_k(outcomes, 2) == pytest.approx((1 + 0.5 + 0) / 3)
    assert pass_hat_k(outcomes, 4) == pytest.approx(1 / 3)
    assert pass_hat_k_metrics(outcomes) == {
        "pass_hat_k_1": pytest.approx(2 / 3),
        "pass_hat_k_2": pytest.approx(0.5),
        "pass_hat_k_4": pytest.approx(1 / 3),
    }


def test_reported_ks_are_powers_of_two_and_the_repeat_count():
    assert reported_ks(1) == [1]
    assert reported_ks(4) == [1, 2, 4]
    assert reported_ks(5) == [1, 2, 4, 5]
    assert reported_ks(8) == [1, 2, 4, 8]


def test_a_run_without_repeats_reports_nothing_and_bad_input_is_refused():
    assert pass_hat_k_metrics([[True], [False]]) == {}
    assert math.isnan(pass_hat_k([], 1))
    with pytest.raises(ValueError, match="different numbers of trials"):
        pass_hat_k_metrics([[True, True], [True]])
    with pytest.raises(ValueError, match="item 1 has 1 trial"):
        pass_hat_k([[True, True], [True]], 2)
    with pytest.raises(ValueError, match="1 <= k <= trials"):
        item_pass_hat_k(1, 2, 3)
