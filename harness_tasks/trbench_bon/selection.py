"""Best-of-N selection protocols as pure functions: who is shown where, what the judge's answers select.

Protocols (costs for one item with N candidates; a "call" is one judge generation or RM forward):

``listwise``
    One prompt with all N candidates in a seeded permutation; the judge names one (``<choice>K``).
    1 call. No valid answer -> no selection (counts as wrong and as an invalid selection).
``listwise_2perm``
    The same under two permutations, the second the reverse of the first (each candidate's
    position mirrored), so a position-biased judge disagrees with itself. 2 calls. Both valid and
    equal -> that one; both valid but different -> a seeded coin between the two (tie rule); one
    valid -> that one; none -> no selection.
``knockout``
    A single-elimination bracket over the seeded permutation: (1st, 2nd), (3rd, 4th), ...; an odd
    one out advances with a bye; rounds until one is left. N-1 comparisons in ceil(log2 N) rounds.
    With ``both_orders`` (default) each comparison asks the pairwise judge twice, once per order
    (2(N-1) calls). Comparison tie rule (:func:`decide_comparison`): the candidate chosen in both
    orders wins; with one valid answer, that answer decides; orders that disagree are a tie,
    decided by a seeded coin; with no valid answer a seeded coin decides (counted invalid).
``all_pairs``
    Every pair once (N(N-1)/2 comparisons, twice that many calls with both orders), each won
    comparison one point, a split or coin half a point each; most points wins, ties among the top
    broken by a seeded choice (Copeland).
``scalar``
    One score per candidate from a scalar RM; the highest wins; ties go to the earliest candidate
    (the lowest index, i.e. the first sample). ``tie_split`` reports, beside it, the expected
    accuracy when ties are split evenly (RewardBench 2's rule).

Every seeded choice uses ``random.Random`` seeded with a string naming what it decides, so runs
repeat exactly and do not depend on evaluation order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness_tasks.input_boundary import parse_bounded_int
from harness_tasks.judgment import strip_think


PROTOCOLS = ("listwise", "listwise_2perm", "knockout", "all_pairs", "scalar")


def seeded(*parts: object) -> random.Random:
    return random.Random("/".join(str(part) for part in parts))


def permutation(n: int, seed: int, item_id: str) -> list[int]:
    """Display order: position ``p`` (0-based) shows candidate ``perm[p]``."""
    order = list(range(n))
    seeded(seed, item_id, "permutation").shuffle(order)
    return order


# ---------------------------------------------------------------- reading the judge's answer


def _first_block(text: str, open_tag: str, close_tag: str) -> str | None:
    start = text.find(open_tag)
    if start < 0:
        return None
    end = text.find(close_tag, start + len(open_tag))
    return None if end < 0 else text[start + len(open_tag) : end]


def parse_index_choice(text: str, n: int) -> int | None:
    """The judge's ``<choice>`` as a 1-based number in ``1..n``; ``None`` when there is none.

    The pairwise parser's rules (:mod:`harness_tasks.judgment`) with the answer range widened to
    ``1..n``: reasoning in ``<think>`` is dropped, the first ``<choice>\\nK\\n</choice>`` is read,
    else the first ``<choice>K</choice>``. Scanned with ``str.find``: linear on any input.
    """
    visible = strip_think(text)
    strict = _first_block(visible, "<choice>\n", "\n</choice>")
    for candidate in (strict, _first_block(visible, "<choice>", "</choice>")):
        if candidate is None:
            continue
        value = parse_bounded_int(candidate)  # None past 18 digits: int() fails past 4,300
        if value is not None and 1 <= value <= n:
            return value
        return None  # the reference parser reads the first match only
    return None


# ---------------------------------------------------------------- listwise


@dataclass
class Selection:
    selected: int | None
    """Candidate index (0-based, in the set's own order); ``None`` = no valid selection."""
    invalid_selection: bool = False
    """The selection rests on no valid answer (none, or a coin among candidates)."""
    judge_calls: int = 0
    comparisons: int = 0
    gen_tokens: int = 0
    invalid_answers: int = 0
    answered_positions: list[int] = field(default_factory=list)
    """Display positions (1-based) of the valid listwise answers, for the first-position rate."""
    consistent: bool | None = None
    """``listwise_2perm``: both answers valid and naming the same candidate."""
    log: list[dict] = field(default_factory=list)
    """What was asked and answered, for ``--log_samples``."""


def listwise_orders(n: int, seed: int, item_id: str, two_permutations: bool) -> list[list[int]]:
    first = permutation(n, seed, item_id)
    return [first, first[::-1]] if two_permutations else [first]


def select_listwise(
    orders: Sequence[Sequence[int]], outputs: Sequence[str], seed: int, item_id: str
) -> Selection:
    n = len(orders[0])
    picks: list[int | None] = []
    positions: list[int] = []
    log = []
    for order, output in zip(orders, outputs, strict=True):
        answer = parse_index_choice(output, n)
        pick = None if answer is None else order[answer - 1]
        if answer is not None:
            positions.append(answer)
        picks.append(pick)
        log.append({"shown": list(order), "answer": answer, "selected": pick})
    valid = [p for p in picks if p is not None]
    consistent = None
    if len(orders) == 2:
        consistent = len(valid) == 2 and valid[0] == valid[1]
    if not valid:
        selected = None
    elif len(set(valid)) == 1:
        selected = valid[0]
    else:
        selected = seeded(seed, item_id, "listwise-tie").choice(valid)
    return Selection(
        selected,
        invalid_selection=selected is None,
        judge_calls=len(orders),
        invalid_answers=len(picks) - len(valid),
        answered_positions=positions,
        consistent=consistent,
        log=log,
    )


# ---------------------------------------------------------------- pairwise comparisons


@dataclass(frozen=True)
class Match:
    first: int
    second: int
    """Candidate indices; ``first`` is shown as response 1 in the first order."""


def match_orders(match: Match, both_orders: bool) -> list[tuple[int, int]]:
    """(response_1, response_2) candidate pairs the judge is asked about for one comparison."""
    forward = (match.first, match.second)
    return [forward, (match.second, match.first)] if both_orders else [forward]


def decide_comparison(match: Match, answers: Sequence[int | None], rng: random.Random) -> tuple[int, str]:
    """Winner of one comparison and how it was decided.

    ``answers[k]`` is the judge's 1/2 (or ``None``) for ``match_orders(...)[k]``. Declared rule:
    agreeing valid answers decide (``"consistent"``); one valid answer decides (``"one_valid"``);
    valid answers that disagree are a tie, decided by a seeded coin (``"split"``); no valid answer
    is decided by a seeded coin too (``"invalid"``).
    """
    votes = []
    for (one, two), answer in zip(match_orders(match, len(answers) == 2), answers, strict=True):
        if answer == 1:
            votes.append(one)
        elif answer == 2:
            votes.append(two)
    if not votes:
        return rng.choice([match.first, match.second]), "invalid"
    if len(votes) == 1:
        return votes[0], "one_valid" if len(answers) == 2 else "consistent"
    if votes[0] == votes[1]:
        return votes[0], "consistent"
    return rng.choice([match.first, match.second]), "split"


def knockout_round(entrants: Sequence[int]) -> tuple[list[Match], int | None]:
    """This round's matches over ``entrants`` (bracket order) and the bye, if the count is odd."""
    matches = [Match(entrants[i], entrants[i + 1]) for i in range(0, len(entrants) - 1, 2)]
    bye = entrants[-1] if len(entrants) % 2 else None
    return matches, bye


def all_pairs_matches(order: Sequence[int]) -> list[Match]:
    return [Match(order[i], order[j]) for i in range(len(order)) for j in range(i + 1, len(order))]


def copeland_winner(points: dict[int, float], order: Sequence[int], rng: random.Random) -> int:
    best = max(points.values())
    tied = [c for c in order if points[c] == best]
    return tied[0] if len(tied) == 1 else rng.choice(tied)


# ---------------------------------------------------------------- scalar


def select_scalar(scores: Sequence[float], correct: Sequence[bool]) -> tuple[int, float]:
    """(argmax with ties to the lowest index, expected accuracy with ties split evenly)."""
    best = max(scores)
    tied = [i for i, score in enumerate(scores) if score == best]
    return tied[0], sum(correct[i] for i in tied) / len(tied)
