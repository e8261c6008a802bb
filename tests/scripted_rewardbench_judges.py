"""A judge with a known answering rule for the FC-RewardBench and Plan-RewardBench tasks.

It reads the truth from the request's document (which no real model sees) and answers in the
format the document's prompt asks for: ``<choice>`` for the ToolRM pairwise prompt, the JSON
``winner`` for Plan-RewardBench's own prompt, Granite's ``<score>`` for FC pointwise. So every
metric it earns is known exactly.

Strategies: ``correct``; ``first`` (always position 1 / A; always "yes" pointwise); ``tie``
(``[[Tie]]``; for prompts without a tie an unreadable answer); ``coin`` (a fair coin seeded by the
document); ``pattern`` (pointwise only: a fixed mix of right, wrong and unreadable answers, see
:func:`pattern_label`).
"""

from __future__ import annotations

import random

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

import harness_tasks.models  # noqa: F401  (built-in lm-eval models stay registered)


STRATEGIES = ("correct", "first", "tie", "coin", "pattern")


def pattern_label(doc: dict) -> str:
    """Pointwise ``pattern``: label-0 rows of pairs 0 and 1 flagged wrongly ("yes"); label-1 rows of
    "Parameter value error" pairs missed ("no"); pair 9's label-1 row unreadable; all else right."""
    if doc["label"] == 0:
        return "yes" if doc["pair_id"] in ("0", "1") else "no"
    if doc["pair_id"] == "9":
        return "unsure"
    return "no" if doc["error_type_key"] == "parameter_value_error" else "yes"


@register_model("scripted-rewardbench-judge")
class ScriptedRewardBenchJudge(LM):
    def __init__(self, strategy: str = "correct", seed: int = 0, **_: object) -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}")
        self.strategy, self.seed = strategy, seed

    def _coin(self, doc: dict) -> bool:
        return (
            random.Random(
                f"{self.seed}-{doc['pair_id']}-{doc.get('swapped', doc.get('label'))}-"
                f"{doc.get('reward_model', {}).get('ground_truth')}"
            ).random()
            < 0.5
        )

    def _pointwise(self, doc: dict) -> str:
        if self.strategy == "pattern":
            word = pattern_label(doc)
        elif self.strategy == "correct":
            word = "yes" if doc["label"] == 1 else "no"
        elif self.strategy == "first":
            word = "yes"
        elif self.strategy == "tie":
            word = "unsure"
        else:
            word = "yes" if self._coin(doc) else "no"
        return f"<think>\n</think>\n<score> {word} </score>"

    def _winner(self, doc: dict) -> str:
        letter = {
            "correct": doc["chosen_letter"],
            "first": "A",
            "tie": "Tie",
            "coin": "A" if self._coin(doc) else "B",
        }[self.strategy]
        return f'{{\n  "reasoning": "scripted",\n  "winner": "[[{letter}]]"\n}}'

    def _choice(self, doc: dict) -> str:
        truth = doc["reward_model"]["ground_truth"]
        if self.strategy == "tie":
            return "They are equally good."
        answer = {"correct": truth, "first": "1", "coin": "1" if self._coin(doc) else "2"}[self.strategy]
        return f"<evaluation>\nscripted\n</evaluation>\n\n<choice>\n{answer}\n</choice>"

    def _answer(self, doc: dict) -> str:
        if "label" in doc:
            return self._pointwise(doc)
        if doc.get("prompt_style") == "source":
            return self._winner(doc)
        return self._choice(doc)

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        outputs = []
        for request in requests:
            output = self._answer(request.doc)
            self.cache_hook.add_partial("generate_until", request.args, output)
            outputs.append(output)
        return outputs

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("scripted judges only generate")

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("scripted judges only generate")
