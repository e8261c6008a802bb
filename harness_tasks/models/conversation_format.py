"""Contract "conversation as JSON": how a task hands a whole conversation to a scalar reward model.

lm-eval passes a model only strings (a context and a continuation), while a reward model must see
the conversation as messages to render it with its own chat template. A task therefore puts the
conversation, serialised by :func:`encode_conversation`, in ``doc_to_text``, and the candidate
assistant replies in ``doc_to_choice``; the RM model types (``hf-rm``, ``vllm-rm``) parse it back
with :func:`decode_conversation` and append each candidate as the final assistant message.

Format, version 1 (``CONVERSATION_FORMAT``)::

    {"format": "toolrm-conversation/1", "messages": [{"role": "system", "content": "..."}, ...]}

``messages`` is the history before the judged turn; every message has string ``role`` and
``content`` (other keys are not part of version 1 and are dropped). Change the version whenever
the meaning of a field changes, so an old model type refuses new input instead of misreading it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from harness_tasks.input_boundary import UnreadableJSON, loads_json


CONVERSATION_FORMAT = "toolrm-conversation/1"

Message = dict[str, str]


class ConversationFormatError(ValueError):
    """A conversation that breaks the contract; the message says where (task, doc, uuid) and which field."""


def _checked_messages(messages: Any, where: str) -> list[Message]:
    if not isinstance(messages, list) or not messages:
        raise ConversationFormatError(
            f"{where}: field 'messages' must be a non-empty list of messages, found {type(messages).__name__}"
        )
    checked = []
    for turn, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ConversationFormatError(
                f"{where}: messages[{turn}] must be an object with 'role' and 'content', "
                f"found {type(message).__name__}"
            )
        for field in ("role", "content"):
            if not isinstance(message.get(field), str):
                found = "nothing" if field not in message else type(message[field]).__name__
                raise ConversationFormatError(
                    f"{where}: messages[{turn}].{field} must be a string, found {found}"
                )
        checked.append({"role": message["role"], "content": message["content"]})
    return checked


def encode_conversation(messages: Sequence[Any], where: str) -> str:
    """The ``doc_to_text`` string for a conversation; ``where`` names the row in any error."""
    payload = {"format": CONVERSATION_FORMAT, "messages": _checked_messages(list(messages), where)}
    return json.dumps(payload, ensure_ascii=False)


def decode_conversation(text: str, where: str) -> list[Message]:
    """Messages from a ``doc_to_text`` string written by :func:`encode_conversation`."""
    try:
        payload = loads_json(text)
    except UnreadableJSON as error:
        hint = (
            " (was the task run with --apply_chat_template or --system_instruction? RM model types "
            "apply the model's own chat template and need the context exactly as the task wrote it)"
        )
        raise ConversationFormatError(
            f"{where}: context is not a {CONVERSATION_FORMAT} JSON object ({error}){hint}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CONVERSATION_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ConversationFormatError(
            f"{where}: field 'format' must be {CONVERSATION_FORMAT!r}, found {found!r}; "
            "the task and the model type disagree on the conversation contract"
        )
    return _checked_messages(payload.get("messages"), where)


def with_final_reply(messages: list[Message], reply: str) -> list[Message]:
    """The conversation a reward model scores: the history plus one candidate assistant turn."""
    return [*messages, {"role": "assistant", "content": reply}]
