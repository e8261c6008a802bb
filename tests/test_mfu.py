"""``benchmarks/mfu.py``: FLOP counts against a hand count and torch's own counter; a stable peak."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import Qwen3Config, Qwen3ForCausalLM, Qwen3ForSequenceClassification

from benchmarks import mfu


def tiny_config(**extra) -> Qwen3Config:
    """The tiny models' shape: h=128, i=384, 2 layers, 2 query heads and 1 KV head of size 64."""
    fields = {
        "vocab_size": 4096,
        "hidden_size": 128,
        "intermediate_size": 384,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 64,
    }
    return Qwen3Config(**{**fields, **extra})


def test_forward_flops_matches_a_hand_count():
    # per layer: q 128*128 + k,v 2*128*64 + o 128*128 + MLP 3*128*384 = 49,152 + 147,456 weights
    assert mfu.matmul_params_per_layer(tiny_config()) == 196_608
    per_token = 2 * 2 * 196_608  # 2 FLOPs per weight, 2 layers
    # causal pairs: 3*4/2 + 5*6/2 = 21; 4 * 2 heads * 64 FLOPs per pair, per layer
    attention = 21 * 4 * 2 * 64 * 2
    lm_head = 8 * 2 * 128 * 4096
    config = tiny_config()
    assert mfu.forward_flops(config, [3, 5], head="none") == 8 * per_token + attention
    assert mfu.forward_flops(config, [3, 5]) == 8 * per_token + attention + lm_head
    assert mfu.forward_flops(config, [3, 5], head="classifier") == 8 * per_token + attention + 8 * 2 * 128 * 2
    assert (
        mfu.forward_flops(config, [3, 5], head_positions=2) == 8 * per_token + attention + 2 * 2 * 128 * 4096
    )


def test_attention_counts_cached_context_and_sliding_windows():
    # 2 new tokens after 3 cached: queries 4 and 5 see 4 and 5 keys
    assert mfu.attended_pairs(2, 3) == 9
    assert mfu.attended_pairs(5) == 15
    # window 3: queries 1..5 see 1, 2, 3, 3, 3 keys; after 4 cached, queries 5, 6 see 3 each
    assert mfu.attended_pairs(5, 0, window=3) == 12
    assert mfu.attended_pairs(2, 4, window=3) == 6
    assert mfu.attended_pairs(3, 1, window=3) == 2 + 3 + 3
    brute = sum(min(k, 7) for k in range(11, 11 + 20))
    assert mfu.attended_pairs(20, 10, window=7) == brute

    config = tiny_config()
    weights = 2 * 2 * 196_608
    # decoding one token per sequence after 10 and 20 cached: 11 + 21 pairs, the LM head twice
    expected = 2 * weights + 32 * 4 * 2 * 64 * 2 + 2 * 2 * 128 * 4096
    assert mfu.decode_flops(config, [10, 20]) == expected
    # a prefix computed once, then each suffix on top of it, equals the whole sequence's count
    whole = mfu.forward_flops(config, [50], head="none")
    split = mfu.forward_flops(config, [30], head="none") + mfu.forward_flops(
        config, [20], past_lens=[30], head="none"
    )
    assert whole == split


def test_sliding_window_layers_are_counted_per_layer():
    config = tiny_config(use_sliding_window=True, sliding_window=4, max_window_layers=1)
    assert config.layer_types == ["full_attention", "sliding_attention"]
    pairs_full, pairs_window = 10 * 11 // 2, mfu.attended_pairs(10, 0, window=4)
    expected = 10 * 2 * 2 * 196_608 + (pairs_full + pairs_window) * 4 * 2 * 64
    assert mfu.forward_flops(config, [10], head="none") == expected


def test_weight_flops_equal_torchs_flop_counter_on_a_real_forward_pass():
    """torch counts every matmul the model runs; attention through SDPA is not counted on CPU."""
    torch.manual_seed(0)
    config = tiny_config()
    model = Qwen3ForCausalLM(config).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randint(0, 4096, (1, 37)))
    attention = mfu.attended_pairs(37) * 4 * 2 * 64 * 2
    assert counter.get_total_flops() == mfu.forward_flops(config, [37]) - attention

    # eager attention runs QK^T and PV as full 37x37 products (masked, not skipped): torch counts
    # the square; ours counts the causal half plus the diagonal
    eager = Qwen3ForSequenceClassification(tiny_config(num_labels=1, pad_token_id=0)).eval()
    eager.config._attn_implementation = "eager"
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        eager(torch.randint(1, 4096, (1, 37)))
    square = 37 * 37 * 4 * 2 * 64 * 2
    ours = mfu.forward_flops(eager.config, [37], head="classifier")
    assert counter.get_total_flops() == ours - attention + square


def test_head_kind_follows_the_saved_architecture():
    config = tiny_config(num_labels=1, architectures=["Qwen3ForSequenceClassification"])
    assert mfu.forward_flops(config, [4]) == mfu.forward_flops(config, [4], head="classifier")
    assert mfu.forward_flops(tiny_config(), [4]) == mfu.forward_flops(tiny_config(), [4], head="lm")


def test_unsupported_families_and_bad_arguments_are_clear_errors():
    from transformers import GPT2Config

    with pytest.raises(ValueError, match="model_type='gpt2'"):
        mfu.forward_flops(GPT2Config(), [4])
    with pytest.raises(ValueError, match="2 sequence lengths but 1 cache lengths"):
        mfu.forward_flops(tiny_config(), [4, 5], past_lens=[3])
    with pytest.raises(ValueError, match="head must be"):
        mfu.forward_flops(tiny_config(), [4], head="pooler")
    with pytest.raises(ValueError, match="peak must be positive"):
        mfu.mfu(1.0, 0.0)
    assert mfu.mfu(2.5e12, 1e13) == 0.25


def test_measured_peak_is_positive_and_stable_within_a_factor_of_three():
    """Two measurements in one process. The fastest burst counts, which keeps a neighbour's load
    on a shared 2-core CI machine from moving it much; a factor of 3 still allows for a busy one.
    One thread: with two, a neighbour taking one core for one measurement halves it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first = mfu.measure_matmul_peak("cpu", torch.float32, seconds=1.0, size=1024)
        second = mfu.measure_matmul_peak("cpu", "float32", seconds=1.0, size=1024)
    finally:
        torch.set_num_threads(threads)
    # any CPU of this century does more than 0.1 GFLOP/s in float32, none 100 TFLOP/s
    assert 1e8 < first < 1e14 and 1e8 < second < 1e14
    assert 1 / 3 < first / second < 3
    with pytest.raises(ValueError, match="unknown dtype"):
        mfu.measure_matmul_peak("cpu", "float33", seconds=0.1, size=8)
