"""How Plan-RewardBench shows a pair: the source's judge prompt, its RM chat, its token counts.

Each function reproduces the behaviour of ``eval/evaluate_benchmark_final.py`` (Plan-RewardBench,
Apache-2.0) as described in this folder's README; none of its code is copied. The ToolRM prompt
option renders the same trajectories into our pairwise template instead.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from harness_tasks.input_boundary import parse_json_or_none
from harness_tasks.judge_prompts import pairwise_prompt_messages
from toolrm_templates import get_template


log = logging.getLogger(__name__)
PROMPT_TEMPLATE = "plan_rewardbench_pairwise.jinja"
LENGTH_BINS = ((0, 4000, "0_4k"), (4000, 8000, "4_8k"), (8000, 16000, "8_16k"), (16000, 32000, "16_32k"))
LONGEST_BIN = "32k_plus"
BIN_NAMES = (*(name for _, _, name in LENGTH_BINS), LONGEST_BIN)


def format_tools(tools: list[Any]) -> str:
    """The tool list as the judge reads it: indented JSON, or the source's text for no tools."""
    if not tools:
        return "No tools available."
    return json.dumps(tools, ensure_ascii=False, indent=2)


def format_trajectory(messages: list[dict[str, Any]]) -> str:
    """``[i] ROLE: content`` blocks; JSON-looking text and structured content shown indented."""
    blocks = []
    for index, message in enumerate(messages):
        content = message.get("content", "")
        if isinstance(content, str) and content.strip().startswith("{"):
            # text that is not JSON (e.g. a Python-repr tool call) is shown as written
            parsed = parse_json_or_none(content)
            if parsed is not None:
                content = json.dumps(parsed, ensure_ascii=False, indent=2)
        elif isinstance(content, dict | list):
            content = json.dumps(content, ensure_ascii=False, indent=2)
        blocks.append(f"[{index}] {message.get('role', 'unknown').upper()}: {content}")
    return "\n\n".join(blocks)


def query_text(query: Any) -> str:
    return query if isinstance(query, str) else str(query)


def source_prompt(pair: dict[str, Any], swapped: bool) -> str:
    """The source's judge prompt; ``swapped``: the rejected trajectory is A (the source's swap)."""
    first, second = (pair["reject"], pair["chosen"]) if swapped else (pair["chosen"], pair["reject"])
    return get_template(PROMPT_TEMPLATE).render(
        tool_descriptions=format_tools(pair["tools"]),
        user_query=query_text(pair["query"]),
        trajectory_a_log=format_trajectory(first),
        trajectory_b_log=format_trajectory(second),
    )


def toolrm_prompt(pair: dict[str, Any], swapped: bool, variant: str) -> str:
    """Our ToolRM pairwise prompt: tools and query as the history, trajectories as the responses."""
    history = [
        {"role": "system", "content": "Available tools:\n" + format_tools(pair["tools"])},
        {"role": "user", "content": query_text(pair["query"])},
    ]
    first, second = (pair["reject"], pair["chosen"]) if swapped else (pair["chosen"], pair["reject"])
    messages = pairwise_prompt_messages(history, format_trajectory(first), format_trajectory(second), variant)
    return messages[0]["content"]


def rm_chat(pair: dict[str, Any], side: str) -> list[dict[str, str]]:
    """The chat the source's local scalar-RM path scores for one trajectory.

    A user turn holding the tools and the query, then the trajectory: user and assistant turns
    as they are, every other role (``tool_call``, ``tool_response``) as an assistant turn tagged
    ``[TOOL_CALL] ...`` (with ``name=`` when the message has one); structured content as JSON.
    """
    header = (
        f"<tool_environment>\n{format_tools_for_rm(pair['tools'])}\n</tool_environment>\n"
        f"<user_query>\n{pair['query']}\n</user_query>"
    )
    chat = [{"role": "user", "content": header}]
    for message in pair[side]:
        role, content, name = message.get("role", ""), message.get("content", ""), message.get("name")
        if isinstance(content, dict | list):
            content = json.dumps(content, ensure_ascii=False)
        if role in ("user", "assistant"):
            chat.append({"role": role, "content": str(content)})
            continue
        tag = role.upper()
        label = (
            f"[{tag} name={name}]" if name and role in ("tool_call", "tool_response", "tool") else f"[{tag}]"
        )
        chat.append({"role": "assistant", "content": f"{label} {content}"})
    return chat


def format_tools_for_rm(tools: list[Any]) -> str:
    """The RM path dumps the tools as indented JSON even when there are none (``[]``)."""
    return json.dumps(tools, ensure_ascii=False, indent=2)


@cache
def _cl100k() -> Any:
    try:
        import tiktoken

        return tiktoken.get_encoding("cl100k_base")
    except Exception as error:  # offline without a cached encoding file: the source's own fallback
        log.warning(
            "cl100k_base unavailable (%s); counting tokens as characters // 3, as the source does", error
        )
        return None


def counts_with_cl100k() -> bool:
    return _cl100k() is not None


def count_tokens(text: str) -> int:
    if not text:
        return 0
    encoding = _cl100k()
    if encoding is not None:
        try:
            return len(encoding.encode(str(text)))
        except ValueError:  # special-token text: the source falls back for that text as well
            pass
    return len(str(text)) // 3


def pair_tokens(pair: dict[str, Any]) -> int:
    """The source's "full context" length: both trajectories' contents, the tools, the query."""

    def messages_tokens(messages: list[dict[str, Any]]) -> int:
        total = 0
        for message in messages:
            content = message.get("content", "")
            if isinstance(content, dict | list):
                content = json.dumps(content, ensure_ascii=False)
            total += count_tokens(str(content))
        return total

    return (
        messages_tokens(pair["chosen"])
        + messages_tokens(pair["reject"])
        + count_tokens(format_tools(pair["tools"]))
        + count_tokens(str(pair["query"]))
    )


def length_bin(tokens: int) -> str:
    for low, high, name in LENGTH_BINS:
        if low <= tokens < high:
            return name
    return LONGEST_BIN
