"""Shared-context packing: a pair's history runs once, in one sequence ``[history, chosen, rejected]``.

A chosen and a rejected conversation share their whole history (system prompt with the tool
schemas, user turns, earlier calls); only the final assistant turn differs. In the embedded
ToolPref-style data the history is ~84% of a pair's tokens, so the plain batch (two padded
sequences per pair, as OpenRLHF and TRL train) computes most tokens twice.

**Packed** (the default where supported): each pair is one row

    ids        = history                 + chosen_tail                 + rejected_tail
    positions  = 0 … h−1                 + h … h+c−1                   + h … h+r−1
    attends to = causal                  | causal                      | causal, except chosen_tail

i.e. a 4D attention mask (:func:`toolrm_train.core.packed_attention.branch_mask`) that is causal
everywhere except that rejected-tail queries do not see chosen-tail keys, and position ids that
restart the rejected tail where the history ends. Each token then sees exactly the tokens, at
exactly the positions, it would see in its own conversation, so the rewards (read at the last
token of each branch) and their gradients equal the plain path's up to float rounding (tested in
float32). ``h`` is the longest common token prefix, capped so each branch keeps at least one
token of its own (the token the reward is read at).
The token ids are those of :class:`harness_tasks.models.rm_rendering.ConversationEncoder`, the
rendering ``hf-rm`` / ``vllm-rm`` score with, so training and evaluation see the same ids.

**Plain** (the fallback, and the reference): two right-padded rows per pair (chosen, rejected), no
padding mask (with causal attention a real token never attends to the padding after it, and the
padding's outputs are never read), reward at each row's last real token.

Support (sdpa or eager attention, causal, full attention) is decided in
:mod:`toolrm_train.core.packed_attention`; without it the trainer falls back to plain.

Rewards are read per token from the model's own ``score`` head (a forward hook keeps its
per-token output before the model pools at the last non-pad token), so the whole forward goes
through the model's top-level ``forward`` (what FSDP2's root hooks need) and no pad-id pooling
rule is involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import torch

from toolrm_train.core.packed_attention import PADDING, SHARED, branch_mask, mask_for_model


@dataclass(frozen=True)
class TokenizedPair:
    chosen_ids: tuple[int, ...]
    """History + chosen reply, rendered and tokenized as the reward model scores it."""
    rejected_ids: tuple[int, ...]
    margin: float = 0.0
    """Per-pair margin of the loss (0 without one)."""
    where: str = ""
    """File and row, for messages."""

    @property
    def history_len(self) -> int:
        return shared_history_length(self.chosen_ids, self.rejected_ids)

    @property
    def plain_tokens(self) -> int:
        return len(self.chosen_ids) + len(self.rejected_ids)

    @property
    def packed_tokens(self) -> int:
        return len(self.chosen_ids) + len(self.rejected_ids) - self.history_len


def shared_history_length(chosen: Sequence[int], rejected: Sequence[int]) -> int:
    """Longest common prefix, leaving each branch at least its last token."""
    limit = min(len(chosen), len(rejected)) - 1
    length = 0
    while length < limit and chosen[length] == rejected[length]:
        length += 1
    return max(0, length)


@dataclass
class PairBatch:
    """One forward pass's input and where to read each pair's two rewards."""

    input_ids: torch.Tensor
    """(rows, width), right-padded."""
    chosen_at: torch.Tensor
    """(pairs, 2): row and column of each chosen reward."""
    rejected_at: torch.Tensor
    margins: torch.Tensor
    """(pairs,) float."""
    position_ids: torch.Tensor | None = None
    attention_mask: torch.Tensor | None = None
    """Packed: (rows, 1, width, width) bool, True = may attend. Plain: None (causal)."""
    tokens: int = 0
    """Real tokens fed to the model."""

    @property
    def pairs(self) -> int:
        return int(self.chosen_at.shape[0])

    @property
    def padded_tokens(self) -> int:
        return int(self.input_ids.numel())

    def to(self, device: torch.device) -> PairBatch:
        def move(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.to(device, non_blocking=True)

        return replace(
            self,
            input_ids=move(self.input_ids),
            position_ids=move(self.position_ids),
            attention_mask=move(self.attention_mask),
        )


def plain_batch(pairs: Sequence[TokenizedPair], pad_id: int) -> PairBatch:
    """Rows chosen₀, rejected₀, chosen₁, …, right-padded; no mask (causal attention suffices)."""
    rows = [ids for pair in pairs for ids in (pair.chosen_ids, pair.rejected_ids)]
    width = max(len(ids) for ids in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for row, ids in enumerate(rows):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    last = [len(ids) - 1 for ids in rows]
    chosen_at = torch.tensor([[2 * i, last[2 * i]] for i in range(len(pairs))], dtype=torch.long)
    rejected_at = torch.tensor([[2 * i + 1, last[2 * i + 1]] for i in range(len(pairs))], dtype=torch.long)
    return PairBatch(
        input_ids=input_ids,
        chosen_at=chosen_at,
        rejected_at=rejected_at,
        margins=torch.tensor([pair.margin for pair in pairs], dtype=torch.float32),
        tokens=sum(pair.plain_tokens for pair in pairs),
    )


CHOSEN, REJECTED = 1, 2
"""Branch ids of a packed pair row; its history is ``SHARED``."""


def packed_batch(pairs: Sequence[TokenizedPair], pad_id: int) -> PairBatch:
    """One row ``[history, chosen_tail, rejected_tail]`` per pair, with its 4D mask and position ids."""
    lengths = [pair.packed_tokens for pair in pairs]
    width = max(lengths)
    input_ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    position_ids = torch.zeros((len(pairs), width), dtype=torch.long)
    segment = torch.full((len(pairs), width), PADDING, dtype=torch.long)
    chosen_at, rejected_at = [], []
    for row, pair in enumerate(pairs):
        h, c, r = pair.history_len, len(pair.chosen_ids), len(pair.rejected_ids)
        n = c + r - h
        input_ids[row, :n] = torch.tensor(pair.chosen_ids + pair.rejected_ids[h:], dtype=torch.long)
        position_ids[row, :c] = torch.arange(c)
        position_ids[row, c:n] = torch.arange(h, r)
        segment[row, :h] = SHARED
        segment[row, h:c] = CHOSEN
        segment[row, c:n] = REJECTED
        chosen_at.append([row, c - 1])
        rejected_at.append([row, n - 1])
    return PairBatch(
        input_ids=input_ids,
        chosen_at=torch.tensor(chosen_at, dtype=torch.long),
        rejected_at=torch.tensor(rejected_at, dtype=torch.long),
        margins=torch.tensor([pair.margin for pair in pairs], dtype=torch.float32),
        position_ids=position_ids,
        attention_mask=branch_mask(segment),
        tokens=sum(lengths),
    )


def build_batch(pairs: Sequence[TokenizedPair], pad_id: int, packed: bool) -> PairBatch:
    return packed_batch(pairs, pad_id) if packed else plain_batch(pairs, pad_id)


def score_head(model: torch.nn.Module) -> torch.nn.Module:
    """The sequence classifier's per-token head (``score`` in transformers' decoder classifiers)."""
    head = getattr(model, "score", None)
    if not isinstance(head, torch.nn.Module):
        raise ValueError(
            f"{type(model).__name__} has no 'score' head; the Bradley-Terry trainer needs a decoder "
            "sequence classifier (AutoModelForSequenceClassification of a causal LM, e.g. Qwen3, Llama)"
        )
    return head


@contextmanager
def _captured_token_scores(model: torch.nn.Module):
    captured: list[torch.Tensor] = []

    def keep(_module: torch.nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        captured.append(output)

    handle = score_head(model).register_forward_hook(keep)
    try:
        yield captured
    finally:
        handle.remove()


def pair_rewards(model: torch.nn.Module, batch: PairBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) rewards, float32, shape (pairs,); differentiable."""
    kwargs: dict[str, Any] = {"input_ids": batch.input_ids, "use_cache": False}
    if batch.attention_mask is not None:
        kwargs["attention_mask"] = mask_for_model(model, batch.attention_mask)
        kwargs["position_ids"] = batch.position_ids
    with _captured_token_scores(model) as captured:
        model(**kwargs)
    scores = captured[-1][..., 0].float()  # (rows, width): label 0, as hf-rm scores
    device = scores.device
    chosen = scores[batch.chosen_at[:, 0].to(device), batch.chosen_at[:, 1].to(device)]
    rejected = scores[batch.rejected_at[:, 0].to(device), batch.rejected_at[:, 1].to(device)]
    return chosen, rejected
