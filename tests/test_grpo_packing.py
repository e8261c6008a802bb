"""Packed GRPO rows (a prompt once, its judgments after it) against plain rows: same numbers, fewer tokens."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from toolrm_train.grpo.logprobs import build_packed_policy_batch, build_policy_batch, completion_logprobs


def samples(vocab: int) -> tuple[list[list[int]], list[list[int]]]:
    """Three prompts (40, 9, 23 tokens) with 3, 1 and 2 completions of 1 to 12 tokens."""
    generator = torch.Generator().manual_seed(0)

    def ids(n: int) -> list[int]:
        return torch.randint(5, vocab, (n,), generator=generator).tolist()

    long_prompt, short_prompt, mid_prompt = ids(40), ids(9), ids(23)
    prompts = (
        [long_prompt] * 3 + [short_prompt] + [list(mid_prompt), list(mid_prompt)]
    )  # equal, not identical
    completions = [ids(7), ids(1), ids(12), ids(5), ids(9), ids(3)]
    return prompts, completions


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_logprobs_and_gradients_equal_plain_rows(tiny_causal_lm_dir, attention):
    model = AutoModelForCausalLM.from_pretrained(
        tiny_causal_lm_dir, dtype=torch.float32, attn_implementation=attention
    )
    prompts, completions = samples(model.config.vocab_size)
    pad = 0
    plain = build_policy_batch(prompts, completions, pad)
    packed = build_packed_policy_batch(prompts, completions, pad)
    assert packed.input_ids.shape[0] == 3  # one row per prompt
    assert packed.tokens == 40 + 9 + 23 + sum(len(c) for c in completions) < plain.tokens
    assert torch.equal(
        packed.completion_ids * packed.completion_mask.long(),
        plain.completion_ids * plain.completion_mask.long(),
    )
    assert torch.equal(packed.completion_mask, plain.completion_mask)

    weights = torch.randn(plain.completion_mask.shape, generator=torch.Generator().manual_seed(1))
    results = {}
    for name, batch in (("plain", plain), ("packed", packed)):
        model.zero_grad()
        logprobs, entropy = completion_logprobs(model, batch, temperature=0.7, with_entropy=True)
        (logprobs * weights * batch.completion_mask).sum().backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        results[name] = (logprobs * batch.completion_mask, entropy * batch.completion_mask, grads)
    for plain_value, packed_value in zip(results["plain"], results["packed"], strict=True):
        torch.testing.assert_close(packed_value, plain_value, rtol=1e-4, atol=1e-5)
    assert results["plain"][2].abs().sum() > 0


def test_a_group_split_across_micro_batches_packs_per_part(tiny_causal_lm_dir):
    prompts, completions = samples(1000)
    first, second = (
        build_packed_policy_batch(prompts[:2], completions[:2], 0),
        build_packed_policy_batch(prompts[2:], completions[2:], 0),
    )
    assert first.input_ids.shape[0] == 1 and second.input_ids.shape[0] == 3
    assert first.logit_rows.tolist() == [0, 0] and second.logit_rows.tolist() == [0, 1, 2, 2]
