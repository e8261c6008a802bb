"""Sampling settings and the one function that turns next-token logits into tokens and log-probs.

The log-probability returned for a sampled token is taken from the *tempered, unfiltered*
distribution ``log_softmax(logits / temperature)`` in float32, which is exactly what the GRPO
trainer's forward computes (TRL and verl do the same): so on the first optimisation step the policy
ratio is 1. Top-k / top-p only decide which tokens may be drawn. Greedy decoding (``temperature
== 0``) reports ``log_softmax(logits)``.

Drawing is inverse-CDF sampling (one uniform per row, ``searchsorted`` on the cumulative
probabilities): like gpt-fast's exponential race it needs no host synchronisation, but it draws
``B`` random numbers per step instead of ``B × V``. The uniforms come from a counter-based hash of
(seed, prompt, sample index, token index), so a completion does not depend on the batch it was
drawn in (:func:`counter_uniforms`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingParams:
    """How completions are drawn (vLLM's ``SamplingParams`` names where they exist)."""

    n: int = 1
    """Completions per prompt (GRPO's group size)."""
    max_new_tokens: int = 256
    """Cap on completion length; a completion that reaches it finishes with reason ``"length"``."""
    temperature: float = 1.0
    """0 = greedy (argmax); otherwise logits are divided by it before sampling."""
    top_p: float = 1.0
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches ``top_p`` (1 = off)."""
    top_k: int = 0
    """Keep the ``top_k`` most likely tokens (0 = off)."""
    stop: tuple[str, ...] = ()
    """Stop strings: a completion ends with the token that completes one (the string is kept)."""
    stop_token_ids: tuple[int, ...] = ()
    """Extra end-of-sequence token ids, besides the tokenizer's / generation config's EOS."""
    seed: int | None = None
    """Base seed of the counter-based sampler; ``None`` draws one from torch's global RNG."""
    logprobs: bool = True
    """Return each completion token's log-probability (a log-softmax over the vocabulary per
    step). GRPO's trainer turns it off: it recomputes them with its training forward."""

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be >= 1, found {self.n}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, found {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, found {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], found {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, found {self.top_k}")
        if isinstance(self.stop, str):  # a single string given where a tuple was expected
            object.__setattr__(self, "stop", (self.stop,))
        if any(not s for s in self.stop):
            raise ValueError("stop strings must be non-empty")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


def _filter_top_k_top_p(scaled: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Set the logits of tokens outside top-k / the nucleus to -inf (at least one token survives)."""
    if top_k and top_k < scaled.shape[-1]:
        pivot = torch.topk(scaled, top_k, dim=-1).values[..., -1:]
        scaled = scaled.masked_fill(scaled < pivot, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(scaled, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # drop a token when the tokens ranked before it already reach top_p
        drop_sorted = (probs.cumsum(-1) - probs) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        scaled = scaled.masked_fill(drop, float("-inf"))
    return scaled


_MASK32 = 0xFFFFFFFF


def mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (xor-shift-multiply) on int64 tensors holding values in [0, 2^32).

    Multipliers are below 2^31, so every product stays below 2^63: no signed overflow.
    """
    x = x & _MASK32
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x6B43A9B5) & _MASK32
    return x ^ (x >> 16)


def request_key(seed: int, prompt_seed: int, sample_index: int) -> int:
    """The 32-bit random stream id of one request (a prompt's ``sample_index``-th completion)."""
    value = torch.tensor([seed & _MASK32], dtype=torch.long)
    value = mix32(value ^ mix32(torch.tensor([prompt_seed & _MASK32])))
    return int(mix32(value ^ mix32(torch.tensor([sample_index + 0x3C6EF372]))))


def counter_uniforms(keys: torch.Tensor, counters: torch.Tensor) -> torch.Tensor:
    """``u[b] in [0, 1)``: a pure function of (request key, token index); 24-bit resolution.

    Counter-based randomness makes a completion independent of which slot, batch, wave or
    process it was drawn in: the same seed gives the same samples with 1 or 2 processes, with or
    without refills, which is what lets resumed and distributed runs match a single run.
    """
    h = mix32(keys + mix32(counters + 0x2545F491))
    h = mix32(h ^ keys)
    return (h >> 8).to(torch.float32) / float(1 << 24)


def _inverse_cdf_draw(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """One draw per row: the first token whose cumulative probability exceeds ``u · total``.

    Only ``B`` uniforms per step (an exponential race needs ``B × V``, which dominates a small
    model's step on CPU). ``right=True`` never lands on a zero-probability (filtered) token.
    """
    cdf = probs.cumsum(dim=-1)
    u = uniforms.to(cdf.dtype)[:, None]
    tokens = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).squeeze(-1)
    return tokens.clamp_(max=probs.shape[-1] - 1)


def sample_tokens(
    logits: torch.Tensor,
    params: SamplingParams,
    uniforms: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``logits [B, V]`` -> ``(tokens [B] int64, logprobs [B] float32 or None when
    ``params.logprobs`` is off)``; no host synchronisation.

    ``uniforms [B]`` in [0, 1) drive the draws (see :func:`counter_uniforms`); ``None`` draws them
    from torch's global RNG.
    """
    logits = logits.float()
    scaled = logits if params.greedy else logits / params.temperature
    if params.greedy:
        tokens = logits.argmax(dim=-1)
    else:
        probs = torch.softmax(_filter_top_k_top_p(scaled, params.top_k, params.top_p), dim=-1)
        if uniforms is None:
            uniforms = torch.rand(probs.shape[0], device=probs.device)
        tokens = _inverse_cdf_draw(probs, uniforms)
    if not params.logprobs:
        return tokens, None
    return tokens, torch.log_softmax(scaled, dim=-1).gather(-1, tokens[:, None]).squeeze(-1)
