"""The pipeline's internal records: a normalised trajectory, one segment of it, a scored candidate, a pair.

Every reader normalises its input to :class:`Trajectory` (Hermes function calling: tools in the
system turn, ``<tool_call>`` JSON in assistant turns, tool results in ``tool`` turns), so every later
step handles one format. The records are plain dataclasses that round-trip through JSON, which is
how candidates are cached between runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from harness_tasks.tool_calls import ToolCall, parse_tool_calls, render_tools_system_prompt


Message = dict[str, str]
"""``{"role": "user" | "assistant" | "tool" | "system", "content": str}``; assistant calls are in content."""

GROUND_TRUTH = "ground truth"
"""``*_response_from`` value of the ground-truth response, as in the released data."""


@dataclass
class Trajectory:
    """One conversation in Hermes form; ``turns`` excludes the system turn, which is rendered from tools."""

    trajectory_id: str
    """Unique across all inputs: ``<source>/<raw_id>``; splits are drawn by this id."""
    source: str
    """Data source, one value of the balanced sample's source axis (e.g. a BFCL category)."""
    raw_id: str
    tools: list[dict[str, Any]]
    """Function docs (``{"name", "description", "parameters"}``), schemas as the source gives them."""
    turns: list[Message]
    system_prompt: str | None = None
    """The conversation's own system text (e.g. an agent policy), placed before the tool list."""
    origin: str = ""
    """Where it was read: ``file, line N`` / ``file, row N``; error messages quote it."""

    def system_message(self) -> Message:
        return {"role": "system", "content": render_tools_system_prompt(self.tools, self.system_prompt)}

    def messages(self) -> list[Message]:
        return [self.system_message(), *self.turns]


@dataclass
class Segment:
    """One (context, ground-truth assistant turn) sample cut from a trajectory."""

    context_id: str
    """``<trajectory_id>#<turn index>``; stable across runs, keys the candidate cache."""
    trajectory_id: str
    source: str
    raw_id: str
    turn_index: int
    """Index of the ground-truth assistant turn in ``Trajectory.turns``."""
    chat_history: list[Message]
    """System turn (tools) plus every turn before the ground truth."""
    tools: list[dict[str, Any]]
    ground_truth: str
    """The ground-truth assistant turn, Hermes text."""
    complexity: int
    """Task complexity: calls already made in the context plus calls in the ground truth (README)."""
    origin: str = ""

    @property
    def gt_calls(self) -> tuple[ToolCall, ...]:
        return parse_tool_calls(self.ground_truth).calls

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Candidate:
    """A response to a segment's context, from a sampler or the ground truth, with its rule-based score."""

    context_id: str
    sampler: str
    """Who produced it: a sampler name, or :data:`GROUND_TRUTH`."""
    text: str
    score: float = 0.0
    message: str = ""
    """The scorer's label (``exact_match``, ``wrong_call_count``, ...) or ``ground truth``."""
    sample_index: int = 0


@dataclass
class Pair:
    """A chosen/rejected pair over one context: ``chosen.score > rejected.score``."""

    pair_id: str
    segment: Segment
    chosen: Candidate
    rejected: Candidate
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def intensity(self) -> float:
        """Preference intensity, the paper's ``I = s⁺ − s⁻`` (``reward_difference``)."""
        return round(self.chosen.score - self.rejected.score, 6)
