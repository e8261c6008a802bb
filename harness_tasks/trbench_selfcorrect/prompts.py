"""The self-correction prompts, rendered from ``templates/selfcorrect_*.jinja``.

Two shapes:

* the critic's prompt (``critique``, and ``single`` for the single-model protocol) is one user
  message holding the conversation, the tool list and the response, like the pairwise judge prompt;
* the reviser's prompt is the conversation itself as chat messages (its system turn lists the
  tools), the candidate as the previous assistant turn, then a user turn with the critique
  (``revision``) or, in the no-critic baseline, a request to check and fix (``recheck``). So the
  reviser revises its own turn in its own conversation, as a policy would.
"""

from __future__ import annotations

from typing import Any

from harness_tasks.judge_prompts import check_variant
from toolrm_templates import get_template


def _template(kind: str, variant: str):
    return get_template(f"selfcorrect_{kind}_{check_variant(variant)}.jinja")


def critique_messages(doc: dict[str, Any], variant: str) -> list[dict[str, str]]:
    """The pointwise-critique prompt: one user message, no system turn."""
    text = _template("critique", variant).render(chat_history=doc["chat_history"], response=doc["candidate"])
    return [{"role": "user", "content": text}]


def single_messages(doc: dict[str, Any], variant: str) -> list[dict[str, str]]:
    """The single-model prompt: critique, verdict and corrected turn in one answer."""
    text = _template("single", variant).render(chat_history=doc["chat_history"], response=doc["candidate"])
    return [{"role": "user", "content": text}]


def _conversation_with_candidate(doc: dict[str, Any]) -> list[dict[str, str]]:
    history = [{"role": m["role"], "content": m["content"]} for m in doc["chat_history"]]
    return [*history, {"role": "assistant", "content": doc["candidate"]}]


def revision_messages(doc: dict[str, Any], critique: str, variant: str) -> list[dict[str, str]]:
    """The reviser's conversation: context, its own response, then the critique."""
    request = _template("revision", variant).render(critique=critique)
    return [*_conversation_with_candidate(doc), {"role": "user", "content": request}]


def recheck_messages(doc: dict[str, Any], variant: str) -> list[dict[str, str]]:
    """The no-critic baseline: context, its own response, then "check and fix it"."""
    return [
        *_conversation_with_candidate(doc),
        {"role": "user", "content": _template("recheck", variant).render()},
    ]


def oracle_critique(doc: dict[str, Any]) -> str:
    """The checker's verdict and message as a critique (only asked for wrong candidates)."""
    message = doc["checker_message"].strip() or "(the checker gave no message)"
    return f"The response is incorrect ({doc['error_type']}). The checker reports:\n{message}"


def plain_text_prompt(messages: list[dict[str, str]]) -> str:
    """Messages as plain text when no chat template is applied (base models, scripted models).

    A single user message is passed as its text, as lm-eval does for single-turn tasks; a
    conversation is written as role-labelled turns ending with ``assistant:``.
    """
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    turns = "".join(f"{m['role']}:\n{m['content']}\n\n" for m in messages)
    return turns + "assistant:\n"
