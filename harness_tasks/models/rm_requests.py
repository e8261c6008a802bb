"""What the RM model types share: reading lm-eval requests as conversations to score.

A scalar reward model answers a ``multiple_choice`` task: each ``loglikelihood`` request is
``(context, continuation)`` where the context is the conversation as JSON
(:mod:`harness_tasks.models.conversation_format`) and the continuation a candidate reply. The
answer is ``(score, False)``: lm-eval then ranks the choices by score, and a task's own
``process_results`` sees the raw scores.
"""

from __future__ import annotations

from typing import Any

from harness_tasks.models.conversation_format import Message, decode_conversation, with_final_reply


NOT_A_GENERATOR = (
    "{name} is a scalar reward model: it scores conversations and answers only loglikelihood requests "
    "of multiple-choice tasks whose context is a conversation as JSON (e.g. trbench_bfcl_disc); "
    "it cannot {what}"
)


def describe_request(request: Any) -> str:
    """Where a request comes from, for error messages: task, doc id and the row's uuid if it has one."""
    doc = getattr(request, "doc", None) or {}
    uuid = doc.get("uuid", doc.get("pair_id")) if isinstance(doc, dict) else None
    where = f"task {getattr(request, 'task_name', None)!r}, doc {getattr(request, 'doc_id', None)}"
    return f"{where} (uuid {uuid})" if uuid is not None else where


def request_conversation(request: Any) -> list[Message]:
    """The conversation a ``loglikelihood`` request asks to score: history plus the candidate reply."""
    context, continuation = request.args[:2]
    where = describe_request(request)
    if not isinstance(continuation, str):
        raise TypeError(f"{where}: the candidate reply must be a string, found {type(continuation).__name__}")
    return with_final_reply(decode_conversation(context, where), continuation)
