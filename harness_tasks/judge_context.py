"""Skip (and count) judge documents whose prompt does not fit the judge's context; never truncate.

Shared by the FC-RewardBench and Plan-RewardBench judge tasks. The measurement is TRBench-BFCL's
(:func:`harness_tasks.trbench_bfcl.dataset.drop_overlong_pairs`): the prompt as the judge receives
it (its chat template when it has one), against the model's length minus the generation budget.
A pair is dropped whole when either of its documents is too long, so no pair is half-scored.
"""

from __future__ import annotations

import logging
from typing import Any

from harness_tasks.trbench_bfcl.dataset import drop_overlong_pairs, model_max_length


log = logging.getLogger(__name__)
NO_REFERENCE_LIMIT = 10**12
"""These sources set no prompt limit of their own; only the model's context applies."""


def _as_bool(value: bool | str) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes")


def drop_pairs_over_context(
    rows: list[dict[str, Any]],
    *,
    default_max_gen_toks: int,
    pretrained: str | None = None,
    tokenizer: str | None = None,
    max_length: int | str | None = None,
    max_model_len: int | str | None = None,
    max_gen_toks: int | str | None = None,
    context_limit: int | str | None = None,
    enable_thinking: bool | str | None = None,
    **_ignored: Any,
) -> tuple[list[dict[str, Any]], int]:
    """``(kept rows, pairs skipped)``; rows need ``prompt`` (one message) and ``pair_id``.

    The arguments are lm-eval's model arguments and ``--metadata`` as the task hook receives them.
    Without a loadable tokenizer nothing is skipped and a warning says so (scripted test judges).
    ``context_limit`` sets the limit directly; ``0`` switches the filter off.
    """
    name = tokenizer if isinstance(tokenizer, str) else pretrained
    if not name:
        log.warning("context filter off: no tokenizer known (pass pretrained= or tokenizer=)")
        return rows, 0
    from transformers import AutoTokenizer

    try:
        loaded = AutoTokenizer.from_pretrained(name)
    except Exception as error:  # offline or not a tokenizer: say so instead of guessing
        log.warning("context filter off: cannot load tokenizer %r (%s)", name, error)
        return rows, 0
    if context_limit is not None:
        limit = int(context_limit) or None
    else:
        declared = max_length or max_model_len
        length = model_max_length(pretrained, loaded, int(declared) if declared else None)
        budget = int(max_gen_toks) if max_gen_toks is not None else default_max_gen_toks
        if length is not None and budget >= length:
            raise ValueError(
                f"the generation budget max_gen_toks={budget} leaves no room for a prompt in the "
                f"model's {length} tokens; lower max_gen_toks or raise max_length"
            )
        limit = None if length is None else length - budget
    if limit is None:
        return rows, 0
    think_args = {} if enable_thinking is None else {"enable_thinking": _as_bool(enable_thinking)}
    kept, _, skipped = drop_overlong_pairs(
        rows, NO_REFERENCE_LIMIT, name, context_limit=limit, chat_template_args=think_args, tokenizer=loaded
    )
    if rows and not kept:  # lm-eval cannot build a task without documents: say why, before any work
        raise ValueError(
            f"every one of the {skipped} pairs has a prompt longer than the judge's context limit "
            f"({limit} tokens: the model's length minus the generation budget); raise max_length or "
            "lower max_gen_toks (--gen_kwargs and --metadata)"
        )
    return kept, skipped
