"""What a task's metrics must satisfy before any table is drawn: N from the task's own name, counts
that are counts, and values consistent with each other.

Every rule below holds for any honest run of our tasks, so a file that breaks one was edited, merged
from different runs or written by a broken task; drawing it would rank a number nobody measured.
The error names the file, the task and the key (``<metric>,none``, as in the file), and the CLI
exits 2. Fractions in [0, 1] are checked in :mod:`toolrm_leaderboard.read`.

* **N comes from the task.** A Best-of-N task runs at the N of its name (``_n4``, ``_n16``;
  :data:`BON_DEFAULT_N` without a suffix), so it reports ``acc_at_n_<k>``, ``oracle_at_n_<k>`` and
  ``random_at_n_<k>`` only for 1 <= k <= N (``acc_at_n_0`` is no N).
* **Counts** (``n_problems``, ``n_pairs``, ``unparsed_*``, calls, comparisons, tokens) are
  finite and >= 0; ``n_problems`` and ``n_pairs`` are whole numbers.
* **Best-of-N consistency.** The sets at k are the first k candidates of the sets at N, so no
  selection beats the oracle: ``oracle_at_n_<N>`` >= ``acc_at_n_<k>`` for every k <= N, and
  ``oracle_at_n_<k>`` >= ``acc_at_n_<k>`` and >= ``random_at_n_<k>`` at every k. (Compared with a
  tolerance of 1e-9: the values are means of the same 0/1 records.)
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.task_names import BEST_OF_N, TaskId


BON_DEFAULT_N = 8
"""N of a Best-of-N task without an ``_n<N>`` suffix (``harness_tasks/trbench_bon/_generate_configs.py``
``DEFAULT_N``; ``tests/test_leaderboard_metric_checks.py`` checks that they agree)."""

WHOLE_COUNTS = ("n_problems", "n_pairs")
COUNT_PATTERN = re.compile(
    r"^(n_problems|n_pairs|unparsed_\w+|judge_calls|comparisons|gen_tokens|\w*output_tokens)$"
)
_AT_N = re.compile(r"^(acc|oracle|random)_at_n_(\d+)$")
_TOLERANCE = 1e-9


def task_n(task: TaskId) -> int | None:
    """The N a Best-of-N task runs at, read from its name; ``None`` for other benchmarks."""
    if task.benchmark != BEST_OF_N:
        return None
    return task.size if task.size is not None else BON_DEFAULT_N


def check_metric_consistency(path: Path, task: TaskId, metrics: dict[str, float | None]) -> None:
    """Raise :class:`LeaderboardInputError` naming file, task and key for the first rule broken."""
    where = f"{path}: task {task.name}"

    def refuse(metric: str, problem: str) -> None:
        raise LeaderboardInputError(f"{where}: key '{metric},none' {problem}")

    n = task_n(task)
    for metric in metrics:
        if (found := _AT_N.match(metric)) and task.benchmark == BEST_OF_N:
            k = int(found[2])
            if not 1 <= k <= n:
                refuse(metric, f"is at N={k}, but {task.name} runs at N={n} (it reports N from 1 to {n})")
    for metric, value in metrics.items():
        if value is None or not COUNT_PATTERN.match(metric):
            continue
        if not math.isfinite(value) or value < 0:
            refuse(metric, f"is {value}; a count must be finite and >= 0")
        if metric in WHOLE_COUNTS and value != int(value):
            refuse(metric, f"is {value}; a count of problems or pairs is a whole number")
    if task.benchmark == BEST_OF_N:
        _check_best_of_n(metrics, n, refuse)


def _check_best_of_n(metrics: dict[str, float | None], n: int, refuse) -> None:
    def at(kind: str, k: int) -> float | None:
        return metrics.get(f"{kind}_at_n_{k}")

    ks = sorted({int(found[2]) for metric in metrics if (found := _AT_N.match(metric))})
    oracle_n = at("oracle", n)
    for k in ks:
        accuracy, oracle, random = at("acc", k), at("oracle", k), at("random", k)
        if oracle is not None:
            for name, value in (("acc", accuracy), ("random", random)):
                if value is not None and value > oracle + _TOLERANCE:
                    refuse(
                        f"oracle_at_n_{k}",
                        f"is {oracle}, below {name}_at_n_{k} = {value}; no choice among the candidates "
                        "beats the share of sets holding a correct one",
                    )
        if oracle_n is not None and accuracy is not None and accuracy > oracle_n + _TOLERANCE:
            refuse(
                f"acc_at_n_{k}",
                f"is {accuracy}, above oracle_at_n_{n} = {oracle_n}; the first {k} candidates are "
                f"among the {n}, so no selection from them can beat that oracle",
            )
