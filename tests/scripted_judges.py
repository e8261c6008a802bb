"""Judges with a known answering rule, registered as real lm-eval models.

``scripted-judge`` answers the pairwise TRBench-BFCL tasks, ``scripted-bon-judge`` the generative
Best-of-N tasks. They read the ground-truth position from the request's document, which no real
model can see, so the metrics they earn are known exactly: W-Avg 1.0 for the always-right judge,
0.0 for a judge that always answers 1 (every pair has an order whose answer is 2), about 0.25 for a
fair coin.
"""

from __future__ import annotations

import json
import os
import random
import time

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

import harness_tasks.models  # noqa: F401  (built-in lm-eval models stay registered)


TRICKY_SHAPES = (
    "<evaluation>\nok\n</evaluation>\n\n<choice>\n{a}\n</choice>",
    "<choice>{a}</choice>",
    "<think>\nMaybe <choice>\n{d}\n</choice>?\n</think>\n\n<choice>\n{a}\n</choice>",
    "<think>\nI answer <choice>\n{a}\n</choice>\n</think>\n\nNo answer.",
    "reasoning <choice>\n{d}\n</choice>\n</think>\n<choice>\n{a}\n</choice>",
    "<think>\nstill thinking <choice>\n{a}\n</choice>",
    "<choice>\nundecided\n</choice> so <choice>{a}</choice>",
    "<choice>{d}</choice> final:\n<choice>\n{a}\n</choice>",
    "<choice>\r\n{a}\r\n</choice>",
    "<think>r</think>\n<evaluation>Never emit <think> tags.</evaluation>\n<choice>\n{a}\n</choice>",
    "<think>r</think>\n<choice>\n{a}\n</choice>\nThe closing tag is </think>.",
    "<think>maybe <choice>{d}</choice></think><choice>{a}</choice>",
    "<choice>\n<choice>\n{a}\n</choice>\n</choice>",
    "<think>\n<choice>\nundecided\n</choice>\n</think>\n<choice>\n{a}\n</choice>",
)
"""Output shapes on which the reference and final-answer parses can differ; ``{a}`` is the final
answer, ``{d}`` a decoy."""


@register_model("scripted-judge")
class ScriptedJudge(LM):
    """``tricky``: one of :data:`TRICKY_SHAPES` per document, chosen and filled from a generator seeded
    by the document (the same output on every run); the final answer is right 80% of the time.
    ``delay`` (seconds per generation) and ``log_path`` (one JSON line per generation made) let a
    test kill a run midway and count generations; every result goes through ``cache_hook`` as
    lm-eval's own models do."""

    def __init__(
        self, strategy: str = "correct", seed: int = 0, delay: float = 0.0, log_path: str = "", **_: object
    ) -> None:
        super().__init__()
        if strategy not in ("correct", "always_one", "coin", "soft_correct", "decoy", "tricky"):
            raise ValueError(f"unknown strategy {strategy!r}")
        self.strategy = strategy
        self.seed = seed
        self.rng = random.Random(seed)
        self.delay = float(delay)
        self.log_path = log_path

    def _answer(self, doc: dict) -> str:
        truth = doc["reward_model"]["ground_truth"]
        if self.strategy == "tricky":
            rng = random.Random(f"{self.seed}-{doc['pair_id']}-{truth}")
            shape = rng.choice(TRICKY_SHAPES)
            wrong = "2" if truth == "1" else "1"
            return shape.format(a=truth if rng.random() < 0.8 else wrong, d=rng.choice("12"))
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
        outputs = []
        for request in requests:
            output = self._answer(request.doc)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as log:
                    doc = request.doc
                    log.write(json.dumps([doc["pair_id"], doc["reward_model"]["ground_truth"]]) + "\n")
                    log.flush()
                    os.fsync(log.fileno())
            self.cache_hook.add_partial("generate_until", request.args, output)
            outputs.append(output)
            time.sleep(self.delay)  # after reporting, so a kill lands between generations
        return outputs

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("scripted judges only generate")

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("scripted judges only generate")


@register_model("scripted-bon-judge")
class ScriptedBonJudge(LM):
    """Reads the candidates' correctness from the request's document, which no real judge sees.

    ``oracle``: the correct candidate with the lowest index in the set (so its picks do not depend
    on the display order); ``always_first``: position 1; ``uniform``: a seeded uniform choice;
    ``garbage``: no ``<choice>`` at all; ``tiring``: the oracle's pick the first ``right_times``
    times it is sent a prompt, then the wrong candidate with the lowest index (the oracle's pick
    when none is wrong): a judge whose trials differ by repeat, seen only through the prompts it is
    sent. ``delay`` and ``log_path`` as for :class:`ScriptedJudge` (one JSON line per generation:
    the item and who was shown in which order).
    """

    def __init__(
        self,
        strategy: str = "oracle",
        seed: int = 0,
        delay: float = 0.0,
        log_path: str = "",
        right_times: int = 2,
        **_: object,
    ) -> None:
        super().__init__()
        self.strategy = strategy
        self.rng = random.Random(seed)
        self.calls = 0
        self.delay = float(delay)
        self.log_path = log_path
        self.right_times = int(right_times)
        self.times_sent: dict[str, int] = {}

    def _answer(self, doc: dict) -> str:
        shown = doc["bon_request"]["shown"]
        if self.strategy == "garbage":
            return "I cannot decide."
        if self.strategy == "always_first":
            k = 1
        elif self.strategy == "uniform":
            k = self.rng.randint(1, len(shown))
        else:
            correct = [i for i in shown if doc["correct"][i]]
            k = shown.index(min(correct)) + 1 if correct else 1
        return self._choice(k)

    @staticmethod
    def _choice(k: int) -> str:
        return f"<evaluation>\nscripted\n</evaluation>\n\n<choice>\n{k}\n</choice>"

    def _tired_answer(self, doc: dict, times_sent: int) -> str | None:
        """``tiring``: the wrong candidate with the lowest index once the prompt was sent often enough."""
        shown = doc["bon_request"]["shown"]
        wrong = [i for i in shown if not doc["correct"][i]]
        if self.strategy != "tiring" or times_sent < self.right_times or not wrong:
            return None
        return self._choice(shown.index(min(wrong)) + 1)

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        outputs = []
        for request in requests:
            self.calls += 1
            prompt = request.args[0]
            times_sent = self.times_sent.get(prompt, 0)
            self.times_sent[prompt] = times_sent + 1
            output = self._tired_answer(request.doc, times_sent) or self._answer(request.doc)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as log:
                    doc = request.doc
                    log.write(json.dumps([doc["item_id"], doc["bon_request"]]) + "\n")
                    log.flush()
                    os.fsync(log.fileno())
            self.cache_hook.add_partial("generate_until", request.args, output)
            outputs.append(output)
            time.sleep(self.delay)
        return outputs

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("scripted judges only generate")

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("scripted judges only generate")
