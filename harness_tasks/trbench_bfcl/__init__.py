"""TRBench-BFCL, the generative judge task: its loader (:mod:`.dataset`), its pairwise metrics
(:mod:`.pairwise_metrics`, shared with the scalar task ``trbench_bfcl_disc``) and lm-eval hooks
(``utils.py``, loaded by lm-eval by path)."""
