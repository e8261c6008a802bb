"""lm-eval model types of ours. Importing this package registers them with lm-eval.

``lm_eval.models`` is imported first: lm-eval registers its built-in models (``hf``, ``vllm``, ...)
only when its registry is empty, so registering ours first would hide them.
"""

import lm_eval.models  # noqa: F401
