"""lm-eval model types of ours. Importing this package registers them with lm-eval.

``lm_eval.models`` is imported first (``lm_eval_bridge.load_builtin_models``): lm-eval registers
its built-in models (``hf``, ``vllm``, ...) only when its registry is empty, so registering ours
first would hide them.

- ``hf-rm`` (:mod:`.hf_reward_model`): scalar reward models through transformers, token-budget batching;
- ``vllm-rm`` (:mod:`.vllm_reward_model`): the same through vLLM's pooling runner (vLLM imported lazily).

Without lm-eval installed (a bare GPU machine running ``benchmarks/``) nothing is registered, and
the scoring modules (``rm_scoring``, ``rm_rendering``, ``rm_shared_prefix``) still import.
"""

from importlib.util import find_spec


if find_spec("lm_eval") is not None:  # when installed but broken, its import error shows
    from harness_tasks.lm_eval_bridge import load_builtin_models

    load_builtin_models()
    from harness_tasks.models import hf_reward_model, vllm_reward_model  # noqa: F401  (register the RM types)
