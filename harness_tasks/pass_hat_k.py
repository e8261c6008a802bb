"""pass^k: how reliably a system succeeds on an item *every* time, from repeated trials.

tau-bench's reliability metric (``sierra-research/tau-bench``, ``display_metrics``): an item tried
``n`` times with ``c`` successes contributes ``C(c, k) / C(n, k)``, the chance that ``k`` trials
drawn without replacement from its ``n`` all succeed; pass^k is the mean over items. pass^1 is the
plain mean accuracy; pass^k falls with k as soon as an item sometimes fails, which is the point:
a judge that is right 60% of the time on every item has pass^1 0.6 but pass^4 about 0.13.

This module is the metric alone. A run supplies, per item, the list of its trials' outcomes
(``True`` = success). Items with fewer than ``k`` trials have no pass^k and are refused, not
skipped, so a number never silently covers a different set of items than pass^1.

Reported by the Best-of-N ``_passk`` tasks (``trbench_bon_{think,no_think}_passk``:
``pass_hat_k_<k>`` with bootstrap intervals, :func:`harness_tasks.trbench_bon.bon_metrics.pass_hat_k_metrics`;
see ``harness_tasks/trbench_bon/README.md``). lm-eval's ``repeats: n`` lists the *same*
``Instance`` n times; the multi-round bridge
(:func:`harness_tasks.lm_eval_bridge.answer_multi_round`) counts those occurrences and runs the
task's driver once per trial, each trial keyed apart in the generation cache, and the task's
``take_first_k`` filter hands ``process_results`` every trial's record. The self-correction
tasks have no repeats variant and do not report it.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb


def item_pass_hat_k(successes: int, trials: int, k: int) -> float:
    """``C(c, k) / C(n, k)`` for one item: the chance that ``k`` of its ``n`` trials all succeeded."""
    if not 1 <= k <= trials:
        raise ValueError(f"pass^k needs 1 <= k <= trials; got k={k}, trials={trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and trials ({trials}); got {successes}")
    return comb(successes, k) / comb(trials, k)


def pass_hat_k(outcomes: Sequence[Sequence[bool]], k: int) -> float:
    """Mean over items of :func:`item_pass_hat_k`; ``outcomes[i]`` holds item ``i``'s trial results.

    NaN for no items (a run that scored nothing has no reliability to report).
    """
    if not outcomes:
        return float("nan")
    total = 0.0
    for index, trials in enumerate(outcomes):
        if len(trials) < k:
            raise ValueError(f"item {index} has {len(trials)} trial(s), fewer than k={k}")
        total += item_pass_hat_k(sum(bool(t) for t in trials), len(trials), k)
    return total / len(outcomes)


def reported_ks(repeats: int) -> list[int]:
    """The k a run with ``repeats`` trials per item reports: powers of two up to it, and ``repeats``."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1; got {repeats}")
    ks = [1 << p for p in range(repeats.bit_length()) if 1 << p <= repeats]
    return ks if ks[-1] == repeats else [*ks, repeats]


def pass_hat_k_metrics(outcomes: Sequence[Sequence[bool]]) -> dict[str, float]:
    """``{"pass_hat_k_<k>": value}`` for every reported k, when every item has the same number of trials > 1.

    Empty for a run without repeats (one trial per item), where pass^k would only repeat accuracy.
    """
    counts = {len(trials) for trials in outcomes}
    if len(counts) > 1:
        raise ValueError(f"items have different numbers of trials ({sorted(counts)}); pass^k needs equal n")
    if not counts or counts == {1}:
        return {}
    [repeats] = counts
    return {f"pass_hat_k_{k}": pass_hat_k(outcomes, k) for k in reported_ks(repeats)}
