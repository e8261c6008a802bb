"""Plan-RewardBench pairs as lm-eval documents.

Judges (``prompt_style`` ``source`` or ``toolrm``): every pair twice, as the source runs it: first
with the chosen trajectory as A (``swapped`` false), then with the rejected one as A. Scalar RMs:
one document per trajectory (the source scores each trajectory alone and compares the scores,
without swapping); the two documents of a pair are joined again by ``pair_id`` in the metrics.
Every document carries the pair's split and length bin, so the metrics need nothing else.
"""

from __future__ import annotations

from typing import Any

from harness_tasks.judge_prompts import check_variant
from harness_tasks.plan_rewardbench.rendering import (
    length_bin,
    pair_tokens,
    rm_chat,
    source_prompt,
    toolrm_prompt,
)


PROMPT_STYLES = ("source", "toolrm")


class RewardModelShapeError(ValueError):
    """A trajectory the RM contract cannot carry (its last turn is not the model's)."""


def _pair_fields(pair: dict[str, Any]) -> dict[str, Any]:
    tokens = pair_tokens(pair)
    return {
        "pair_id": pair["pair_id"],
        "uuid": pair["uuid"],
        "split": pair["split"],
        "total_tokens": tokens,
        "length_bin": length_bin(tokens),
    }


def judge_documents(pair: dict[str, Any], prompt_style: str, variant: str) -> list[dict[str, Any]]:
    if prompt_style not in PROMPT_STYLES:
        raise ValueError(f"unknown prompt_style {prompt_style!r}; expected one of {', '.join(PROMPT_STYLES)}")
    fields = _pair_fields(pair)
    documents = []
    for swapped in (False, True):
        if prompt_style == "source":
            text = source_prompt(pair, swapped)
        else:
            text = toolrm_prompt(pair, swapped, check_variant(variant))
        documents.append(
            {
                **fields,
                "swapped": swapped,
                "prompt": [{"role": "user", "content": text}],
                "prompt_style": prompt_style,
                # the answer naming the chosen trajectory: "A"/"B" (source), "1"/"2" (ToolRM prompt)
                "reward_model": {"ground_truth": "2" if swapped else "1"},
                "chosen_letter": "B" if swapped else "A",
            }
        )
    return documents


def rm_documents(pair: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """One document per trajectory: its chat before the final turn as the context, that turn as the
    only choice (the RM model types append the choice as the final assistant turn)."""
    fields = _pair_fields(pair)
    documents = []
    for side in ("chosen", "reject"):
        chat = rm_chat(pair, side)
        if chat[-1]["role"] != "assistant":
            raise RewardModelShapeError(
                f"{where}: field '{side}.messages' ends with a {chat[-1]['role']!r} turn; the scalar-RM "
                "task scores a trajectory by appending its final model turn, so it must end with one"
            )
        documents.append({**fields, "side": side, "history": chat[:-1], "final_turn": chat[-1]["content"]})
    return documents
