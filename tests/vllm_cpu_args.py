"""How the tests run a tiny causal LM through ``--model vllm`` on CPU: its ``--model_args``, and the
tasks and limit of the suite's one generative vLLM run (the ``vllm_generative_run`` fixture)."""

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


VLLM_GENERATIVE_TASKS = (
    "trbench_bfcl_think",
    "trbench_bon_no_think",
    "trbench_bon_no_think_knockout",
    "trbench_selfcorrect_think",
    "trbench_selfcorrect_oracle_think",
)
VLLM_GENERATIVE_LIMIT = 4
"""Documents per task: 2 TRBench-BFCL pairs, 4 Best-of-N problems, 4 self-correction items (of which
at least one candidate is wrong, so the oracle critic has something to send back)."""
