"""GRPO loss pieces on hand-computed tensors."""

from __future__ import annotations

import math

import pytest
import torch

from toolrm_train.grpo.losses import (
    MinibatchCounts,
    aggregate,
    clipped_policy_loss,
    group_advantages,
    kl_k3,
)


def test_group_advantages_by_hand():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])  # two groups of four
    adv = group_advantages(rewards, 4)
    # group 1: mean 0.25, unbiased std sqrt((0.5625 + 3 * 0.0625) / 3) = 0.5
    scale = 0.5 + 1e-6
    assert adv[:4].tolist() == pytest.approx([0.75 / scale, -0.25 / scale, -0.25 / scale, -0.25 / scale])
    assert adv[4:].tolist() == [0.0, 0.0, 0.0, 0.0]  # all equal: no signal, exactly zero
    # the research notes' worked example: G = 8, one correct -> 7/8 / sqrt(1 * 7 / 56)
    eight = group_advantages(torch.tensor([1.0] + [0.0] * 7), 8)
    assert eight[0].item() == pytest.approx((7 / 8) / math.sqrt(7 / 56), rel=1e-5)
    # Dr.GRPO: no std division
    assert group_advantages(rewards, 4, scale_by_std=False)[:2].tolist() == [0.75, -0.25]


def test_group_advantages_reject_ragged_groups():
    with pytest.raises(ValueError, match="groups of 3"):
        group_advantages(torch.zeros(4), 3)


def test_clipped_loss_by_hand():
    old = torch.zeros(1, 4)
    # ratios 1.5, 0.5, 1.1, 5.0
    new = torch.log(torch.tensor([[1.5, 0.5, 1.1, 5.0]]))
    positive = clipped_policy_loss(new, old, torch.tensor([2.0]), clip_low=0.2, clip_high=0.3)
    # A > 0: loss = -A * min(r, clip(r)) -> clip at 1.3 for r = 1.5 and 5.0; r = 0.5 is not clipped
    assert positive.loss[0].tolist() == pytest.approx([-2.6, -1.0, -2.2, -2.6], rel=1e-6)
    assert positive.clipped[0].tolist() == [1.0, 0.0, 0.0, 1.0]
    negative = clipped_policy_loss(
        new, old, torch.tensor([-1.0]), clip_low=0.2, clip_high=0.3, clip_ratio_c=3.0
    )
    # A < 0: loss = max(-A r, -A clip(r)) = (1.5, 0.8, 1.1, 5.0), then the dual clip caps it at -A c = 3
    assert negative.loss[0].tolist() == pytest.approx([1.5, 0.8, 1.1, 3.0], rel=1e-6)
    assert negative.clipped[0].tolist() == [0.0, 1.0, 0.0, 1.0]
    no_dual = clipped_policy_loss(
        new, old, torch.tensor([-1.0]), clip_low=0.2, clip_high=0.3, clip_ratio_c=None
    )
    assert no_dual.loss[0, 3].item() == pytest.approx(5.0)


def test_first_step_gradient_is_minus_advantage_times_score():
    """At ratio 1 the loss gradient w.r.t. logp is -A (per token): the policy-gradient estimator."""
    logp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    loss = clipped_policy_loss(logp, logp.detach(), torch.tensor([0.7])).loss.sum()
    loss.backward()
    assert logp.grad[0].tolist() == pytest.approx([-0.7, -0.7])


def test_kl_k3_by_hand():
    logp = torch.tensor([[-1.0, -2.0, -0.5]])
    ref = torch.tensor([[-1.0, -1.0, -1.5]])
    d = ref - logp  # 0, 1, -1
    assert kl_k3(logp, ref)[0].tolist() == pytest.approx([0.0, math.e - 2.0, math.exp(-1) + 1 - 1], rel=1e-6)
    assert (kl_k3(logp, ref) >= 0).all() and d.numel() == 3


# Two micro-batches of per-token values: [[1, 2, pad], [3, pad, pad]] and [[4, 5, pad]].
VALUES = [torch.tensor([[1.0, 2.0, 9.0], [3.0, 9.0, 9.0]]), torch.tensor([[4.0, 5.0, 9.0]])]
MASKS = [torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), torch.tensor([[1.0, 1.0, 0.0]])]
COUNTS = MinibatchCounts(tokens=5, sequences=3, micro_batches=2, max_response_length=4)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("token-mean", (1 + 2 + 3 + 4 + 5) / 5),
        ("seq-mean", (1.5 + 3.0 + 4.5) / 3),
        ("dr-grpo", 15 / (3 * 4)),
        ("microbatch-token-mean", ((1 + 2 + 3) / 3 + (4 + 5) / 2) / 2),
    ],
)
def test_aggregation_modes_by_hand(mode, expected):
    total = sum(aggregate(v, m, mode, COUNTS) for v, m in zip(VALUES, MASKS, strict=True))
    assert total.item() == pytest.approx(expected)


def test_aggregation_is_split_invariant_except_the_microbatch_mode():
    """token-mean / seq-mean / dr-grpo do not depend on how the mini-batch is cut into micro-batches."""
    whole_values = torch.cat([torch.nn.functional.pad(VALUES[0], (0, 0)), VALUES[1]])
    whole_mask = torch.cat([MASKS[0], MASKS[1]])
    one = MinibatchCounts(tokens=5, sequences=3, micro_batches=1, max_response_length=4)
    for mode in ("token-mean", "seq-mean", "dr-grpo"):
        split = sum(aggregate(v, m, mode, COUNTS) for v, m in zip(VALUES, MASKS, strict=True))
        assert aggregate(whole_values, whole_mask, mode, one).item() == pytest.approx(split.item())
    split = sum(aggregate(v, m, "microbatch-token-mean", COUNTS) for v, m in zip(VALUES, MASKS, strict=True))
    assert aggregate(whole_values, whole_mask, "microbatch-token-mean", one).item() != pytest.approx(
        split.item()
    )
    with pytest.raises(ValueError, match="unknown loss aggregation"):
        aggregate(whole_values, whole_mask, "sum", one)  # type: ignore[arg-type]
