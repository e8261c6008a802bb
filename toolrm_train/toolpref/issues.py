"""Counted skips: every input the pipeline does not use is recorded with a reason and a location.

Nothing is dropped silently. Each skip names the file and row (or trajectory/context) and the field
at fault; the log is printed at the end of a run and saved in the output's ``stats.json``. In strict
mode the first problem raises :class:`~harness_tasks.trbench_bfcl.dataset.DataFormatError` instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness_tasks.trbench_bfcl.dataset import DataFormatError


EXAMPLES_PER_REASON = 5


@dataclass(frozen=True)
class Issue:
    stage: str
    """Pipeline step that skipped it: ``read``, ``normalise``, ``validate``, ``segment``, ``sample``."""
    reason: str
    """Short machine-readable cause, e.g. ``invalid_json``, ``unknown_tool``."""
    where: str
    """File and row (``data.jsonl, line 3``) or a trajectory/context id."""
    field: str = ""
    detail: str = ""

    def describe(self) -> str:
        at_field = f", field {self.field!r}" if self.field else ""
        return f"{self.where}{at_field}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class IssueLog:
    """Skips by stage and reason, with the first few examples of each kept for the report."""

    strict: bool = False
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], list[Issue]] = field(default_factory=dict)

    def add(self, issue: Issue) -> None:
        if self.strict:
            raise DataFormatError(issue.describe())
        key = (issue.stage, issue.reason)
        self.counts[key] += 1
        kept = self.examples.setdefault(key, [])
        if len(kept) < EXAMPLES_PER_REASON:
            kept.append(issue)

    def skip(self, stage: str, reason: str, where: str, field: str = "", detail: str = "") -> None:
        self.add(Issue(stage, reason, where, field, detail))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, stage: str | None = None, reason: str | None = None) -> int:
        return sum(
            n
            for (s, r), n in self.counts.items()
            if (stage is None or s == stage) and (reason is None or r == reason)
        )

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "stage": stage,
                "reason": reason,
                "count": n,
                "examples": [issue.describe() for issue in self.examples.get((stage, reason), [])],
            }
            for (stage, reason), n in sorted(self.counts.items())
        ]
