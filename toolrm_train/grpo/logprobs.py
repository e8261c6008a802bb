"""Per-token log-probabilities (and entropies) of completions under the training forward.

**Plain rows** (the reference layout, shared with the rollout engine): each row is a left-padded
prompt followed by its right-padded completion, ``position_ids = cumsum(attention_mask) - 1``, so
a prompt's positions are the same in rollout and training.

**Packed rows** (``packing``, the default where the model supports it): GRPO samples
``num_generations`` judgments of the same prompt, and a judge's prompt (conversation, tool list,
instructions) is usually far longer than its answer, so plain rows compute the prompt once per
judgment. A packed row holds the prompt once, then every judgment of it in the micro-batch:

    ids        = [pad …] prompt        + completion_1          + completion_2          + …
    positions  =  0 …    0 … p−1       + p … p+c₁−1            + p … p+c₂−1
    attends to =  itself causal        | prompt + itself       | prompt + itself

with a 4D mask (:mod:`toolrm_train.core.packed_attention`). Each completion token sees exactly the
tokens, at exactly the positions, it sees in its plain row, so log-probabilities and gradients equal
the plain ones up to float rounding (tested in float32). Prompts are left-padded to a common end
column, so the logits needed (the prompt's last position and the completions) are the row's last
columns and only those go through the LM head (``logits_to_keep``). Padding queries attend only to
themselves, so no softmax row is empty.

Logits are divided by the sampling temperature before ``log_softmax`` (TRL and verl do the same);
otherwise the first step's ratio would not be 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import torch

from toolrm_train.core.packed_attention import PADDING, SHARED, branch_mask, mask_for_model


@dataclass
class PolicyBatch:
    """Prompt + completion rows ready for a forward pass (plain or packed)."""

    input_ids: torch.Tensor
    """Plain: ``[B, P + T]``, left-padded prompts then right-padded completions. Packed: ``[R, W]``."""
    attention_mask: torch.Tensor
    """Plain: ``[B, P + T]``, 1 on real tokens. Packed: ``[R, 1, W, W]`` bool, True = may attend."""
    completion_ids: torch.Tensor
    """``[B, T]``: the completion tokens (padding where the mask is 0)."""
    completion_mask: torch.Tensor
    """``[B, T]`` float: 1 on completion tokens that carry loss (up to and including EOS)."""
    position_ids: torch.Tensor | None = None
    """Packed only: ``[R, W]`` (plain rows derive them from the mask)."""
    logit_rows: torch.Tensor | None = None
    """Packed only: ``[B]``, the row holding each completion."""
    logit_columns: torch.Tensor | None = None
    """Packed only: ``[B, T]``, where in the kept logits each completion token is predicted."""
    logits_kept: int = 0
    """Packed only: the row's last columns whose logits are needed (from the prompts' last one)."""
    tokens: int = 0
    """Real tokens fed to the model (training tokens/s counts these)."""

    @property
    def packed(self) -> bool:
        return self.logit_rows is not None

    def to(self, device: torch.device) -> PolicyBatch:
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }
        return replace(self, **moved)


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
    return PolicyBatch(
        input_ids, attention, input_ids[:, width:].clone(), completion_mask, tokens=int(attention.sum())
    )


def build_packed_policy_batch(
    prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], pad_token_id: int
) -> PolicyBatch:
    """One row per run of consecutive samples with the same prompt: the prompt once, then each completion.

    The prompt is segment ``SHARED``; the row's completion ``j`` is branch ``j + 1`` of :func:`branch_mask`.
    """
    groups: list[tuple[Sequence[int], list[int]]] = []
    for index, prompt in enumerate(prompts):
        if groups and (groups[-1][0] is prompt or list(groups[-1][0]) == list(prompt)):
            groups[-1][1].append(index)
        else:
            groups.append((prompt, [index]))
    prompt_end = max(len(prompt) for prompt, _ in groups)
    width = prompt_end + max(sum(len(completions[i]) for i in members) for _, members in groups)
    length = max(1, max(len(c) for c in completions))
    input_ids = torch.full((len(groups), width), pad_token_id, dtype=torch.long)
    position_ids = torch.zeros((len(groups), width), dtype=torch.long)
    segment = torch.full((len(groups), width), PADDING, dtype=torch.long)
    completion_ids = torch.full((len(prompts), length), pad_token_id, dtype=torch.long)
    completion_mask = torch.zeros((len(prompts), length), dtype=torch.float32)
    logit_rows = torch.zeros(len(prompts), dtype=torch.long)
    logit_columns = torch.zeros((len(prompts), length), dtype=torch.long)
    for row, (prompt, members) in enumerate(groups):
        p = len(prompt)
        input_ids[row, prompt_end - p : prompt_end] = torch.as_tensor(list(prompt), dtype=torch.long)
        position_ids[row, prompt_end - p : prompt_end] = torch.arange(p)
        segment[row, prompt_end - p : prompt_end] = SHARED
        offset = 0
        for branch, index in enumerate(members, start=1):
            completion = torch.as_tensor(list(completions[index]), dtype=torch.long)
            c = len(completion)
            start = prompt_end + offset
            input_ids[row, start : start + c] = completion
            position_ids[row, start : start + c] = torch.arange(p, p + c)
            segment[row, start : start + c] = branch
            completion_ids[index, :c] = completion
            completion_mask[index, :c] = 1.0
            logit_rows[index] = row
            # kept logits start at the prompt's last column: token 0 is predicted there (index 0),
            # token t > 0 at the column before it, index offset + t
            logit_columns[index, 1:c] = torch.arange(offset + 1, offset + c)
            offset += c
    return PolicyBatch(
        input_ids,
        branch_mask(segment),
        completion_ids,
        completion_mask,
        position_ids=position_ids,
        logit_rows=logit_rows,
        logit_columns=logit_columns,
        logits_kept=width - prompt_end + 1,
        tokens=int((segment != PADDING).sum()),
    )


def completion_logprobs(
    model: torch.nn.Module,
    batch: PolicyBatch,
    temperature: float = 1.0,
    *,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``([B, T] log-probs, [B, T] entropies or None)`` of the completion tokens, float32.

    Only the positions that predict completion tokens go through the LM head (``logits_to_keep``),
    which avoids a ``[rows, width, V]`` logits tensor for long prompts.
    """
    if batch.packed:
        kept = model(
            input_ids=batch.input_ids,
            attention_mask=mask_for_model(model, batch.attention_mask),
            position_ids=batch.position_ids,
            use_cache=False,
            logits_to_keep=batch.logits_kept,
        ).logits
        logits = kept[batch.logit_rows[:, None], batch.logit_columns]
    else:
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
