"""Cut trajectories into (context, ground-truth assistant turn) samples, one per tool-call turn.

Each assistant turn that makes tool calls becomes a :class:`~toolrm_train.toolpref.trajectory.Segment`
whose context is the system turn (tools) plus every earlier turn, as the paper's τ_j = (x_j, y_j).
Assistant turns that only talk are not samples by default: the rule-based scorer cannot check free
text, so every text candidate would tie with the ground truth (``include_text_turns`` keeps them).
Turns that fail the self-check (:func:`~toolrm_train.toolpref.validate.turn_problem`) are counted skips.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from harness_tasks.tool_calls import parse_tool_calls
from toolrm_train.toolpref.issues import IssueLog
from toolrm_train.toolpref.trajectory import Segment, Trajectory
from toolrm_train.toolpref.validate import turn_problem


def count_calls(content: str) -> int:
    return len(parse_tool_calls(content).calls)


def task_complexity(context_turns: list[dict[str, str]], ground_truth: str) -> int:
    """Calls already made in the context plus calls the ground-truth turn makes.

    The paper's ``task_complexity`` (integers 0-50) is not defined in any recoverable source; this
    measure grows with both the length of the tool-use history and the number of calls to produce,
    is 0 only for a text answer with no prior calls, and separates BFCL's simple and parallel items.
    """
    prior = sum(count_calls(turn["content"]) for turn in context_turns if turn["role"] == "assistant")
    return prior + count_calls(ground_truth)


def segment_trajectory(
    trajectory: Trajectory, log: IssueLog, *, include_text_turns: bool = False
) -> list[Segment]:
    segments = []
    system = trajectory.system_message()
    for index, turn in enumerate(trajectory.turns):
        if turn["role"] != "assistant":
            continue
        parsed = parse_tool_calls(turn["content"])
        if not parsed.calls and parsed.is_well_formed and not include_text_turns:
            continue
        problem = turn_problem(trajectory, index)
        if problem is not None:
            log.skip(
                "validate",
                problem.reason,
                f"{trajectory.origin} ({trajectory.trajectory_id}, turn {index})",
                problem.field,
                problem.detail,
            )
            continue
        context_turns = trajectory.turns[:index]
        segments.append(
            Segment(
                context_id=f"{trajectory.trajectory_id}#{index}",
                trajectory_id=trajectory.trajectory_id,
                source=trajectory.source,
                raw_id=trajectory.raw_id,
                turn_index=index,
                chat_history=[system, *context_turns],
                tools=trajectory.tools,
                ground_truth=turn["content"],
                complexity=task_complexity(context_turns, turn["content"]),
                origin=trajectory.origin,
            )
        )
    return segments


def segment_all(
    trajectories: Iterable[Trajectory], log: IssueLog, *, include_text_turns: bool = False
) -> Iterator[Segment]:
    for trajectory in trajectories:
        skipped_before = log.total
        segments = segment_trajectory(trajectory, log, include_text_turns=include_text_turns)
        if not segments and log.total == skipped_before:  # no turn was skipped, so none makes a call
            log.skip("segment", "no_tool_call_turn", f"{trajectory.origin} ({trajectory.trajectory_id})")
        yield from segments
