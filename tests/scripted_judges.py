"""Judges with a known answering rule, registered as real lm-eval models.

They read the ground-truth position from the request's document, which no real model can see, so
the metrics they earn are known exactly: W-Avg 1.0 for the always-right judge, 0.0 for a judge
that always answers 1 (every pair has an order whose answer is 2), about 0.25 for a fair coin.
"""

from __future__ import annotations

import random

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

import harness_tasks.models  # noqa: F401  (built-in lm-eval models stay registered)


@register_model("scripted-judge")
class ScriptedJudge(LM):
    def __init__(self, strategy: str = "correct", seed: int = 0, **_: object) -> None:
        super().__init__()
        if strategy not in ("correct", "always_one", "coin", "soft_correct", "decoy"):
            raise ValueError(f"unknown strategy {strategy!r}")
        self.strategy = strategy
        self.rng = random.Random(seed)

    def _answer(self, doc: dict) -> str:
        truth = doc["reward_model"]["ground_truth"]
        if self.strategy == "correct":
            return f"<evaluation>\nchecked\n</evaluation>\n\n<choice>\n{truth}\n</choice>"
        if self.strategy == "soft_correct":
            return f"<choice>{truth}</choice>"
        if self.strategy == "decoy":  # right answer only inside the reasoning: must score as invalid
            return f"<think>\n<choice>\n{truth}\n</choice>\n</think>\nI am not sure."
        if self.strategy == "always_one":
            return "<choice>\n1\n</choice>"
        return f"<choice>\n{self.rng.choice('12')}\n</choice>"

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        return [self._answer(request.doc) for request in requests]

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("scripted judges only generate")

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("scripted judges only generate")
