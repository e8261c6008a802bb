"""Test-only: make this Python look like the bare GPU machine ``benchmarks/gpu_check.sh`` runs on.

That machine has PyTorch and transformers but none of lm-eval, vLLM or datasets (bfcl-eval and
jsonschema are missing too, but travel as wheels, ``benchmarks/gpu_wheels.sh``, so they are left
importable here). Put this folder first on PYTHONPATH and Python imports this module at start-up; a
``None`` in ``sys.modules`` makes ``import X`` raise ModuleNotFoundError and
``importlib.util.find_spec(X)`` answer None, exactly as for a package that is not installed.
"""

import sys


ABSENT_ON_THE_GPU_MACHINE = ("lm_eval", "vllm", "datasets")

for name in ABSENT_ON_THE_GPU_MACHINE:
    sys.modules[name] = None
