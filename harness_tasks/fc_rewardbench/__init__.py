"""FC-RewardBench (IBM, arXiv 2509.11963) as lm-eval tasks: pairwise judges, scalar RMs, pointwise."""
