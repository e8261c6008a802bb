"""A critic and reviser with known answering rules, registered as a real lm-eval model.

They read the item (the request's document: its candidate's correctness and the reference turn,
which no real model sees), so the self-correction metrics they earn are known exactly.

``--model scripted-selfcorrect --model_args critic=<rule>,reviser=<rule>``:

* critic: ``always_correct`` | ``always_incorrect`` | ``truth`` (right verdict) | ``garbage`` (no verdict);
* reviser: ``ground_truth`` (the reference turn) | ``echo`` (the candidate) | ``break`` (a call to a
  function that does not exist) | ``garbage`` (prose, no tool call).
"""

from __future__ import annotations

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

import harness_tasks.models  # noqa: F401  (built-in lm-eval models stay registered)


CRITICS = ("always_correct", "always_incorrect", "truth", "garbage")
REVISERS = ("ground_truth", "echo", "break", "garbage")
BROKEN_CALL = '<tool_call>\n{"name": "toolrm_no_such_function", "arguments": {}}\n</tool_call>'


@register_model("scripted-selfcorrect")
class ScriptedSelfCorrection(LM):
    def __init__(self, critic: str = "truth", reviser: str = "ground_truth", **_: object) -> None:
        super().__init__()
        if critic not in CRITICS or reviser not in REVISERS:
            raise ValueError(f"unknown rule critic={critic!r} reviser={reviser!r}")
        self.critic, self.reviser = critic, reviser
        self.calls: list[str] = []
        """Which kind of prompt each generation answered (critic / single / reviser), in order."""

    def _verdict(self, doc: dict) -> str | None:
        if self.critic == "garbage":
            return None
        if self.critic == "truth":
            return "correct" if doc["candidate_correct"] else "incorrect"
        return self.critic.removeprefix("always_")

    def _critique(self, doc: dict) -> str:
        verdict = self._verdict(doc)
        if verdict is None:
            return "Looks fine to me, I think."
        critique = "<critique>\nCheck the arguments against the request.\n</critique>"
        return f"{critique}\n\n<verdict>\n{verdict}\n</verdict>"

    def _revision(self, doc: dict) -> str:
        if self.reviser == "ground_truth":
            return doc["reference_response"]
        if self.reviser == "echo":
            return doc["candidate"]
        if self.reviser == "break":
            return BROKEN_CALL
        return "I would change the call, but I am not sure how."

    def _answer(self, prompt: str, doc: dict) -> str:
        if prompt.startswith("<task>") and "<revision>" in prompt:
            self.calls.append("single")
            return f"{self._critique(doc)}\n\n<revision>\n{self._revision(doc)}\n</revision>"
        if prompt.startswith("<task>"):
            self.calls.append("critic")
            return self._critique(doc)
        self.calls.append("reviser")
        return self._revision(doc)

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        return [self._answer(request.args[0], request.doc) for request in requests]

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("the scripted self-correction model only generates")

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("the scripted self-correction model only generates")
