"""The Bradley-Terry pairwise loss, as short functions testable on tiny tensors.

For a pair with scalar rewards ``r_c`` (chosen) and ``r_r`` (rejected), the Bradley-Terry model
says P(chosen preferred) = σ(r_c − r_r); training minimises the negative log-likelihood

    loss_pair = −log σ(r_c − r_r − m) + λ · (r_c + r_r)²

* ``m`` (margin, optional, 0 by default) asks for a larger gap on pairs with a larger preference
  gap, e.g. the pair's score difference (Llama 2's margin loss; TRL's ``margin`` column).
* ``λ`` (reward-centring coefficient, optional, 0 by default) pulls the rewards of a pair
  towards zero mean (Eisenstein et al. 2023, "Helping or Herding?"; TRL's
  ``center_rewards_coefficient``); the BT loss alone only fixes reward differences, so the scale's
  offset drifts freely, which matters when one RM's scores are compared across prompts.

With ``m = 0`` and ``λ = 0`` this is exactly OpenRLHF's ``--loss sigmoid`` (PairWiseLoss), which
trained ToolRM-Disc. ``log σ`` is computed with ``logsigmoid`` (stable for large gaps).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def pairwise_losses(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    margin: torch.Tensor | float | None = None,
    centering_coefficient: float = 0.0,
) -> torch.Tensor:
    """Per-pair loss (shape of ``chosen``); sum and divide by the global pair count for the batch loss.

    Keeping pairs separate lets a data-parallel rank compute its share of a global mean exactly,
    whatever number of pairs it holds.
    """
    if chosen.shape != rejected.shape:
        raise ValueError(f"chosen and rejected rewards differ in shape: {chosen.shape} vs {rejected.shape}")
    gap = chosen - rejected
    if margin is not None:
        gap = gap - margin
    losses = -F.logsigmoid(gap)
    if centering_coefficient:
        losses = losses + centering_coefficient * (chosen + rejected) ** 2
    return losses


@dataclass
class PairStats:
    """Sums over pairs, so per-rank and per-micro-batch figures add up before dividing."""

    pairs: int = 0
    correct: float = 0.0
    """Pairs with r_c > r_r; a tie counts one half (the pairwise benchmark's rule)."""
    margin_sum: float = 0.0
    """Sum of r_c − r_r."""
    loss_sum: float = 0.0

    def add(self, chosen: torch.Tensor, rejected: torch.Tensor, losses: torch.Tensor | None = None) -> None:
        gap = (chosen - rejected).detach().float()
        self.pairs += gap.numel()
        self.correct += float((gap > 0).sum()) + 0.5 * float((gap == 0).sum())
        self.margin_sum += float(gap.sum())
        if losses is not None:
            self.loss_sum += float(losses.detach().float().sum())

    def as_list(self) -> list[float]:
        return [float(self.pairs), self.correct, self.margin_sum, self.loss_sum]

    @classmethod
    def from_list(cls, values: list[float]) -> PairStats:
        return cls(round(values[0]), values[1], values[2], values[3])

    @property
    def accuracy(self) -> float:
        return self.correct / self.pairs if self.pairs else float("nan")

    @property
    def mean_margin(self) -> float:
        return self.margin_sum / self.pairs if self.pairs else float("nan")

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / self.pairs if self.pairs else float("nan")
