"""Difficulty-aware filtering: keep only contexts that separate the samplers.

The paper drops a context when every sampler succeeds ("too easy") and when every sampler fails
("too difficult"), keeping the rest in the candidate pool (paper.md §3.2e). A candidate *solves*
a context when its rule-based score reaches ``solve_threshold`` (default 1.0: an exact match; the
paper's threshold is not recoverable). The rule applies to all candidates of a context together,
from all samplers and all their samples: too easy = every candidate solves, too hard = none does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from toolrm_train.toolpref.trajectory import Candidate, Segment


KEPT, TOO_EASY, TOO_HARD, NO_CANDIDATES = "kept", "too_easy", "too_hard", "no_candidates"


def difficulty_verdict(candidates: Sequence[Candidate], solve_threshold: float = 1.0) -> str:
    if not candidates:
        return NO_CANDIDATES
    solved = [candidate.score >= solve_threshold for candidate in candidates]
    if all(solved):
        return TOO_EASY
    if not any(solved):
        return TOO_HARD
    return KEPT


@dataclass
class DifficultyFilterResult:
    kept: list[Segment]
    dropped: dict[str, list[str]] = field(default_factory=dict)
    """Verdict (``too_easy``, ``too_hard``, ``no_candidates``) → context ids."""

    def counts(self) -> dict[str, int]:
        return {KEPT: len(self.kept), **{verdict: len(ids) for verdict, ids in self.dropped.items()}}


def filter_by_difficulty(
    segments: Sequence[Segment],
    candidates: Mapping[str, Sequence[Candidate]],
    solve_threshold: float = 1.0,
) -> DifficultyFilterResult:
    result = DifficultyFilterResult(kept=[], dropped={TOO_EASY: [], TOO_HARD: [], NO_CANDIDATES: []})
    for segment in segments:
        verdict = difficulty_verdict(candidates.get(segment.context_id, ()), solve_threshold)
        if verdict == KEPT:
            result.kept.append(segment)
        else:
            result.dropped[verdict].append(segment.context_id)
    return result
