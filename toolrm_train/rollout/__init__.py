"""Our rollout engine: batched, continuously refilled sampling over a static KV cache.

``RolloutEngine(model, tokenizer, EngineConfig(...)).generate(prompt_token_ids, SamplingParams(n=8))``
returns, per prompt, ``n`` :class:`Completion` objects (token ids, per-token log-probs, finish
reason, text). See ``engine.py`` for the design and ``benchmarks/rollout.py`` for its speed.
"""

from toolrm_train.rollout.engine import Completion, EngineConfig, RolloutEngine, RolloutStats
from toolrm_train.rollout.sampling import SamplingParams, sample_tokens
from toolrm_train.rollout.stopping import FinishReason, StopChecker


__all__ = [
    "Completion",
    "EngineConfig",
    "FinishReason",
    "RolloutEngine",
    "RolloutStats",
    "SamplingParams",
    "StopChecker",
    "sample_tokens",
]
