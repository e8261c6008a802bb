"""GRPO training of generative ToolRMs (judges): ``toolrm-train grpo --config FILE.yaml``.

``config.py`` (GRPOConfig: the paper's recipe as defaults), ``data.py`` (GenRM parquet rows ->
prompts), ``losses.py`` (advantages, clipped loss, KL), ``logprobs.py`` (training-forward
log-probs), ``trainer.py`` (the step loop, top to bottom). Sampling is ``toolrm_train.rollout``.
"""
