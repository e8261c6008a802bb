"""Multi-turn conversations replayed from BFCL's ground truth, executed on BFCL's own back-ends.

The context for turn ``k`` is what a model sees when it reaches that turn having done everything
right so far: the tools, then for each earlier turn the user's message, one assistant message with
all of that turn's ground-truth calls, and one ``tool`` message per call holding the real result
(BFCL's executor returns strings); then the user's message of turn ``k``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness_tasks.tool_calls import ToolCall, format_tool_calls, render_tools_system_prompt
from harness_tasks.trbench_build.bfcl_runtime import backend_scope, multi_turn_utils_module
from harness_tasks.trbench_build.bfcl_source import BfclItem
from harness_tasks.trbench_build.ground_truth import call_string, multi_turn_ground_truth_calls


@dataclass(frozen=True)
class ReplayedEpisode:
    """A multi-turn item with its ground truth as tool calls and their execution results, per turn."""

    item: BfclItem
    calls: list[list[ToolCall]]
    results: list[list[str]]

    def chat_history(self, turn_index: int) -> list[dict[str, str]]:
        """The conversation up to and including the user's message of ``turn_index``."""
        history = [{"role": "system", "content": render_tools_system_prompt(self.item.functions)}]
        for turn in range(turn_index):
            history.extend(_plain_messages(self.item.turns[turn]))
            if self.calls[turn]:
                history.append({"role": "assistant", "content": format_tool_calls(self.calls[turn])})
                history.extend({"role": "tool", "content": result} for result in self.results[turn])
        history.extend(_plain_messages(self.item.turns[turn_index]))
        return history

    def user_text(self, turn_index: int) -> str:
        return "\n".join(m["content"] for m in self.item.turns[turn_index] if m["role"] == "user")


def _plain_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def replay_ground_truth(item: BfclItem) -> ReplayedEpisode:
    """Execute every turn's ground-truth calls in order on fresh back-end instances."""
    if not item.is_multi_turn:
        raise ValueError(f"{item.id} is a single-turn item; only multi-turn items are replayed")
    calls = multi_turn_ground_truth_calls(item.ground_truth, item.entry["involved_classes"])
    utils = multi_turn_utils_module()
    results: list[list[str]] = []
    with backend_scope("replay") as model_name:
        for turn_calls in calls:
            turn_results, _ = utils.execute_multi_turn_func_call(
                func_call_list=[call_string(call) for call in turn_calls],
                initial_config=item.entry["initial_config"],
                involved_classes=item.entry["involved_classes"],
                model_name=model_name,
                test_entry_id=item.id,
            )
            if len(turn_results) != len(turn_calls):
                raise RuntimeError(
                    f"{item.id}: {len(turn_calls)} ground-truth calls gave {len(turn_results)} results"
                )
            results.append([str(result) for result in turn_results])
    return ReplayedEpisode(item, calls, results)
