"""Balanced ranked sampling of pairs over task complexity, preference intensity and data source.

The paper draws ToolPref-Pairwise-30K from the candidate pool so that it is "challenging"
(complexity), "balancing" (intensity) and "diversifying" (source) (paper.md §3.3c); its ranking,
bucket and quota rules are not public. Ours:

1. Each pair falls in one bucket per axis: its source, a complexity bucket (edges below) and an
   intensity bucket (``(0, .25]``, ``(.25, .5]``, ``(.5, .75]``, ``(.75, 1]`` by default).
2. *Rank*: the pairs of each context are shuffled (seeded) and numbered 0, 1, 2, …; ranks at or
   above ``max_pairs_per_context`` leave the pool. Each stratum (source × complexity × intensity
   bucket) is a queue ordered by rank, so a stratum gives the first pair of each of its contexts
   before a second pair of any (context diversity within the balance).
3. *Balance*: pairs are drawn one at a time from the stratum whose three axis values are,
   together, furthest below a uniform share of what has been drawn so far: cost = Σ over axes of
   (drawn with that value) × (number of values of the axis); ties go to the lower-ranked pair.
   Scarce values are taken whole and the rest fill up evenly, until ``target_size`` pairs.

Deterministic given ``seed``. When the pool is smaller than the target, all of it is returned.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass

from toolrm_train.toolpref.trajectory import Pair


AXES = ("complexity", "intensity", "source")


@dataclass(frozen=True)
class Buckets:
    complexity_edges: tuple[int, ...] = (1, 2, 3, 5, 8)
    """Lower bounds of the complexity buckets after the first: 0 | 1 | 2 | 3-4 | 5-7 | 8+."""
    intensity_edges: tuple[float, ...] = (0.25, 0.5, 0.75)
    """Upper bounds (inclusive) of the intensity buckets before the last."""

    def complexity(self, value: int) -> str:
        lower = 0
        for edge in self.complexity_edges:
            if value < edge:
                return str(lower) if edge - 1 == lower else f"{lower}-{edge - 1}"
            lower = edge
        return f"{lower}+"

    def intensity(self, value: float) -> str:
        lower = 0.0
        for edge in self.intensity_edges:
            if value <= edge + 1e-9:
                return f"({lower:.2f}, {edge:.2f}]"
            lower = edge
        return f"({lower:.2f}, 1.00]"

    def complexity_labels(self) -> list[str]:
        return [self.complexity(edge) for edge in (0, *self.complexity_edges)]

    def intensity_labels(self) -> list[str]:
        return [self.intensity(edge) for edge in (*self.intensity_edges, 1.0)]

    def of(self, pair: Pair) -> dict[str, str]:
        """The pair's bucket on each axis."""
        return {
            "complexity": self.complexity(pair.segment.complexity),
            "intensity": self.intensity(pair.intensity),
            "source": pair.segment.source,
        }


def rank_within_context(pairs: Sequence[Pair], seed: int) -> dict[str, int]:
    """``pair_id`` → rank among its context's pairs (seeded shuffle)."""
    by_context: dict[str, list[Pair]] = defaultdict(list)
    for pair in pairs:
        by_context[pair.segment.context_id].append(pair)
    ranks = {}
    for context_id in sorted(by_context):
        members = sorted(by_context[context_id], key=lambda p: p.pair_id)
        random.Random(f"{seed}|rank|{context_id}").shuffle(members)
        ranks.update({pair.pair_id: rank for rank, pair in enumerate(members)})
    return ranks


def balanced_sample(
    pairs: Sequence[Pair],
    target_size: int,
    *,
    seed: int = 0,
    max_pairs_per_context: int | None = 4,
    buckets: Buckets = Buckets(),
) -> list[Pair]:
    """Up to ``target_size`` pairs, balanced over the three axes (rules in the module docstring)."""
    ranks = rank_within_context(pairs, seed)
    pool = [p for p in pairs if max_pairs_per_context is None or ranks[p.pair_id] < max_pairs_per_context]
    if target_size >= len(pool):
        return sorted(pool, key=lambda p: (ranks[p.pair_id], p.pair_id))

    tiebreak = random.Random(f"{seed}|balance")
    strata: dict[tuple[str, str, str], list[tuple[int, float, Pair]]] = defaultdict(list)
    for pair in pool:
        b = buckets.of(pair)
        strata[(b["complexity"], b["intensity"], b["source"])].append(
            (ranks[pair.pair_id], tiebreak.random(), pair)
        )
    queues = {
        key: deque(pair for *_, pair in sorted(items, key=lambda t: t[:2])) for key, items in strata.items()
    }
    n_values = [len({key[axis] for key in queues}) for axis in range(len(AXES))]
    drawn: list[Counter[str]] = [Counter() for _ in AXES]
    order = sorted(queues)  # fixed scan order makes ties deterministic

    selected: list[Pair] = []
    while len(selected) < target_size:
        best_key, best_cost = None, None
        for key in order:
            queue = queues[key]
            if not queue:
                continue
            cost = (
                sum(drawn[axis][key[axis]] * n_values[axis] for axis in range(len(AXES))),
                ranks[queue[0].pair_id],
            )
            if best_cost is None or cost < best_cost:
                best_key, best_cost = key, cost
        if best_key is None:
            break
        pair = queues[best_key].popleft()
        selected.append(pair)
        for axis in range(len(AXES)):
            drawn[axis][best_key[axis]] += 1
    return selected
