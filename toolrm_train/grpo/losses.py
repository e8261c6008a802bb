"""GRPO's pieces as small tensor functions (research notes training_and_bon.md §2).

* Advantage of sample ``i`` of a prompt's group: ``A_i = (r_i - mean(r)) / (std(r) + eps)``, with
  the unbiased std (verl's ``compute_grpo_outcome_advantage``; ``eps = 1e-6``); a group whose
  rewards are all equal gets ``A = 0`` (no signal); ``scale_by_std=False`` is Dr.GRPO's ``r - mean``.
  The advantage is broadcast to every completion token.
* Per-token clipped surrogate with ratio ``rho = exp(logp - old_logp)`` (log-ratio clamped to
  ±20 as verl does): ``L = -min(rho·A, clip(rho, 1 - eps_low, 1 + eps_high)·A)``; with dual clip
  ``c`` (verl's ``clip_ratio_c = 3``) a negative-advantage token's loss is capped at ``-A·c``.
* KL to a frozen reference, the k3 estimator ``exp(ref - logp) - (ref - logp) - 1`` (≥ 0).
* Aggregation over tokens (:func:`aggregate`), the length-weighting choice:

  ``token-mean``: sum of all token losses / all completion tokens of the optimiser mini-batch
  (every micro-batch and process) — verl ≥ 0.7's and TRL's ``dapo`` default;
  ``microbatch-token-mean``: token-mean within each micro-batch, then the mean over micro-batches
  (verl ≤ 0.6, ToolRM's era, whose micro-batches held 2 sequences);
  ``seq-mean``: each sequence's token-mean, then the mean over sequences (original GRPO, TRL ``grpo``);
  ``dr-grpo``: sum of token losses / (sequences × max_response_length), a constant normaliser.

  Every mode is written as a *sum over micro-batches* of per-micro-batch terms, each already
  divided by the global count, so gradient accumulation and data parallelism give the same
  gradient as one big batch; the caller multiplies by the world size because FSDP averages
  gradients over processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch


LossAggregation = Literal["token-mean", "microbatch-token-mean", "seq-mean", "dr-grpo"]
AGGREGATIONS: tuple[str, ...] = ("token-mean", "microbatch-token-mean", "seq-mean", "dr-grpo")


def group_advantages(
    rewards: torch.Tensor, group_size: int, *, scale_by_std: bool = True, eps: float = 1e-6
) -> torch.Tensor:
    """``rewards [G * n]`` (groups contiguous) -> advantages of the same shape."""
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    grouped = rewards.float().view(-1, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale_by_std:
        # unbiased, as torch.std / verl; verl gives a group of one std 1 (and mean = itself)
        std = grouped.std(dim=1, keepdim=True) if group_size > 1 else torch.ones_like(centred)
        centred = centred / (std + eps)
    return centred.view(-1)


@dataclass
class TokenLosses:
    loss: torch.Tensor
    """``[B, T]`` per-token surrogate loss (before masking)."""
    clipped: torch.Tensor
    """``[B, T]`` float: 1 where clipping changed the loss (the clip fraction's numerator)."""
    ratio: torch.Tensor
    """``[B, T]`` the policy ratio (detached)."""


def clipped_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    clip_ratio_c: float | None = 3.0,
) -> TokenLosses:
    """PPO's clipped surrogate per token; ``advantages [B]`` are broadcast over tokens."""
    adv = advantages[:, None].to(logprobs.dtype)
    log_ratio = torch.clamp(logprobs - old_logprobs, -20.0, 20.0)
    ratio = torch.exp(log_ratio)
    unclipped = -adv * ratio
    clipped = -adv * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    loss = torch.maximum(unclipped, clipped)
    was_clipped = (clipped > unclipped).float()
    if clip_ratio_c is not None:
        capped = torch.minimum(loss, -adv * clip_ratio_c)
        negative = adv < 0
        was_clipped = torch.where(negative & (capped < loss), torch.ones_like(was_clipped), was_clipped)
        loss = torch.where(negative, capped, loss)
    return TokenLosses(loss=loss, clipped=was_clipped, ratio=ratio.detach())


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimate of KL(pi || ref) per token: ``exp(d) - d - 1`` with ``d = ref - logp``."""
    delta = torch.clamp(ref_logprobs - logprobs, -20.0, 20.0)
    return torch.exp(delta) - delta - 1.0


@dataclass(frozen=True)
class MinibatchCounts:
    """Global sizes of one optimiser mini-batch (all micro-batches, all processes)."""

    tokens: int
    sequences: int
    micro_batches: int
    """Micro-batches per process in the mini-batch (``microbatch-token-mean`` averages over them)."""
    max_response_length: int


def aggregate(
    values: torch.Tensor, mask: torch.Tensor, mode: LossAggregation, counts: MinibatchCounts
) -> torch.Tensor:
    """One micro-batch's share of the mini-batch loss; summing the shares gives the loss.

    ``values [B, T]`` per-token terms, ``mask [B, T]`` 1 on completion tokens.
    """
    masked = values * mask
    if mode == "token-mean":
        return masked.sum() / max(counts.tokens, 1)
    if mode == "microbatch-token-mean":
        return masked.sum() / mask.sum().clamp(min=1) / counts.micro_batches
    if mode == "seq-mean":
        per_sequence = masked.sum(-1) / mask.sum(-1).clamp(min=1)
        return per_sequence.sum() / max(counts.sequences, 1)
    if mode == "dr-grpo":
        return masked.sum() / (max(counts.sequences, 1) * counts.max_response_length)
    raise ValueError(f"unknown loss aggregation {mode!r}; choose from {list(AGGREGATIONS)}")
