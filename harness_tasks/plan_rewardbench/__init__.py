"""Plan-RewardBench (arXiv 2604.08178) as lm-eval tasks: trajectory-level pairwise judges and scalar RMs."""
