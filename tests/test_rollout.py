"""The rollout engine against transformers' own generate and a plain training forward (CPU, float32)."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from toolrm_train.grpo.logprobs import build_policy_batch, completion_logprobs
from toolrm_train.rollout import EngineConfig, RolloutEngine, SamplingParams, StopChecker


TEXTS = [
    "Which tool should be called for the weather in Paris?",
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Berlin"}}\n</tool_call>',
    "ok",
    "The user asked to book a flight; the assistant answered with a text reply instead",
    "<choice>\n1\n</choice>",
    "Response 1 is better because",
    "Compare the two responses.",
]


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_causal_lm_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_causal_lm_dir, dtype=torch.float32)
    return model, tokenizer


@pytest.fixture(scope="module")
def prompts(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    return [tokenizer(text)["input_ids"] for text in TEXTS]


def hf_greedy(model, tokenizer, prompts, max_new_tokens):
    """transformers' generate on the left-padded batch (its own padding and position handling)."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), tokenizer.pad_token_id)
    mask = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt)
        mask[row, width - len(prompt) :] = 1
    out = model.generate(
        input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    completions = []
    for row in out[:, width:].tolist():
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id) + 1]
        completions.append(row)
    return completions


@pytest.mark.parametrize(
    "config",
    [
        EngineConfig(max_batch_size=16),  # everything in one wave
        EngineConfig(max_batch_size=3, attend_written_only=False),  # 3 slots, full-buffer (graph) layout
    ],
    ids=["one-wave", "waves-full-buffer"],
)
def test_greedy_equals_transformers_generate(model_and_tokenizer, prompts, config):
    model, tokenizer = model_and_tokenizer
    engine = RolloutEngine(model, tokenizer, config)
    results = engine.generate(prompts, SamplingParams(n=1, max_new_tokens=24, temperature=0.0))
    expected = hf_greedy(model, tokenizer, prompts, 24)
    assert [r[0].token_ids for r in results] == expected
    assert {len(p) for p in prompts} != {len(prompts[0])}  # mixed lengths, so padding was exercised


def test_refills_and_compactions_keep_greedy_exact(model_and_tokenizer, prompts):
    """An extra EOS id ends rows at different steps, so slots are refilled while others still
    decode; late refills need a compaction (all rows shift left)."""
    model, tokenizer = model_and_tokenizer
    free = hf_greedy(model, tokenizer, prompts, 24)
    config = EngineConfig(max_batch_size=3, prefill_batch_size=2, cache_len_multiple=1)
    engine = RolloutEngine(model, tokenizer, config)

    # candidate extra-EOS tokens, those ending rows at the most varied depths first
    def cuts(token: int) -> list[int]:
        return [row.index(token) + 1 if token in row else len(row) for row in free]

    candidates = sorted({t for row in free for t in row}, key=lambda t: (-len(set(cuts(t))), t))
    compactions = 0
    for stop_id in candidates[:4]:
        expected = [row[:cut] for row, cut in zip(free, cuts(stop_id), strict=True)]
        params = SamplingParams(n=2, max_new_tokens=24, temperature=0.0, stop_token_ids=(stop_id,))
        results = engine.generate(prompts, params)
        assert [[c.token_ids for c in r] for r in results] == [[row, row] for row in expected]
        assert engine.last_stats.refills == 2 * len(prompts)
        compactions += engine.last_stats.compactions
    assert compactions > 0


def test_logprobs_equal_training_forward(model_and_tokenizer, prompts):
    model, tokenizer = model_and_tokenizer
    engine = RolloutEngine(model, tokenizer, EngineConfig(max_batch_size=5))
    params = SamplingParams(n=3, max_new_tokens=20, temperature=0.7, top_k=50, seed=3)
    results = engine.generate(prompts, params)
    flat = [c for group in results for c in group]
    batch = build_policy_batch(
        [prompts[c.prompt_index] for c in flat], [c.token_ids for c in flat], tokenizer.pad_token_id
    )
    with torch.no_grad():
        reference, _ = completion_logprobs(model, batch, temperature=0.7)
    sampled = torch.zeros_like(reference)
    for row, completion in enumerate(flat):
        sampled[row, : len(completion.logprobs)] = torch.tensor(completion.logprobs)
    difference = ((reference - sampled) * batch.completion_mask).abs().max().item()
    assert difference < 1e-4
    assert batch.completion_mask.sum() > 50  # non-trivial completions were compared


def test_stop_string_ends_completion_and_is_kept(model_and_tokenizer, prompts):
    model, tokenizer = model_and_tokenizer
    engine = RolloutEngine(model, tokenizer, EngineConfig(max_batch_size=4))
    free = engine.generate(prompts[:3], SamplingParams(n=1, max_new_tokens=30, temperature=0.0))
    text = free[0][0].text
    stop = text[6:9]  # a string the greedy completion is known to produce
    assert len(stop) == 3
    stopped = engine.generate(
        prompts[:3], SamplingParams(n=1, max_new_tokens=30, temperature=0.0, stop=(stop,))
    )
    first = stopped[0][0]
    assert first.finish_reason == "stop"
    assert stop in first.text and stop not in tokenizer.decode(first.token_ids[:-1])
    assert first.token_ids == free[0][0].token_ids[: len(first.token_ids)]
    assert len(first.logprobs) == len(first.token_ids)


def test_eos_token_ends_completion_and_is_excluded_from_text(model_and_tokenizer, prompts):
    model, tokenizer = model_and_tokenizer
    engine = RolloutEngine(model, tokenizer, EngineConfig(max_batch_size=4))
    free = engine.generate(prompts[:1], SamplingParams(n=1, max_new_tokens=12, temperature=0.0))[0][0]
    eos = free.token_ids[4]  # pretend the fifth greedy token is an end-of-sequence token
    ended = engine.generate(
        prompts[:1], SamplingParams(n=1, max_new_tokens=12, temperature=0.0, stop_token_ids=(eos,))
    )[0][0]
    cut = free.token_ids.index(eos) + 1
    assert ended.finish_reason == "eos" and ended.token_ids == free.token_ids[:cut]
    assert ended.text == tokenizer.decode(free.token_ids[: cut - 1])


def test_continuous_batching_returns_every_sample_once(model_and_tokenizer, prompts):
    model, tokenizer = model_and_tokenizer
    params = SamplingParams(n=3, max_new_tokens=16, temperature=1.0, seed=11, stop=("e",))
    engine = RolloutEngine(model, tokenizer, EngineConfig(max_batch_size=4, prefill_batch_size=2))
    results = engine.generate(prompts, params)
    assert [[(c.prompt_index, c.sample_index) for c in row] for row in results] == [
        [(p, s) for s in range(3)] for p in range(len(prompts))
    ]
    stats = engine.last_stats
    assert stats.completions == stats.refills == 3 * len(prompts)
    assert stats.completion_tokens == sum(len(c.token_ids) for row in results for c in row)
    reasons = {c.finish_reason for row in results for c in row}
    assert "stop" in reasons  # completions of different lengths, so slots were refilled mid-run
    # greedy decoding does not depend on which slot, wave or refill a request lands in
    greedy = SamplingParams(n=2, max_new_tokens=16, temperature=0.0)
    plain = RolloutEngine(model, tokenizer, EngineConfig(max_batch_size=64, continuous_batching=False))
    assert [[c.token_ids for c in row] for row in engine.generate(prompts, greedy)] == [
        [c.token_ids for c in row] for row in plain.generate(prompts, greedy)
    ]


def test_seeded_sampling_is_repeatable(model_and_tokenizer, prompts):
    model, tokenizer = model_and_tokenizer
    engine = RolloutEngine(model, tokenizer, EngineConfig(max_batch_size=4))

    def draw(seed: int) -> list[list[int]]:
        params = SamplingParams(n=2, max_new_tokens=12, temperature=1.0, top_p=0.9, seed=seed)
        return [c.token_ids for row in engine.generate(prompts, params) for c in row]

    first = draw(5)
    assert draw(5) == first
    assert draw(6) != first
    samples_of_prompt_0 = first[:2]
    assert samples_of_prompt_0[0] != samples_of_prompt_0[1]  # the n samples are distinct draws


def test_without_logprobs_the_same_draws_come_back(model_and_tokenizer, prompts):
    """GRPO's trainer asks for no log-probabilities (it recomputes them): the draws must not change."""
    model, tokenizer = model_and_tokenizer
    engine = RolloutEngine(model, tokenizer, EngineConfig(max_batch_size=4))
    base = dict(n=2, max_new_tokens=12, temperature=1.0, top_p=0.9, seed=5)
    with_logprobs = [c for row in engine.generate(prompts, SamplingParams(**base)) for c in row]
    without = [c for row in engine.generate(prompts, SamplingParams(**base, logprobs=False)) for c in row]
    assert [c.token_ids for c in without] == [c.token_ids for c in with_logprobs]
    assert [c.finish_reason for c in without] == [c.finish_reason for c in with_logprobs]
    assert all(c.logprobs == [] for c in without) and all(c.logprobs for c in with_logprobs)


def test_stop_checker_finds_a_stop_string_split_across_tokens(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    tokens = tokenizer("<evaluation>ok</evaluation>\n<choice>\n2\n</choice> trailing text")["input_ids"]
    checker = StopChecker(tokenizer, [tokenizer.eos_token_id], ["</choice>"], max_new_tokens=1000)
    found = None
    for n in range(1, len(tokens) + 1):  # tokens arrive one at a time
        found = checker.check(tokens[:n], 1)
        if found:
            break
    assert found is not None and found[1] == "stop"
    kept = tokenizer.decode(tokens[: found[0]])
    assert kept.endswith("</choice>") or kept.rstrip().endswith("</choice>")
    assert "</choice>" not in tokenizer.decode(tokens[: found[0] - 1])
    # several tokens at once (sync_every > 1) give the same cut
    assert checker.check(tokens, len(tokens)) == found


def test_samples_do_not_depend_on_the_batch(model_and_tokenizer, prompts):
    """Counter-based randomness: a completion is a function of (seed, prompt seed, sample index),
    so batch size, refills and the order of prompts (what a process gets) do not change it."""
    model, tokenizer = model_and_tokenizer
    params = SamplingParams(n=2, max_new_tokens=10, temperature=1.0, seed=7)
    wide = RolloutEngine(model, tokenizer, EngineConfig(max_batch_size=16)).generate(prompts, params)
    narrow_engine = RolloutEngine(model, tokenizer, EngineConfig(max_batch_size=3, prefill_batch_size=1))
    reversed_order = narrow_engine.generate(prompts[::-1], params, prompt_seeds=range(len(prompts))[::-1])
    assert [[c.token_ids for c in row] for row in wide] == [
        [c.token_ids for c in row] for row in reversed_order[::-1]
    ]
