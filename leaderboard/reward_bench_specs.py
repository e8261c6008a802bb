"""What the FC-RewardBench (pairwise, pointwise) and Plan-RewardBench tables show, and their reported rows.

Each benchmark gets a table of its own, shaped like TRBench-BFCL's: score columns from the task's
metrics (percent), the source's headline score as the primary column (ranked, Δ against the base
model, 95% CI and Rank when the run reports ``<metric>_ci_lower/_ci_upper``), the parse rate of
judges and the count of scored units. The numbers the sources published are shipped in
``data/reported_*.tsv`` (:mod:`toolrm_leaderboard.reported_rewardbench`) and become rows tagged
``reported``: they are never ranked against measured rows nor used as a base for Δ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness_tasks.plan_rewardbench.dataset import SPLITS
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.reported_rewardbench import FC_POINTWISE_TSV, PLAN_TSV, read_reported
from toolrm_leaderboard.table import COUNT, DELTA, PERCENT, SCORE, Column, Row
from toolrm_leaderboard.task_names import FC_PAIRWISE, FC_POINTWISE, PLAN


@dataclass(frozen=True)
class MetricColumn:
    column: Column
    metric: str | None
    """The task's metric (a fraction) shown in percent; ``None`` for Δ (computed by the table)."""
    complement: bool = False
    """Show ``1 − metric`` (a parse rate from an invalid rate)."""
    judges_only: bool = False
    """Left empty for scalar RMs (``disc``), which have no answers to parse."""


@dataclass(frozen=True)
class RewardBenchSpec:
    benchmark: str
    title: str
    caption: str
    primary: str
    columns: tuple[MetricColumn, ...]
    partial_keys: tuple[str, ...] = ()
    """Score columns whose absence makes a row partial (Plan-RewardBench's splits)."""
    reported_rows: Callable[[], list[Row]] | None = None
    reported_source: str = ""


def _score(key: str, header: str, metric: str, description: str, **kwargs) -> MetricColumn:
    return MetricColumn(Column(key, header, SCORE, description, **kwargs), metric)


DELTA_COLUMN = MetricColumn(
    Column("delta", "Δ", DELTA, "primary score gain over the base model, in points"), None
)


def _parse_column(metric: str) -> MetricColumn:
    return MetricColumn(
        Column("parse", "Parse", PERCENT, f"answers in the expected format (1 − {metric}); judges only"),
        metric,
        complement=True,
        judges_only=True,
    )


PLAN_SPLIT_CODES = {
    "planning_single_easy": "PSE",
    "planning_single_hard": "PSH",
    "planning_multi_easy": "PME",
    "planning_multi_hard": "PMH",
    "robust_recovery": "RR",
    "safety_refusal": "SR",
    "tool_irrelevance": "TI",
}
PLAN_CITATION = 'the Plan-RewardBench README (wyy-1112/Plan-RewardBench, "Main Results", arXiv 2604.08178)'
FC_POINTWISE_CITATION = "the Granite Guardian README (ibm-granite/granite-guardian, FC-RewardBench)"

_PLAN_TYPES = {
    "LLM Judge": ("general", "source"),
    "Generative RM": ("genrm", "source"),
    "Scalar RM": ("discrm", "disc"),
}
"""The README's ``type`` column -> (family, variant): judges used the benchmark's own prompt."""
_FC_MODES = {"-": "no_think", "no_think": "no_think", "think": "think"}
"""``-``: a Granite Guardian without a thinking mode, i.e. a non-reasoning judge."""


def plan_reported_rows() -> list[Row]:
    rows = []
    for number, record in enumerate(read_reported(PLAN_TSV), start=1):
        kind = record["type"]
        if kind not in _PLAN_TYPES:
            raise LeaderboardInputError(
                f"{PLAN_TSV}: row {number}, field 'type': {kind!r}; expected one of {', '.join(_PLAN_TYPES)}"
            )
        family, variant = _PLAN_TYPES[kind]  # type: ignore[index]
        values: dict[str, float | int | str | None] = {
            PLAN_SPLIT_CODES[split]: float(record[split]) for split in SPLITS
        }
        values.update(avg=float(record["avg"]), micro=None, tie=None, parse=None, pairs=None)
        label = str(record["model"])
        rows.append(Row(label, label, family, variant, values, reported=True, files=(str(PLAN_TSV),)))
    return rows


def fc_pointwise_reported_rows() -> list[Row]:
    rows = []
    for number, record in enumerate(read_reported(FC_POINTWISE_TSV), start=1):
        mode = record["mode"]
        if mode not in _FC_MODES:
            raise LeaderboardInputError(
                f"{FC_POINTWISE_TSV}: row {number}, field 'mode': {mode!r}; "
                f"expected one of {', '.join(_FC_MODES)}"
            )
        values: dict[str, float | int | str | None] = {"bal_acc": float(record["balanced_accuracy"]) * 100}
        label = str(record["model"])
        rows.append(
            Row(label, label, "genrm", _FC_MODES[mode], values, reported=True, files=(str(FC_POINTWISE_TSV),))  # type: ignore[index]
        )
    return rows


PLAN_SPEC = RewardBenchSpec(
    PLAN,
    "Plan-RewardBench",
    "Plan-RewardBench: pairwise accuracy (%) of reward models judging tool-use trajectories, per split "
    "(each pair judged in both orders, a tie counts 0.5; scalar RMs tie at |Δ| ≤ 1e-4); "
    "Avg = unweighted mean of the seven splits (the source's headline), Micro = mean over all samples; "
    "Δ = Avg gain over the base model.",
    "avg",
    (
        *(
            _score(
                PLAN_SPLIT_CODES[split],
                PLAN_SPLIT_CODES[split],
                f"acc_{split}",
                f"{split} ({size} pairs in the release)",
            )
            for split, size in SPLITS.items()
        ),
        _score("avg", "Avg", "avg", "unweighted mean of the split accuracies", skips_partial_rows=True),
        _score(
            "micro",
            "Micro",
            "micro_acc",
            "accuracy over all samples (splits weigh by size)",
            skips_partial_rows=True,
        ),
        DELTA_COLUMN,
        MetricColumn(Column("tie", "Ties", PERCENT, "share of samples scored as a tie"), "tie_rate"),
        _parse_column("invalid_rate"),
        MetricColumn(Column("pairs", "Pairs", COUNT, "pairs scored"), "n_pairs"),
    ),
    partial_keys=tuple(PLAN_SPLIT_CODES[split] for split in SPLITS),
    reported_rows=plan_reported_rows,
    reported_source=PLAN_CITATION,
)

FC_PAIRWISE_SPEC = RewardBenchSpec(
    FC_PAIRWISE,
    "FC-RewardBench (pairwise)",
    "FC-RewardBench, pairwise: accuracy (%) of reward models choosing the correct call list of a pair "
    "(judges: every judgment in both orders counts, so always-first scores 50; scalar RMs: strictly "
    "higher score, a tie is wrong); Pair acc = pairs judged right in both orders; "
    "Δ = Acc gain over the base model.",
    "acc",
    (
        _score("acc", "Acc", "acc", "accuracy over judgments (scalar RMs: over pairs)"),
        _score("pair_acc", "Pair acc", "pair_acc", "pairs judged right in both orders; judges only"),
        DELTA_COLUMN,
        MetricColumn(
            Column("consistency", "Consist.", PERCENT, "pairs whose two answers pick the same output"),
            "position_consistency",
        ),
        _parse_column("invalid_rate"),
        MetricColumn(Column("pairs", "Pairs", COUNT, "pairs scored"), "n_pairs"),
    ),
)

FC_POINTWISE_SPEC = RewardBenchSpec(
    FC_POINTWISE,
    "FC-RewardBench (pointwise)",
    "FC-RewardBench, pointwise (Granite Guardian's protocol): each output classified alone as correct "
    "or erroneous (label 1 = has a function-call error; an unreadable answer counts as the wrong label); "
    "Bal. acc = mean of the recalls of both labels (the published headline); "
    "Δ = Bal. acc gain over the base model.",
    "bal_acc",
    (
        _score("bal_acc", "Bal. acc", "balanced_accuracy", "balanced accuracy (mean recall of both labels)"),
        _score("accuracy", "Acc", "accuracy", "accuracy over rows"),
        _score("f1", "F1", "f1", "F1 with label 1 (erroneous) positive"),
        DELTA_COLUMN,
        MetricColumn(Column("fpr", "FPR", PERCENT, "correct outputs flagged as erroneous"), "fpr"),
        MetricColumn(Column("fnr", "FNR", PERCENT, "erroneous outputs passed as correct"), "fnr"),
        _parse_column("parse_failure_rate"),
        MetricColumn(Column("rows", "Rows", COUNT, "rows scored"), "n_rows"),
    ),
    reported_rows=fc_pointwise_reported_rows,
    reported_source=FC_POINTWISE_CITATION,
)

REWARD_BENCH_SPECS = (FC_PAIRWISE_SPEC, FC_POINTWISE_SPEC, PLAN_SPEC)
