"""Which lm-eval task names the leaderboard understands, and what each one measures.

A results file names tasks only by string; everything the tables need to know about a task (which
benchmark, prompt variant, data source, whether it covers one category only) is decoded here, in
one place, so that reading, checking and rendering agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness_tasks.categories import CATEGORY_NAMES


TRBENCH = "trbench_bfcl"
BEST_OF_N = "trbench_bon"
SELF_CORRECTION = "trbench_selfcorrect"
FC_PAIRWISE = "fc_rewardbench"
FC_POINTWISE = "fc_rewardbench_pointwise"
PLAN = "plan_rewardbench"

VARIANTS = ("think", "no_think", "disc", "source")
"""``source``: a generative judge run with the benchmark's own prompt (``plan_rewardbench``)."""

_CATEGORY_ALTERNATIVES = "|".join(sorted(CATEGORY_NAMES, key=len, reverse=True))
_TRBENCH_PATTERN = re.compile(
    rf"^trbench_bfcl(?:_(?P<hub>hub))?_(?P<variant>no_think|think|disc)(?:_(?P<category>{_CATEGORY_ALTERNATIVES}))?$"
)
_CURVE_PATTERN = re.compile(
    rf"^(?P<benchmark>{BEST_OF_N}|{SELF_CORRECTION})_(?P<variant>no_think|think|disc)$"
)
_REWARD_BENCH_TASKS: dict[str, tuple[str, str]] = {
    FC_PAIRWISE: (FC_PAIRWISE, "think"),  # the short name runs the think prompt
    "fc_rewardbench_think": (FC_PAIRWISE, "think"),
    "fc_rewardbench_no_think": (FC_PAIRWISE, "no_think"),
    "fc_rewardbench_disc": (FC_PAIRWISE, "disc"),
    FC_POINTWISE: (FC_POINTWISE, "no_think"),  # the short name runs the no_think prompt
    "fc_rewardbench_pointwise_think": (FC_POINTWISE, "think"),
    "fc_rewardbench_pointwise_no_think": (FC_POINTWISE, "no_think"),
    PLAN: (PLAN, "source"),  # the source's own judge prompt
    "plan_rewardbench_toolrm_think": (PLAN, "think"),
    "plan_rewardbench_toolrm_no_think": (PLAN, "no_think"),
    "plan_rewardbench_disc": (PLAN, "disc"),
}
"""FC-RewardBench (pairwise, pointwise) and Plan-RewardBench task names -> (benchmark, variant),
as their task folders' YAMLs define them."""
_BON_SIZE_PATTERN = re.compile(rf"^{BEST_OF_N}_(?P<variant>no_think|think|disc)_n(?P<size>[1-9][0-9]*)$")
"""``trbench_bon_think_n4``: the same task as ``trbench_bon_think`` on sets of 4 candidates (the
``_2perm``, ``_knockout`` and ``_allpairs`` protocols are other judges and are not read)."""


@dataclass(frozen=True)
class TaskId:
    name: str
    """The task name as the results file spells it."""
    benchmark: str
    """``trbench_bfcl``, ``trbench_bon``, ``trbench_selfcorrect``, ``fc_rewardbench``,
    ``fc_rewardbench_pointwise`` or ``plan_rewardbench``: one table each."""
    variant: str
    """``think`` / ``no_think`` (generative judge prompts), ``disc`` (scalar reward model) or
    ``source`` (a judge with the benchmark's own prompt)."""
    source: str
    """``embedded`` (our build) or ``hub`` (the released data)."""
    category: str | None = None
    """Set for per-category tasks (``trbench_bfcl_think_live_simple``): a partial run."""
    size: int | None = None
    """Set for Best-of-N size variants (``trbench_bon_think_n4`` -> 4): more points of the same
    curve, joined with the default task's into one row."""

    @property
    def canonical(self) -> str:
        """The full task this one belongs to; results of one canonical task must share a version.

        ``trbench_bfcl`` is the ``think`` task under its short name, and a per-category task is
        generated from the same config as its full task, so both map to ``trbench_bfcl_think``;
        likewise a Best-of-N size variant (``trbench_bon_think_n4``) maps to ``trbench_bon_think``.
        """
        if self.benchmark == PLAN:
            return {"source": PLAN, "disc": f"{PLAN}_disc"}.get(self.variant, f"{PLAN}_toolrm_{self.variant}")
        if self.benchmark != TRBENCH:
            return f"{self.benchmark}_{self.variant}"
        hub = "_hub" if self.source == "hub" else ""
        return f"{TRBENCH}{hub}_{self.variant}"


def parse_task_name(name: str) -> TaskId | None:
    """Decode a task name; ``None`` for tasks that are not ours (a results file may hold others)."""
    if name == TRBENCH:
        return TaskId(name, TRBENCH, "think", "embedded")
    found = _TRBENCH_PATTERN.match(name)
    if found:
        source = "hub" if found["hub"] else "embedded"
        return TaskId(name, TRBENCH, found["variant"], source, found["category"])
    if name in _REWARD_BENCH_TASKS:
        benchmark, variant = _REWARD_BENCH_TASKS[name]
        return TaskId(name, benchmark, variant, "hub")
    found = _CURVE_PATTERN.match(name)
    if found:
        return TaskId(name, found["benchmark"], found["variant"], "embedded")
    found = _BON_SIZE_PATTERN.match(name)
    if found:
        return TaskId(name, BEST_OF_N, found["variant"], "embedded", size=int(found["size"]))
    return None
