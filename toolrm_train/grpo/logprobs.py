"""Per-token log-probabilities (and entropies) of completions under the training forward.

Layout shared with the rollout engine: each row is a left-padded prompt followed by its right-padded
completion, ``position_ids = cumsum(attention_mask) - 1``, so a prompt's positions are the same in
rollout and training. Logits are divided by the sampling temperature before ``log_softmax`` (TRL and
verl do the same); otherwise the first step's ratio would not be 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass
class PolicyBatch:
    """Prompt + completion rows ready for a forward pass."""

    input_ids: torch.Tensor
    """``[B, P + T]``: left-padded prompts, then right-padded completions."""
    attention_mask: torch.Tensor
    """``[B, P + T]``: 1 on real tokens."""
    completion_ids: torch.Tensor
    """``[B, T]``: the completion tokens (padding where the mask is 0)."""
    completion_mask: torch.Tensor
    """``[B, T]`` float: 1 on completion tokens that carry loss (up to and including EOS)."""

    @property
    def prompt_width(self) -> int:
        return self.input_ids.shape[1] - self.completion_ids.shape[1]

    def to(self, device: torch.device) -> PolicyBatch:
        return PolicyBatch(
            *(
                t.to(device)
                for t in (self.input_ids, self.attention_mask, self.completion_ids, self.completion_mask)
            )
        )


def build_policy_batch(
    prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], pad_token_id: int
) -> PolicyBatch:
    """Rows for ``(prompt, completion)`` pairs: left-pad the prompts, right-pad the completions."""
    width = max(len(p) for p in prompts)
    length = max(1, max(len(c) for c in completions))
    rows = len(prompts)
    input_ids = torch.full((rows, width + length), pad_token_id, dtype=torch.long)
    attention = torch.zeros((rows, width + length), dtype=torch.long)
    completion_mask = torch.zeros((rows, length), dtype=torch.float32)
    for row, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
        input_ids[row, width - len(prompt) : width] = torch.as_tensor(list(prompt), dtype=torch.long)
        attention[row, width - len(prompt) : width] = 1
        if completion:
            input_ids[row, width : width + len(completion)] = torch.as_tensor(
                list(completion), dtype=torch.long
            )
            attention[row, width : width + len(completion)] = 1
            completion_mask[row, : len(completion)] = 1.0
    return PolicyBatch(input_ids, attention, input_ids[:, width:].clone(), completion_mask)


def completion_logprobs(
    model: torch.nn.Module,
    batch: PolicyBatch,
    temperature: float = 1.0,
    *,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``([B, T] log-probs, [B, T] entropies or None)`` of the completion tokens, float32.

    Only the last ``T + 1`` positions go through the LM head (``logits_to_keep``), which avoids a
    ``[B, P + T, V]`` logits tensor for long prompts.
    """
    length = batch.completion_ids.shape[1]
    positions = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=positions,
        use_cache=False,
        logits_to_keep=length + 1,
    ).logits[:, :-1]
    logits = logits.float()
    if temperature not in (0.0, 1.0):
        logits = logits / temperature
    log_norm = torch.logsumexp(logits, dim=-1)
    chosen = logits.gather(-1, batch.completion_ids.unsqueeze(-1)).squeeze(-1)
    logprobs = chosen - log_norm
    entropy = None
    if with_entropy:
        with torch.no_grad():
            probs = torch.softmax(logits, dim=-1)
            entropy = log_norm - (probs * logits).sum(-1)
    return logprobs, entropy
