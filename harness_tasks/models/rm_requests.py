"""What the RM model types share: lm-eval requests read as conversations to score.

A scalar reward model answers a ``multiple_choice`` task: each ``loglikelihood`` request is
``(context, continuation)`` where the context is the conversation as JSON
(:mod:`harness_tasks.models.conversation_format`) and the continuation a candidate reply. The
answer is ``(score, False)``: lm-eval then ranks the choices by score, and a task's own
``process_results`` sees the raw scores. :class:`RewardModelLM` does this for both model types;
they only say how token ids are scored.

A conversation longer than the model's positions is never truncated: with ``too_long=skip`` (the
default) it is not scored, its answer is :data:`NOT_SCORED` ``(nan, True)`` (the flag, unused for
rewards, is what tells a task the row was skipped; ``trbench_bfcl_disc`` counts such pairs as
``skipped_too_long``) and the count is in the results' ``config.rm_skipped_too_long``; with
``too_long=error`` the run stops before scoring, naming the row.

In a data-parallel run (:mod:`harness_tasks.models.rm_data_parallel`) each process scores its share
of the documents and the scoring counts recorded in the results' ``config`` (``rm_scoring``,
``rm_skipped_too_long``) are summed over the processes; they include the few requests lm-eval
repeats to give every process the same number (the task's metrics never count those).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from harness_tasks.models.conversation_format import Message, decode_conversation, with_final_reply
from harness_tasks.models.rm_data_parallel import DataParallelLM, combine_reports
from harness_tasks.models.rm_rendering import ConversationEncoder
from harness_tasks.models.rm_scoring import ScoringReport


log = logging.getLogger(__name__)

NOT_SCORED = (math.nan, True)
"""The answer for a conversation skipped because it exceeds the model's positions."""
TOO_LONG_POLICIES = ("skip", "error")

NOT_A_GENERATOR = (
    "{name} is a scalar reward model: it scores conversations and answers only loglikelihood requests "
    "of multiple-choice tasks whose context is a conversation as JSON (e.g. trbench_bfcl_disc); "
    "it cannot {what}"
)
NO_CHAT_TEMPLATE_OPTION = (
    "{name} renders every conversation with the model's own chat template; run it without "
    "--apply_chat_template (the task must hand over the conversation as JSON, untouched)"
)


def parse_flag(value: Any) -> bool:
    """A boolean model argument: lm-eval passes ``true`` as True, a Python caller may pass ``"1"``."""
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


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


class RewardModelLM(DataParallelLM):
    """An lm-eval model type that answers ``loglikelihood`` requests with reward scores.

    Subclasses set ``name``, ``encoder`` and ``report`` and implement :meth:`score`.
    """

    name: str
    encoder: ConversationEncoder
    report: ScoringReport
    max_positions: int | None = None
    """Longest conversation the model can score (``None``: unknown, nothing is skipped)."""
    too_long: str = "skip"
    """``skip`` (not scored, counted) or ``error`` (stop) for conversations over ``max_positions``."""
    skipped_too_long: int = 0
    all_ranks: tuple[dict[str, Any], int] | None = None
    """Rank 0 of a data-parallel run: every process's scoring report and skipped count, combined."""

    def set_length_policy(self, max_positions: int | None, too_long: str) -> None:
        if too_long not in TOO_LONG_POLICIES:
            raise ValueError(f"unknown too_long={too_long!r}; expected one of {', '.join(TOO_LONG_POLICIES)}")
        self.max_positions = int(max_positions) if max_positions else None
        self.too_long = too_long

    def score(self, token_ids: list[list[int]], wheres: list[str]) -> list[float]:
        """One score per tokenized conversation, in input order (``wheres`` name them in errors)."""
        raise NotImplementedError

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        conversations = [request_conversation(request) for request in requests]
        wheres = [describe_request(request) for request in requests]
        token_ids = self.encoder.encode(conversations, wheres)
        limit = self.max_positions
        over = [i for i, ids in enumerate(token_ids) if limit is not None and len(ids) > limit]
        if over and self.too_long == "error":
            first = over[0]
            raise ValueError(
                f"{wheres[first]}: {len(token_ids[first])} tokens exceed the model's {limit} positions "
                f"({len(over)} such conversations); pass too_long=skip to skip and count them"
            )
        if over:
            log.warning(
                "%s: %d of %d conversations exceed the model's %d positions: skipped and counted",
                self.name,
                len(over),
                len(requests),
                limit,
            )
            self.skipped_too_long += len(over)
        skipped = set(over)
        fits = [i for i in range(len(token_ids)) if i not in skipped]
        scores = self.score([token_ids[i] for i in fits], [wheres[i] for i in fits]) if fits else []
        answers: list[tuple[float, bool]] = [NOT_SCORED] * len(token_ids)
        for i, score in zip(fits, scores, strict=True):
            answers[i] = (score, False)
        self._gather_counts()
        return answers

    def _gather_counts(self) -> None:
        """Data-parallel: collect every process's counts on rank 0 (each process calls this once per
        request type, as the evaluator calls ``loglikelihood`` on all of them)."""
        if self.world_size <= 1:
            return
        gathered = self.gather_object((self.report.as_dict(), self.skipped_too_long), dst=0)
        if gathered is not None:
            self.all_ranks = (
                combine_reports([report for report, _ in gathered]),
                sum(skipped for _, skipped in gathered),
            )

    def get_model_info(self) -> dict[str, Any]:
        """Recorded under ``config`` in lm-eval's results: what was scored and how."""
        report, skipped = self.all_ranks or (self.report.as_dict(), self.skipped_too_long)
        return {
            "model_type": self.name,
            "rm_merge_system": self.encoder.merges_system,
            "rm_scoring": report,
            "rm_max_positions": self.max_positions,
            "rm_too_long": self.too_long,
            "rm_skipped_too_long": skipped,
            "rm_processes": self.world_size,
        }

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        raise NotImplementedError(
            NOT_A_GENERATOR.format(name=self.name, what="score rolling log-likelihoods")
        )

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        raise NotImplementedError(NOT_A_GENERATOR.format(name=self.name, what="generate text"))

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        """lm-eval asks for this only under ``--apply_chat_template``, which would break the JSON context."""
        if chat_template:
            raise ValueError(NO_CHAT_TEMPLATE_OPTION.format(name=self.name))
        return None

    @property
    def tokenizer_name(self) -> str:
        raise ValueError(NO_CHAT_TEMPLATE_OPTION.format(name=self.name))
