"""The ``--model_args`` with which the tests run a tiny causal LM through ``--model vllm`` on CPU."""

from __future__ import annotations

from pathlib import Path


def vllm_cpu_model_args(model_dir: Path) -> str:
    """Eager mode skips vLLM's torch.compile warm-up (10-40 s a test on CPU); the compiled default
    still runs in ``genrm_overhead.py``'s smoke test. The KV cache is sized by
    ``VLLM_CPU_KVCACHE_SPACE`` (``conftest.py``)."""
    return (
        f"pretrained={model_dir},dtype=float32,max_model_len=16384,gpu_memory_utilization=0.3,"
        "seed=1234,enforce_eager=True"
    )
