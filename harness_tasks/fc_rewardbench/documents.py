"""FC-RewardBench pairs as lm-eval documents, for the three ways of reading the benchmark.

- ``pairwise`` (generative judges): each pair twice, chosen in position 1 then in position 2,
  with the ToolRM pairwise prompt (think / no_think); ``reward_model.ground_truth`` is the
  chosen response's position, as in TRBench-BFCL.
- ``pointwise`` (Granite Guardian's protocol): each pair split into two documents judged alone,
  the chosen output labelled 0 (correct) and the rejected output 1 (a function-call error);
  the prompt holds the tools, the *last* user turn and the output, as Granite's runner builds it.
- ``disc`` (scalar RMs): one document per pair; the conversation (tools as a system turn) as the
  "conversation as JSON" context, the two outputs as the choices.

Document order keeps a pair's documents adjacent, so ``--limit`` never splits a pair.
"""

from __future__ import annotations

from typing import Any

from harness_tasks.fc_rewardbench.dataset import as_text, pair_fields, tools_system_message
from harness_tasks.judge_prompts import check_variant, pairwise_prompt_messages
from toolrm_templates import get_template


TASK_KINDS = ("pairwise", "pointwise", "disc")
POINTWISE_TEMPLATES = {
    "think": "fc_rewardbench_pointwise_think.jinja",
    "no_think": "fc_rewardbench_pointwise_no_think.jinja",
}


def judge_history(row: dict[str, Any]) -> list[dict[str, str]]:
    """The conversation a judge or RM sees: the tools as a system turn, then the release's turns."""
    return [tools_system_message(row["tools"]), *row["conversation"]]


def pairwise_documents(row: dict[str, Any], index: int, variant: str) -> list[dict[str, Any]]:
    history = judge_history(row)
    chosen, rejected = as_text(row["chosen_output"]), as_text(row["rejected_output"])
    documents = []
    for first, second, truth in ((chosen, rejected, "1"), (rejected, chosen, "2")):
        documents.append(
            {
                **pair_fields(row, index),
                "prompt": pairwise_prompt_messages(history, first, second, variant),
                "reward_model": {"ground_truth": truth},
            }
        )
    return documents


def render_pointwise_prompt(tools: Any, user_turn: str, output: str, variant: str) -> str:
    template = get_template(POINTWISE_TEMPLATES[check_variant(variant)])
    return template.render(tools=as_text(tools), user_turn=user_turn, assistant_turn=output)


def pointwise_documents(row: dict[str, Any], index: int, variant: str) -> list[dict[str, Any]]:
    user_turn = row["conversation"][-1]["content"]  # Granite's runner: the last turn only
    return [
        {
            **pair_fields(row, index),
            "prompt": [
                {
                    "role": "user",
                    "content": render_pointwise_prompt(row["tools"], user_turn, as_text(output), variant),
                }
            ],
            "label": label,
        }
        for output, label in ((row["chosen_output"], 0), (row["rejected_output"], 1))
    ]


def disc_document(row: dict[str, Any], index: int) -> dict[str, Any]:
    return {
        **pair_fields(row, index),
        "history": judge_history(row),
        "chosen_response": as_text(row["chosen_output"]),
        "reject_response": as_text(row["rejected_output"]),
    }


def build_documents(rows: list[dict[str, Any]], kind: str, variant: str) -> list[dict[str, Any]]:
    if kind not in TASK_KINDS:
        raise ValueError(
            f"unknown FC-RewardBench task kind {kind!r}; expected one of {', '.join(TASK_KINDS)}"
        )
    documents: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        if kind == "pairwise":
            documents.extend(pairwise_documents(row, index, variant))
        elif kind == "pointwise":
            documents.extend(pointwise_documents(row, index, variant))
        else:
            documents.append(disc_document(row, index))
    return documents
