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
BENCHMARKS = (TRBENCH, BEST_OF_N, SELF_CORRECTION)

VARIANTS = ("think", "no_think", "disc")

_CATEGORY_ALTERNATIVES = "|".join(sorted(CATEGORY_NAMES, key=len, reverse=True))
_TRBENCH_PATTERN = re.compile(
    rf"^trbench_bfcl(?:_(?P<hub>hub))?_(?P<variant>no_think|think|disc)(?:_(?P<category>{_CATEGORY_ALTERNATIVES}))?$"
)
_CURVE_PATTERN = re.compile(
    rf"^(?P<benchmark>{BEST_OF_N}|{SELF_CORRECTION})_(?P<variant>no_think|think|disc)$"
)
_BON_SIZE_PATTERN = re.compile(rf"^{BEST_OF_N}_(?P<variant>no_think|think|disc)_n(?P<size>[1-9][0-9]*)$")
"""``trbench_bon_think_n4``: the same task as ``trbench_bon_think`` on sets of 4 candidates (the
``_2perm``, ``_knockout`` and ``_allpairs`` protocols are other judges and are not read)."""


@dataclass(frozen=True)
class TaskId:
    name: str
    """The task name as the results file spells it."""
    benchmark: str
    """``trbench_bfcl``, ``trbench_bon`` or ``trbench_selfcorrect``: one table each."""
    variant: str
    """``think`` / ``no_think`` (generative judge prompts) or ``disc`` (scalar reward model)."""
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
    found = _CURVE_PATTERN.match(name)
    if found:
        return TaskId(name, found["benchmark"], found["variant"], "embedded")
    found = _BON_SIZE_PATTERN.match(name)
    if found:
        return TaskId(name, BEST_OF_N, found["variant"], "embedded", size=int(found["size"]))
    return None
