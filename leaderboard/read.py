"""Loading lm-eval result files and checking that each one holds what a table needs.

lm-eval writes ``<output_path>/<model_name_sanitized>/results_<time>.json`` and, with
``--log_samples``, ``samples_<task>_<time>.jsonl`` beside it. This module turns every task of ours
in those files into a :class:`TaskResult` and refuses files that lack a metric, a version or a data
build, naming the file, the task and the key, so that nothing downstream has to guess.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness_tasks.categories import CATEGORY_NAMES
from harness_tasks.input_boundary import DataFormatError, read_json_file
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.metric_checks import check_metric_consistency
from toolrm_leaderboard.task_names import FC_PAIRWISE, FC_POINTWISE, PLAN, TRBENCH, TaskId, parse_task_name


FILTER = "none"
"""Our tasks have no lm-eval filters, so every metric is reported under ``"<metric>,none"``."""

CURVE_METRIC_PREFIXES = {"trbench_bon": "acc_at_n_", "trbench_selfcorrect": "acc_at_round_"}
"""Best-of-N reports ``acc_at_n_<N>``, self-correction ``acc_at_round_<R>`` (see README)."""

REFERENCE_METRIC_PREFIXES = {"oracle": "oracle_at_n_", "random": "random_at_n_"}
"""Best-of-N baselines of the candidate sets themselves: ``oracle_at_n_<N>`` (any candidate
correct) and ``random_at_n_<N>`` (expected accuracy of a uniform choice); each task reports them
at its own N only."""

_MODEL_NAME_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")  # lm-eval's own priority order


@dataclass(frozen=True)
class TaskResult:
    """One task of one results file: the unit that fills (part of) a table row."""

    file: Path
    task: TaskId
    model_name: str
    version: str
    data_build: str
    date: float
    """``date`` of the run (seconds since the epoch, as lm-eval writes it); orders duplicate runs."""
    metrics: dict[str, float | None]
    """Metric name -> value; ``None`` where the file has NaN (a category the run did not cover)."""
    stderr: dict[str, float | None] = field(default_factory=dict)
    n_rows: int | None = None
    """lm-eval's ``n-samples.effective``: documents evaluated (two per pair for generative judges)."""
    limit: float | None = None
    samples_logged: int | None = None
    """Lines in the matching ``samples_<task>_<time>.jsonl``, when it exists."""
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Metric -> 95% bootstrap interval ``(lower, upper)`` from ``<metric>_ci_lower`` / ``_ci_upper``."""
    samples_file: Path | None = None
    """The run's ``samples_<task>_<time>.jsonl`` (per-unit outcomes for paired comparisons)."""
    seconds: float | None = None
    """lm-eval's ``total_evaluation_time_seconds``, only when this task is the file's only task
    (the time covers every task of the run and cannot be split between them)."""

    @property
    def where(self) -> str:
        return f"{self.file} (task {self.task.name}, model {self.model_name})"


def find_result_files(inputs: list[str | Path]) -> list[Path]:
    """Expand folders to the ``results_*.json`` files under them; files are taken as given."""
    found: dict[Path, Path] = {}  # resolved -> as named: a file named twice is read once
    for entry in map(Path, inputs):
        if entry.is_dir():
            files = sorted(entry.rglob("results_*.json"))
            if not files:
                raise LeaderboardInputError(f"{entry}: no lm-eval results_*.json files in this folder")
        elif entry.is_file():
            files = [entry]
        else:
            raise LeaderboardInputError(f"{entry}: no such file or folder")
        for file in files:
            found.setdefault(file.resolve(), file)
    return list(found.values())


def read_results(inputs: list[str | Path]) -> tuple[list[TaskResult], list[str]]:
    """All task results of ours in the inputs, plus notes about what was skipped or looks off."""
    results: list[TaskResult] = []
    notes: list[str] = []
    for path in find_result_files(inputs):
        file_results, file_notes = read_results_file(path)
        results.extend(file_results)
        notes.extend(file_notes)
    return results, notes


def read_results_file(path: Path) -> tuple[list[TaskResult], list[str]]:
    document = _load_json(path)
    if not isinstance(document.get("results"), dict):
        raise LeaderboardInputError(f"{path}: not an lm-eval results file (no 'results' mapping)")
    model_name = _model_name(path, document)
    date = _run_date(path, document)
    limit = (document.get("config") or {}).get("limit")
    results, notes = [], []
    for name, reported in document["results"].items():
        task = parse_task_name(name)
        if task is None:
            notes.append(f"{path}: task {name!r} is not a leaderboard task; ignored")
            continue
        if not isinstance(reported, dict):
            raise LeaderboardInputError(
                f"{path}: task {name}: 'results.{name}' is {type(reported).__name__}, expected an object"
            )
        metrics, stderr = _metric_values(path, name, reported)
        intervals = _intervals(metrics)
        _check_metrics(path, task, metrics)
        n_rows = ((document.get("n-samples") or {}).get(name) or {}).get("effective")
        samples_logged = _count_logged_samples(path, name)
        if samples_logged is not None and n_rows is not None and samples_logged != n_rows:
            notes.append(
                f"{path}: task {name}: the sample log has {samples_logged} lines but the results "
                f"report {n_rows} evaluated documents; the log may belong to another run"
            )
        results.append(
            TaskResult(
                file=path,
                task=task,
                model_name=model_name,
                version=_task_version(path, document, name),
                data_build=_data_build(path, document, name),
                date=date,
                metrics=metrics,
                stderr=stderr,
                n_rows=n_rows,
                limit=limit,
                samples_logged=samples_logged,
                intervals=intervals,
                samples_file=_samples_file(path, name),
                seconds=_run_seconds(document) if len(document["results"]) == 1 else None,
            )
        )
    if not results:
        notes.append(f"{path}: holds no leaderboard task; nothing from it is shown")
    return results, notes


HEADLINE_METRICS = {FC_PAIRWISE: "acc", FC_POINTWISE: "balanced_accuracy", PLAN: "avg"}
"""The score each other benchmark ranks by (its source's headline number)."""


def required_metrics(task: TaskId) -> tuple[str, ...]:
    """What a task's results must report for its row to be drawn (categories may be absent)."""
    if task.benchmark == FC_POINTWISE:
        return ("balanced_accuracy", "n_rows", "parse_failure_rate")
    if task.benchmark in (FC_PAIRWISE, PLAN):
        parse = ("invalid_rate",) if task.variant != "disc" else ()
        return (HEADLINE_METRICS[task.benchmark], "n_pairs", *parse)
    if task.benchmark != TRBENCH:
        return ()  # curve tasks: at least one point, checked in _check_metrics
    if task.category is not None:
        parse = ("invalid_rate",) if task.variant != "disc" else ()
        return (f"acc_{task.category}", "n_pairs", *parse)
    if task.variant == "disc":
        return ("w_avg", "avg", "n_pairs")
    return ("w_avg", "avg", "n_pairs", "invalid_rate")


def _load_json(path: Path) -> dict:
    try:
        document = read_json_file(path)  # lm-eval writes NaN; the boundary reads it
    except OSError as error:
        raise LeaderboardInputError(f"cannot read {path}: {error.strerror}") from error
    except DataFormatError as error:  # not UTF-8, not JSON, nested too deep, an overlong number
        raise LeaderboardInputError(f"{error}; lm-eval writes UTF-8 JSON") from error
    if not isinstance(document, dict):
        raise LeaderboardInputError(f"{path}: not an lm-eval results file (top level is not an object)")
    return document


def _metric_values(
    path: Path, task: str, reported: dict
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Split ``"<metric>,none"`` keys into values and standard errors; NaN and null become None, as
    does a standard error of ``"N/A"`` (lm-eval's word for none). Any other type (a string, a
    boolean, a list) is an error naming file, task and key: it would otherwise show as "not measured"
    and silently unrank the row."""
    metrics: dict[str, float | None] = {}
    stderr: dict[str, float | None] = {}
    for key, value in reported.items():
        metric, _, filter_name = key.partition(",")
        if filter_name != FILTER:
            continue
        is_stderr = metric.endswith("_stderr")
        if value is None or (is_stderr and value == "N/A"):
            number = None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            number = None if math.isnan(value) else value
        else:
            expected = 'a number, NaN or "N/A"' if is_stderr else "a number or NaN"
            shown = f"{type(value).__name__} {value!r:.60}"
            raise LeaderboardInputError(
                f"{path}: task {task}: key {key!r} holds {shown}; expected {expected}"
            )
        if is_stderr:
            stderr[metric.removesuffix("_stderr")] = number
        else:
            metrics[metric] = number
    return metrics, stderr


INTERVAL_SUFFIXES = ("_ci_lower", "_ci_upper")


def _intervals(metrics: dict[str, float | None]) -> dict[str, tuple[float, float]]:
    """Move ``<metric>_ci_lower`` / ``_ci_upper`` out of ``metrics`` into ``{metric: (lower, upper)}``;
    an interval with either bound missing or NaN is dropped (shown as not measured)."""
    bounds = {name: metrics.pop(name) for name in [m for m in metrics if m.endswith(INTERVAL_SUFFIXES)]}
    intervals = {}
    for name, lower in bounds.items():
        if name.endswith("_ci_lower"):
            metric = name.removesuffix("_ci_lower")
            upper = bounds.get(f"{metric}_ci_upper")
            if lower is not None and upper is not None:
                intervals[metric] = (lower, upper)
    return intervals


def _run_seconds(document: dict) -> float | None:
    """``total_evaluation_time_seconds`` (lm-eval writes it as a string) as a number, if it is one."""
    try:
        seconds = float(document.get("total_evaluation_time_seconds"))
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _check_metrics(path: Path, task: TaskId, metrics: dict[str, float | None]) -> None:
    where = f"{path}: task {task.name}"
    for metric in required_metrics(task):
        if metric not in metrics:
            raise LeaderboardInputError(
                f"{where}: missing required metric {metric!r} (key '{metric},{FILTER}' in 'results')"
            )
    for metric in ("w_avg", "avg", HEADLINE_METRICS.get(task.benchmark)):
        if metric in required_metrics(task) and metrics[metric] is None:
            raise LeaderboardInputError(f"{where}: metric {metric!r} is NaN (the run scored no pairs)")
    if task.benchmark in CURVE_METRIC_PREFIXES:
        prefix = CURVE_METRIC_PREFIXES[task.benchmark]
        if not curve_points(task, metrics):
            raise LeaderboardInputError(
                f"{where}: missing required metrics: no '{prefix}<N>,{FILTER}' key in 'results'"
            )
    for metric, value in metrics.items():
        if _is_fraction_metric(metric) and value is not None and not 0.0 <= value <= 1.0:
            raise LeaderboardInputError(
                f"{where}: metric {metric!r} is {value}; expected a fraction in [0, 1] (not a percentage)"
            )
    check_metric_consistency(path, task, metrics)  # N from the task's name, counts, oracle >= accuracy
    known = {f"acc_{name}" for name in CATEGORY_NAMES}
    unknown = sorted(m for m in metrics if m.startswith("acc_") and m not in known)
    if task.benchmark == TRBENCH and unknown:
        raise LeaderboardInputError(
            f"{where}: unknown category metric(s) {', '.join(unknown)}; "
            f"expected acc_<category> for {', '.join(CATEGORY_NAMES)}"
        )


def curve_points(task: TaskId, metrics: dict[str, float | None]) -> dict[int, float | None]:
    """``acc_at_n_4`` -> ``{4: value}``: the x values of a Best-of-N or self-correction curve."""
    pattern = re.compile(rf"^{CURVE_METRIC_PREFIXES[task.benchmark]}(\d+)$")
    points = {}
    for metric, value in metrics.items():
        found = pattern.match(metric)
        if found:
            points[int(found[1])] = value
    return dict(sorted(points.items()))


def reference_points(metrics: dict[str, float | None]) -> dict[str, dict[int, float | None]]:
    """``oracle_at_n_8`` -> ``{"oracle": {8: value}}`` (and ``random``): a Best-of-N run's baselines."""
    found: dict[str, dict[int, float | None]] = {}
    for kind, prefix in REFERENCE_METRIC_PREFIXES.items():
        pattern = re.compile(rf"^{prefix}(\d+)$")
        points = {int(m[1]): value for metric, value in metrics.items() if (m := pattern.match(metric))}
        if points:
            found[kind] = dict(sorted(points.items()))
    return found


FRACTION_METRICS = (
    "w_avg", "avg", "invalid_rate", "acc", "pair_acc", "micro_acc", "balanced_accuracy", "accuracy",
    "f1", "fpr", "fnr", "parse_failure_rate", "tie_rate", "position_consistency",
)  # fmt: skip


def _is_fraction_metric(metric: str) -> bool:
    return metric in FRACTION_METRICS or metric.startswith(
        ("acc_", "acc_at_", *REFERENCE_METRIC_PREFIXES.values())
    )


def _model_name(path: Path, document: dict) -> str:
    if isinstance(document.get("model_name"), str) and document["model_name"]:
        return document["model_name"]
    config = document.get("config") or {}
    model_args = config.get("model_args")
    if isinstance(model_args, str):
        model_args = dict(part.split("=", 1) for part in model_args.split(",") if "=" in part)
    if isinstance(model_args, dict):
        for key in _MODEL_NAME_KEYS:
            if model_args.get(key):
                return str(model_args[key])
    raise LeaderboardInputError(
        f"{path}: cannot tell which model this is: "
        "no 'model_name', and no pretrained=/model= in config.model_args"
    )


def _run_date(path: Path, document: dict) -> float:
    date = document.get("date")
    if isinstance(date, int | float) and not isinstance(date, bool):
        return float(date)
    return path.stat().st_mtime  # only for hand-made files; lm-eval always writes `date`


def _task_version(path: Path, document: dict, task: str) -> str:
    version = (document.get("versions") or {}).get(task)
    if version is None:
        version = ((document.get("configs") or {}).get(task) or {}).get("metadata", {}).get("version")
    if version is None:
        raise LeaderboardInputError(
            f"{path}: task {task}: no task version "
            f"(expected versions.{task} or configs.{task}.metadata.version)"
        )
    return str(version)


def _data_build(path: Path, document: dict, task: str) -> str:
    metadata = ((document.get("configs") or {}).get(task) or {}).get("metadata") or {}
    build = metadata.get("data_build")
    if not isinstance(build, str) or not build:
        raise LeaderboardInputError(
            f"{path}: task {task}: no data build (expected configs.{task}.metadata.data_build, "
            "e.g. 'embedded:sha256:<hex>' or 'hub:RioLee/TRBench-BFCL')"
        )
    return build


def _samples_file(results_file: Path, task: str) -> Path | None:
    """The sample log written by the same run (lm-eval gives both files the same time stamp)."""
    time_stamp = results_file.stem[results_file.stem.rfind("_") + 1 :]
    log = results_file.parent / f"samples_{task}_{time_stamp}.jsonl"
    return log if log.is_file() else None


def _count_logged_samples(results_file: Path, task: str) -> int | None:
    """Lines of the sample log written by the same run."""
    log = _samples_file(results_file, task)
    if log is None:
        return None
    with log.open("rb") as lines:  # counted as bytes: a log need not be UTF-8 to have lines
        return sum(1 for line in lines if line.strip())
