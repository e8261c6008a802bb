"""Model FLOPs utilisation (MFU): a model's useful FLOP/s against the device's measured matmul peak.

A speed ratio against a slow baseline says how much faster we are, not how far from the hardware's
limit. MFU does: the matrix-multiply FLOPs the model needs for the tokens a run processed, divided
by the run's wall time, divided by the peak FLOP/s of large matrix products measured in the same
process, on the same device and in the same dtype (:func:`measure_matmul_peak`), not a datasheet
figure. A run at 50% MFU does half the arithmetic the chip demonstrably can.

The FLOP count (:func:`forward_flops`), for a decoder of ``L`` layers, width ``h``, ``n_q`` query
and ``n_kv`` key/value heads of size ``d``, MLP width ``i`` and vocabulary ``V``:

* **Weight matmuls**, 2 FLOPs (multiply + add) per weight per token::

      per layer   P = h·n_q·d  +  2·h·n_kv·d  +  n_q·d·h  +  3·h·i
                      (q_proj)    (k, v_proj)    (o_proj)   (gate, up, down: gated MLP)
      per token   2·L·P

* **Attention** (QKᵀ and the probabilities times V), 4·n_q·d FLOPs per layer per (query, key)
  pair actually attended. A sequence of ``n`` new tokens on top of ``p`` cached ones (``p`` = 0
  for a plain forward pass) under causal attention attends ``Σ_{k=p+1}^{p+n} min(k, W)`` pairs,
  ``W`` the sliding window of a sliding-attention layer (unbounded otherwise); for ``p = 0`` and
  full attention that is ``n(n+1)/2``. Causal pairs only: the masked half of the score matrix is
  not useful work, so this is the conservative count (FlashAttention's convention; PaLM's
  ``6N + 12·L·h·T`` per token counts the full square). Summed over the actual sequence lengths,
  never a padded or average length, so padding a batch counts as waste, not work.

* **Output head**: ``2·h·V`` per position whose logits are computed for a language-model head
  (every position in a plain Hugging Face forward pass, one per sequence in a decoding step or
  with ``logits_to_keep=1``); ``2·h·num_labels`` per position for a sequence-classification head
  (transformers applies it to every position, then pools one).

Left out: embeddings (a lookup), norms, rotary embeddings, activations, softmax, residual adds —
elementwise work, well under 1% of the total at any real size. Only the forward pass; a training
step's backward pass costs twice its forward, so a trainer multiplies by 3 (by 4 with activation
checkpointing, which re-runs the forward; MFU conventionally still counts 3).

The peak (:func:`measure_matmul_peak`): square ``size × size`` products of random matrices (random
data: zeros run faster on a GPU and would overstate the peak), timed in bursts for a few seconds
after a warm-up; the fastest burst counts, so a neighbour's load on a shared machine lowers the
peak less than it would a mean. On one H200 in bf16 an 8192³ product runs at about 770–800
TFLOP/s on random data, about 80% of the datasheet's 989.

    python -m benchmarks.mfu --device cuda --dtype bfloat16     # print the measured peak
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any, Literal

import torch


HeadKind = Literal["lm", "classifier", "none"]

GATED_MLP_MODEL_TYPES = frozenset({"qwen3", "qwen2", "llama", "mistral"})
"""Dense decoders whose MLP is gated (gate, up, down: three h×i matrices), as the count assumes."""

DEFAULT_PEAK_SECONDS = {"cuda": 3.0, "cpu": 2.0}
DEFAULT_PEAK_SIZE = {"cuda": 8192, "cpu": 2048}
"""Large enough to reach the device's matmul rate (an 8192³ bf16 product keeps an H200 busy for
1.4 ms, far past launch overhead), small enough for a few seconds to hold many bursts."""


def _text_config(config: Any) -> Any:
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def _shape(config: Any) -> dict[str, Any]:
    """The dimensions the count needs, with transformers' defaults; a clear error for other families."""
    config = _text_config(config)
    model_type = getattr(config, "model_type", None)
    if model_type not in GATED_MLP_MODEL_TYPES:
        raise ValueError(
            "forward_flops counts dense decoders with a gated MLP "
            f"({', '.join(sorted(GATED_MLP_MODEL_TYPES))}); found model_type={model_type!r}"
        )
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    layers = config.num_hidden_layers
    layer_types = getattr(config, "layer_types", None) or ["full_attention"] * layers
    window = getattr(config, "sliding_window", None)
    windows = [window if kind == "sliding_attention" and window else None for kind in layer_types]
    return {
        "hidden": config.hidden_size,
        "intermediate": config.intermediate_size,
        "layers": layers,
        "q_heads": heads,
        "kv_heads": getattr(config, "num_key_value_heads", None) or heads,
        "head_dim": head_dim,
        "vocab": config.vocab_size,
        "num_labels": getattr(config, "num_labels", 1),
        "windows": windows,
    }


def matmul_params_per_layer(config: Any) -> int:
    """Weights one token is multiplied with in one decoder layer (attention projections + MLP)."""
    s = _shape(config)
    h, q, kv = s["hidden"], s["q_heads"] * s["head_dim"], s["kv_heads"] * s["head_dim"]
    return h * q + 2 * h * kv + q * h + 3 * h * s["intermediate"]


def attended_pairs(new_tokens: int, past_tokens: int = 0, window: int | None = None) -> int:
    """(query, key) pairs of ``new_tokens`` queries after ``past_tokens`` cached keys, causally.

    Query ``k`` (1-based, counting the cache) sees ``min(k, window)`` keys, itself included.
    """
    if new_tokens < 0 or past_tokens < 0:
        raise ValueError(f"token counts must be non-negative, found new={new_tokens}, past={past_tokens}")
    first, last = past_tokens + 1, past_tokens + new_tokens

    def triangle(k: int) -> int:  # 1 + 2 + ... + k
        return k * (k + 1) // 2

    if window is None or last <= window:
        return triangle(last) - triangle(first - 1)
    below = max(0, min(last, window) - first + 1)  # queries that see all keys before them
    below_sum = triangle(first - 1 + below) - triangle(first - 1) if below else 0
    return below_sum + (new_tokens - below) * window


def forward_flops(
    config: Any,
    seq_lens: Sequence[int],
    *,
    past_lens: Sequence[int] | None = None,
    head: HeadKind | None = None,
    head_positions: int | None = None,
) -> float:
    """Matmul FLOPs of one forward pass over sequences of ``seq_lens`` new tokens (formula above).

    ``past_lens[i]``: tokens already in sequence ``i``'s key/value cache (its new tokens attend to
    them too); none by default. ``head``: ``"lm"``, ``"classifier"`` or ``"none"``; by default
    ``"classifier"`` when ``config.architectures`` names a ``...ForSequenceClassification``, else
    ``"lm"`` (a config built in code has no ``architectures``: pass ``head`` then).
    ``head_positions``: positions the LM head is applied to, every new token by default.
    """
    s = _shape(config)
    if past_lens is None:
        past_lens = [0] * len(seq_lens)
    if len(past_lens) != len(seq_lens):
        raise ValueError(f"{len(seq_lens)} sequence lengths but {len(past_lens)} cache lengths")
    if head is None:
        architectures = (
            getattr(_text_config(config), "architectures", None)
            or getattr(config, "architectures", None)
            or []
        )
        head = "classifier" if any("SequenceClassification" in a for a in architectures) else "lm"
    tokens = sum(seq_lens)
    weights = 2.0 * s["layers"] * matmul_params_per_layer(config) * tokens
    pair_flops = 4.0 * s["q_heads"] * s["head_dim"]
    attention = sum(
        pair_flops * attended_pairs(n, p, window)
        for window in s["windows"]
        for n, p in zip(seq_lens, past_lens, strict=True)
    )
    if head == "lm":
        positions = tokens if head_positions is None else head_positions
        output = 2.0 * s["hidden"] * s["vocab"] * positions
    elif head == "classifier":
        output = 2.0 * s["hidden"] * s["num_labels"] * tokens
    elif head == "none":
        output = 0.0
    else:
        raise ValueError(f"head must be 'lm', 'classifier' or 'none', found {head!r}")
    return weights + attention + output


def decode_flops(config: Any, context_lens: Sequence[int], *, head: HeadKind = "lm") -> float:
    """FLOPs of one decoding step: one new token per sequence on top of ``context_lens`` cached ones.

    Summed over the steps of a generation (``context_lens`` growing by one each step) this is the
    generation's model FLOPs; the prompt's prefill is :func:`forward_flops` with
    ``head_positions`` = number of sequences.
    """
    return forward_flops(
        config, [1] * len(context_lens), past_lens=context_lens, head=head, head_positions=len(context_lens)
    )


def _resolve(device: str | torch.device, dtype: str | torch.dtype) -> tuple[torch.device, torch.dtype]:
    device = torch.device(device)
    if isinstance(dtype, str):
        resolved = getattr(torch, dtype, None)
        if not isinstance(resolved, torch.dtype):
            raise ValueError(f"unknown dtype {dtype!r}; expected e.g. float32, bfloat16, float16")
        dtype = resolved
    return device, dtype


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_matmul_peak(
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype = torch.float32,
    seconds: float | None = None,
    size: int | None = None,
) -> float:
    """FLOP/s of the fastest burst of ``size³`` matrix products over about ``seconds`` (see above).

    Defaults: 8192 and 3 s on CUDA, 2048 and 2 s on a CPU (with torch's current thread count).
    """
    device, dtype = _resolve(device, dtype)
    seconds = DEFAULT_PEAK_SECONDS.get(device.type, 2.0) if seconds is None else seconds
    size = size or DEFAULT_PEAK_SIZE.get(device.type, 1024)
    generator = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    flops_per_product = 2.0 * size**3

    def burst(products: int) -> float:
        _synchronize(device)
        started = time.perf_counter()
        for _ in range(products):
            torch.matmul(a, b, out=out)
        _synchronize(device)
        return time.perf_counter() - started

    burst(2)  # warm-up: kernel selection, clocks ramping up, thread pool start
    one = burst(1)
    # bursts of ~0.1 s: long enough for timer and launch overhead to vanish, short enough for many
    products = max(1, min(1000, round(0.1 / max(one, 1e-9))))
    best = flops_per_product / one
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        best = max(best, flops_per_product * products / burst(products))
    return best


def mfu(achieved_flops_per_s: float, peak: float) -> float:
    """Model FLOPs utilisation: achieved model FLOP/s over the measured peak (0.5 = 50%)."""
    if peak <= 0:
        raise ValueError(f"the peak must be positive, found {peak}")
    return achieved_flops_per_s / peak


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Measure the matmul peak of a device (FLOP/s).")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", help="default: bfloat16 on CUDA, float32 on a CPU")
    parser.add_argument("--seconds", type=float, help="measuring time (default 3 on CUDA, 2 on a CPU)")
    parser.add_argument("--size", type=int, help="matrix size (default 8192 on CUDA, 2048 on a CPU)")
    args = parser.parse_args(argv)
    dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    peak = measure_matmul_peak(args.device, dtype, args.seconds, args.size)
    print(f"matmul peak {args.device} {dtype}: {peak / 1e12:.3f} TFLOP/s")


if __name__ == "__main__":
    main()
