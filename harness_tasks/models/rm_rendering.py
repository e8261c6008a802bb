"""Turn conversations into the token ids a scalar reward model scores, exactly as the reference does.

The ToolRM reference evaluation (``eval/eval_trbench_local_discrm.py``) renders each conversation
with ``tokenizer.apply_chat_template(messages, tokenize=False)``, strips a leading BOS string if
the template wrote one, and tokenizes the text with the tokenizer's default special tokens, so BOS
appears exactly once whether the template or the tokenizer adds it. Every backend here (HF
batching, vLLM, the benchmark's reference loop) goes through :class:`ConversationEncoder`, so all
of them score the same token ids.

System turns: templates without a system role (Gemma's raises "System role not supported") get
the system message merged into the first user message, in the reference's own wording
(:data:`SYSTEM_MERGE_FORMAT`). ``merge_system=None`` merges only when the template rejects the
system role; ``True`` always merges (the reference merges for every model named "gemma", including
Gemma 3, whose template would otherwise fold the system turn in itself); ``False`` never does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from jinja2 import TemplateError

from harness_tasks.models.conversation_format import ConversationFormatError, Message


log = logging.getLogger(__name__)

SYSTEM_MERGE_FORMAT = "<system message start>\n{system}\n<system message end>\n{user}"
"""How the reference folds a system turn into the first user turn for templates without one."""


def merge_system_into_first_user(messages: list[Message], where: str = "conversation") -> list[Message]:
    """Fold the leading system message(s) into the user message that follows (reference rule).

    The reference handles exactly one system message; several leading ones (BFCL "live" questions
    bring their own after the tool prompt) are joined with a blank line first.
    """
    leading = 0
    while leading < len(messages) and messages[leading]["role"] == "system":
        leading += 1
    if any(message["role"] == "system" for message in messages[leading:]):
        raise ConversationFormatError(
            f"{where}: only system messages at the start can be merged into a user turn"
        )
    if leading == 0:
        return list(messages)
    if leading == len(messages) or messages[leading]["role"] != "user":
        found = messages[leading]["role"] if leading < len(messages) else "nothing"
        raise ConversationFormatError(
            f"{where}: cannot merge the system message into the first user message: "
            f"messages[{leading}] must have role 'user', found {found!r}"
        )
    system = "\n\n".join(message["content"] for message in messages[:leading])
    merged = SYSTEM_MERGE_FORMAT.format(system=system, user=messages[leading]["content"])
    return [{"role": "user", "content": merged}, *messages[leading + 1 :]]


def parse_merge_system(value: Any) -> bool | None:
    """Model-arg value -> policy: ``auto``/None, or a boolean (lm-eval passes ``true`` as True)."""
    if value is None or (isinstance(value, str) and value.lower() == "auto"):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"merge_system must be 'auto', true or false, found {value!r}")


class ConversationEncoder:
    """Chat-template rendering and tokenization of conversations for one reward model's tokenizer."""

    def __init__(self, tokenizer: Any, merge_system: bool | None = None) -> None:
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError(
                f"tokenizer {getattr(tokenizer, 'name_or_path', tokenizer)!r} has no chat template; "
                "a reward model scores conversations rendered with its own template"
            )
        self.tokenizer = tokenizer
        self.merge_system = merge_system
        self.template_rejects_system = False
        """Set once the template raised on a system turn; later conversations are merged directly."""

    @property
    def merges_system(self) -> bool:
        """Whether system turns are (now) merged into the first user turn."""
        return bool(self.merge_system) or self.template_rejects_system

    def _apply_template(self, messages: list[Message]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False)

    def render(self, messages: list[Message], where: str = "conversation") -> str:
        """The conversation as the reward model reads it, BOS string stripped (the tokenizer adds it)."""
        if self.merges_system:
            text = self._apply_template(merge_system_into_first_user(messages, where))
        else:
            try:
                text = self._apply_template(messages)
            except (TemplateError, ValueError) as error:
                has_system = any(message["role"] == "system" for message in messages)
                if self.merge_system is False or not has_system:
                    raise ValueError(f"{where}: the chat template failed to render: {error}") from error
                text = self._apply_template(merge_system_into_first_user(messages, where))
                self.template_rejects_system = True
                log.warning(
                    "the chat template rejected the system turn (%s); merging system messages into the "
                    "first user message from now on, as the reference does for Gemma",
                    error,
                )
        bos = self.tokenizer.bos_token
        if bos and text.startswith(bos):
            text = text[len(bos) :]
        return text

    def encode(
        self, conversations: Sequence[list[Message]], wheres: Sequence[str] | None = None
    ) -> list[list[int]]:
        """Token ids per conversation, in input order."""
        wheres = wheres or [f"conversation {index}" for index in range(len(conversations))]
        texts = [self.render(messages, where) for messages, where in zip(conversations, wheres, strict=True)]
        return self.tokenize(texts)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Rendered texts -> ids with the tokenizer's own special tokens (BOS once, as the reference)."""
        if not texts:
            return []
        return [list(ids) for ids in self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]]
