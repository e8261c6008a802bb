"""Chosen/rejected pairs from scored responses of one context ("Permutate" in the paper's figure).

The responses of a context are its ground truth (score 1, from ``ground truth``) and its distinct
candidates. Every two responses whose scores differ by more than ``min_intensity`` form a pair,
the higher-scoring one chosen; preference intensity is the difference (``reward_difference``).
So pairs are ground truth × sample and sample × sample, as in the release (``chosen_response_from``
has one more class than ``reject_response_from``: the ground truth is never rejected). Candidates
with the same text are one response (the first sampler that produced it is named), so two
samplers making the same mistake do not yield the same pair twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolrm_train.toolpref.trajectory import GROUND_TRUTH, Candidate, Pair, Segment


def ground_truth_candidate(segment: Segment) -> Candidate:
    return Candidate(segment.context_id, GROUND_TRUTH, segment.ground_truth, 1.0, GROUND_TRUTH)


def distinct_responses(segment: Segment, candidates: Sequence[Candidate]) -> list[Candidate]:
    """Ground truth first, then candidates in order, each distinct text once."""
    responses = [ground_truth_candidate(segment)]
    seen = {segment.ground_truth.strip()}
    for candidate in candidates:
        key = candidate.text.strip()
        if key not in seen:
            seen.add(key)
            responses.append(candidate)
    return responses


def _response_key(candidate: Candidate) -> str:
    return (
        GROUND_TRUTH if candidate.sampler == GROUND_TRUTH else f"{candidate.sampler}#{candidate.sample_index}"
    )


def build_pairs(
    segment: Segment,
    candidates: Sequence[Candidate],
    *,
    min_intensity: float = 0.0,
    include_ground_truth: bool = True,
) -> list[Pair]:
    """All pairs of the context with ``chosen.score - rejected.score > min_intensity``."""
    responses = distinct_responses(segment, candidates)
    if not include_ground_truth:
        responses = responses[1:]
    pairs = []
    for chosen in responses:
        for rejected in responses:
            if chosen.score - rejected.score > min_intensity + 1e-9:
                pair_id = f"{segment.context_id}|{_response_key(chosen)}>{_response_key(rejected)}"
                pairs.append(Pair(pair_id, segment, chosen, rejected))
    return pairs
