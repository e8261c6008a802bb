"""The self-correction protocols, driven round by round over lm-eval model objects.

How this fits lm-eval (0.4.13 runs one model call per request and gives tasks no model handle):
the task (:mod:`.lm_task`) issues one multi-round request per item and registers
:func:`run_self_correction` as its driver with the bridge (:mod:`harness_tasks.lm_eval_bridge`,
bend 6), the mechanism the Best-of-N tasks use too. The driver receives the model lm-eval evaluates
with, renders each round's prompts, calls the model's own batched ``generate_until`` once per
round, and returns one JSON record per item, which the task's ``process_results`` scores with the
checker. Batching, chat templates, ``--gen_kwargs``, ``--use_cache``, ``--generation_cache``,
``--log_samples`` and the results files work as for any task.

Protocols (``protocol`` in the task's ``dataset_kwargs``):

* ``critic_reviser``: the model under test critiques the candidate (round 1); items it calls
  ``incorrect`` go to the reviser with the critique (round 2); items it calls ``correct``, and
  items whose critique does not parse, keep the candidate;
* ``single``: one prompt, one answer with critique, verdict and corrected turn;
* ``no_critic``: the reviser alone is asked to check and fix its response (every item, one round);
* ``oracle``: the checker's verdict and message are the critique; wrong candidates go to the reviser.

The reviser is the model under test, unless ``reviser_model_args`` is given (``--metadata
'{"reviser_model_args": "pretrained=Qwen/Qwen3-8B,..."}'``): then a second model of the same lm-eval
backend class is built from that string, once per process, and revises in every protocol that has a
reviser (``single`` has none: the model under test writes the corrected turn itself).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from lm_eval.utils import simple_parse_args_string

from harness_tasks.lm_eval_bridge import generation_request, model_class
from harness_tasks.trbench_selfcorrect.parsing import parse_critique, parse_revision, parse_single
from harness_tasks.trbench_selfcorrect.prompts import (
    critique_messages,
    oracle_critique,
    plain_text_prompt,
    recheck_messages,
    revision_messages,
    single_messages,
)


log = logging.getLogger(__name__)

PROTOCOLS = ("critic_reviser", "single", "no_critic", "oracle")


@dataclass(frozen=True)
class ProtocolOptions:
    """What one request asks the driver to do; travels in the request's arguments (logged as is)."""

    protocol: str
    variant: str
    """``think`` / ``no_think``: which template family the prompts come from."""
    apply_chat_template: bool
    generation_kwargs: dict[str, Any]
    reviser_model_args: str | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(
                f"unknown self-correction protocol {self.protocol!r}; expected one of {PROTOCOLS}"
            )

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)


@dataclass
class ItemRun:
    """What happened to one item; serialised as the request's response."""

    critic_prompt: str | None = None
    critic_output: str | None = None
    verdict: str | None = None
    """``correct`` / ``incorrect``; ``None`` when the critique does not parse or there is no critic."""
    critique_parsed: bool | None = None
    """``None`` when the protocol has no critic."""
    critique: str | None = None
    """What the reviser was told (the model's critique, or the oracle's)."""
    reviser_prompt: str | None = None
    reviser_output: str | None = None
    revision_requested: bool = False
    revision_parsed: bool | None = None
    """``None`` when no revision was requested."""
    final_response: str = ""
    """The turn that is scored: the parsed revision, else the candidate."""
    critic_output_tokens: int = 0
    reviser_output_tokens: int = 0


def count_tokens(lm: LM, text: str) -> int:
    """Output length in the model's own tokens; whitespace words for models without a tokenizer."""
    encode = getattr(lm, "tok_encode", None)
    if encode is not None:
        try:
            return len(encode(text))
        except Exception:  # a model whose tok_encode needs more than a string: fall back, never fail
            pass
    return len(text.split())


def render_prompt(lm: LM, messages: list[dict[str, str]], apply_chat_template: bool) -> str:
    if apply_chat_template:
        return lm.apply_chat_template(messages, add_generation_prompt=True)
    return plain_text_prompt(messages)


def generate(lm: LM, prompts: list[str], requests: list[Instance], options: ProtocolOptions) -> list[str]:
    """One round: the model's own batched ``generate_until`` over ``prompts`` (one per request)."""
    if not prompts:
        return []
    round_requests = [
        generation_request(request.doc, prompt, options.generation_kwargs, source=request)
        for prompt, request in zip(prompts, requests, strict=True)
    ]
    outputs = lm.generate_until(round_requests)
    if len(outputs) != len(prompts):
        raise RuntimeError(f"the model returned {len(outputs)} outputs for {len(prompts)} prompts")
    return list(outputs)


_REVISERS: dict[tuple[type, str], LM] = {}


def reviser_for(lm: LM, options: ProtocolOptions) -> LM:
    """The model under test, or the declared policy model built once with the same backend class."""
    if not options.reviser_model_args:
        return lm
    backend = model_class(lm)
    key = (backend, options.reviser_model_args)
    if key not in _REVISERS:
        log.info("loading the reviser %s(%s)", backend.__name__, options.reviser_model_args)
        given = simple_parse_args_string(options.reviser_model_args)
        placement = {k: v for k, v in _placement_of(lm).items() if k not in given}
        _REVISERS[key] = backend.create_from_arg_string(options.reviser_model_args, placement)
    return _REVISERS[key]


def _placement_of(lm: LM) -> dict[str, Any]:
    """``device`` and ``batch_size`` of the model under test, which lm-eval's CLI added to its arguments
    (and which ``reviser_model_args`` can override): the reviser runs where the critic runs."""
    placement: dict[str, Any] = {}
    try:
        device = getattr(lm, "device", None)
    except Exception:  # a model type whose device property needs more set-up: leave it to the default
        device = None
    if device is not None:
        placement["device"] = str(device)
    try:
        batch_size = getattr(lm, "batch_size", None)
    except Exception:
        batch_size = None
    if isinstance(batch_size, int | str):
        placement["batch_size"] = batch_size
    return placement


def _revise(
    reviser: LM,
    runs: list[ItemRun],
    requests: list[Instance],
    message_lists: list[list[dict[str, str]] | None],
    options: ProtocolOptions,
) -> None:
    """Round 2 for the items that have a reviser conversation; the others keep their candidate."""
    chosen = [i for i, messages in enumerate(message_lists) if messages is not None]
    prompts = [render_prompt(reviser, message_lists[i], options.apply_chat_template) for i in chosen]
    outputs = generate(reviser, prompts, [requests[i] for i in chosen], options)
    for i, prompt, output in zip(chosen, prompts, outputs, strict=True):
        run = runs[i]
        revision = parse_revision(output, requests[i].doc["answer_kind"])
        run.revision_requested = True
        run.reviser_prompt, run.reviser_output = prompt, output
        run.revision_parsed = revision.parsed
        run.reviser_output_tokens = count_tokens(reviser, output)
        if revision.parsed:
            run.final_response = revision.response


def run_protocol(lm: LM, requests: list[Instance], options: ProtocolOptions) -> list[ItemRun]:
    docs = [request.doc for request in requests]
    runs = [ItemRun(final_response=doc["candidate"]) for doc in docs]

    if options.protocol == "oracle":
        conversations = [
            None
            if doc["candidate_correct"]
            else revision_messages(doc, oracle_critique(doc), options.variant)
            for doc in docs
        ]
        for run, doc in zip(runs, docs, strict=True):
            run.critique = None if doc["candidate_correct"] else oracle_critique(doc)
        _revise(reviser_for(lm, options), runs, requests, conversations, options)
        return runs

    if options.protocol == "no_critic":
        recheck = [recheck_messages(doc, options.variant) for doc in docs]
        _revise(reviser_for(lm, options), runs, requests, recheck, options)
        return runs

    build = critique_messages if options.protocol == "critic_reviser" else single_messages
    prompts = [render_prompt(lm, build(doc, options.variant), options.apply_chat_template) for doc in docs]
    outputs = generate(lm, prompts, requests, options)
    conversations: list[list[dict[str, str]] | None] = []
    for run, doc, prompt, output in zip(runs, docs, prompts, outputs, strict=True):
        run.critic_prompt, run.critic_output = prompt, output
        run.critic_output_tokens = count_tokens(lm, output)
        if options.protocol == "single":
            critique, revision = parse_single(output, doc["answer_kind"])
            if revision is not None:
                run.revision_requested = True
                run.revision_parsed = revision.parsed
                if revision.parsed:
                    run.final_response = revision.response
        else:
            critique = parse_critique(output)
        run.critique_parsed = critique.parsed
        run.verdict = critique.verdict
        run.critique = critique.critique or None
        wants_revision = options.protocol == "critic_reviser" and critique.verdict == "incorrect"
        conversations.append(
            revision_messages(doc, critique.critique, options.variant) if wants_revision else None
        )
    if options.protocol == "critic_reviser":
        _revise(reviser_for(lm, options), runs, requests, conversations, options)
    return runs


def run_self_correction(lm: LM, items: list[list[Instance]]) -> list[str]:
    """The self-correction tasks' driver: one JSON record per item (each item is one request).

    Each group of identical options runs as one protocol, so every round is one batched
    ``generate_until`` call per group.
    """
    requests = [item[0] for item in items]
    groups: dict[str, tuple[ProtocolOptions, list[int]]] = {}
    for index, request in enumerate(requests):
        options = ProtocolOptions(**request.args[1])
        groups.setdefault(options.key(), (options, []))[1].append(index)
    results: list[str | None] = [None] * len(requests)
    for options, indices in groups.values():
        log.info(
            "self-correction protocol %s (%s) on %d items", options.protocol, options.variant, len(indices)
        )
        runs = run_protocol(lm, [requests[i] for i in indices], options)
        for index, run in zip(indices, runs, strict=True):
            results[index] = json.dumps(asdict(run), ensure_ascii=False)
    return results  # type: ignore[return-value]
