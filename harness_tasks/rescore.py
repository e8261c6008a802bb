"""``toolrm-eval rescore``: every metric again from a run's saved samples, without a model.

A judge run keeps each judgment in lm-eval's sample log (``--log_samples``:
``samples_<task>_<time>.jsonl`` beside ``results_<time>.json``). Changing how a judgment is *read*
(``parse_mode``, a tie rule, a checker option) therefore needs no new generation. This command

1. rebuilds each task of the results file through lm-eval's ``TaskManager`` with the run's own task
   metadata (``configs.<task>.metadata``) updated by ``--metadata``, and reads its documents;
2. pairs every logged sample with the document of the same ``doc_id`` and checks it is the same
   document (lm-eval's ``doc_hash``; with changed settings, the fields the settings name may differ,
   nothing else), so a log of another data build is refused, not mis-scored;
3. calls the task's own ``process_results(doc, filtered_resps)`` on the logged outputs and the
   task's own aggregations (``task.aggregation()``) on the values, exactly as lm-eval's evaluator
   does after generation;
4. writes a new results file and sample log (lm-eval's layout, under ``--output_path``), with a
   ``rescored`` block naming the source run and the settings, and the settings merged into
   ``configs.<task>.metadata``. The source files are never touched.

With unchanged settings the metrics equal the source run's (the bootstrap intervals are seeded).
Where the scoring happened during generation rather than in ``process_results`` (the generative
Best-of-N tasks select in their multi-round driver, between judge calls), the logged per-item record is
aggregated again as it is; changing settings for those tasks is refused with a message.
Standard errors that lm-eval computed itself (registered aggregations) are copied from the source;
ours are metrics of their own (``<metric>_stderr``) and are recomputed.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness_tasks import TASKS_DIR
from harness_tasks.atomic_files import write_atomically
from harness_tasks.input_boundary import DataFormatError, iter_json_lines, loads_json, read_json_file


FILTER = "none"


class RescoreError(ValueError):
    """A source that cannot be re-scored faithfully; the message names file, line and field."""


@dataclass(frozen=True)
class SourceRun:
    results: Path
    samples: dict[str, Path]
    """Task name -> its sample log."""


def find_runs(path: str | Path) -> list[SourceRun]:
    """Results files under ``path`` (or ``path`` itself), each with the sample logs of its run."""
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(path.rglob("results_*.json"))
    else:
        raise RescoreError(f"{path}: no such file or folder")
    if not files:
        raise RescoreError(f"{path}: no lm-eval results_*.json files here")
    runs = []
    for results in files:
        stamp = results.stem.removeprefix("results_")
        logs = {
            log.name.removeprefix("samples_").removesuffix(f"_{stamp}.jsonl"): log
            for log in results.parent.glob(f"samples_*_{stamp}.jsonl")
        }
        runs.append(SourceRun(results, logs))
    return runs


def _load_task(task_name: str, metadata: dict[str, Any]) -> Any:
    from lm_eval.tasks import TaskManager, get_task_dict

    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
    tasks = get_task_dict([task_name], manager)
    if task_name not in tasks:
        raise RescoreError(f"task {task_name!r} is not one of ours (nothing under {TASKS_DIR} defines it)")
    return tasks[task_name]


def _read_samples(log: Path) -> list[dict]:
    samples = []
    try:
        rows = list(iter_json_lines(log))
    except DataFormatError as error:
        raise RescoreError(str(error)) from None
    for number, sample in rows:
        for field in ("doc_id", "doc", "filtered_resps"):
            if field not in sample:
                raise RescoreError(f"{log}: line {number}: no field {field!r} (not an lm-eval sample log?)")
        if sample.get("filter", FILTER) == FILTER:
            samples.append(sample)
    return samples


def _doc_hash(doc: dict) -> str:
    from lm_eval.utils import handle_non_serializable, hash_string

    return hash_string(json.dumps(doc, indent=2, default=handle_non_serializable, ensure_ascii=False))


def _as_logged(value: Any) -> str:
    """A field as the sample log holds it (tuples as lists, other objects as lm-eval writes them)."""
    from lm_eval.utils import handle_non_serializable

    return json.dumps(value, default=handle_non_serializable, ensure_ascii=False, sort_keys=True)


def _check_same_document(log: Path, sample: dict, doc: dict, settings: dict[str, Any]) -> None:
    """The logged document is the task's (as lm-eval hashes documents), up to the changed settings."""
    logged = sample["doc"]
    if _doc_hash(logged) == _doc_hash(doc):
        return
    differing = sorted(k for k in {*logged, *doc} if _as_logged(logged.get(k)) != _as_logged(doc.get(k)))
    unexplained = [k for k in differing if k not in settings]
    if unexplained:
        raise RescoreError(
            f"{log}: doc_id {sample['doc_id']}: the logged document differs from the task's in field(s) "
            f"{', '.join(unexplained)}: the log is of another data build or task version"
        )


LOGLIKELIHOOD_TYPES = ("loglikelihood", "multiple_choice")
"""Output types whose responses are ``(log-likelihood or score, is_greedy)`` tuples."""


def _restore_responses(task: Any, log: Path, sample: dict) -> list:
    """The responses as ``process_results`` received them, from the sample log's text.

    lm-eval's logger writes every response through ``str`` (``sanitize_list``): a generation is
    unchanged, but a ``(score, is_greedy)`` tuple becomes ``["-1.25", "False"]``. Python's ``str`` of a
    float is its shortest round-tripping form, so ``float`` restores the very value that was scored.
    """
    responses = sample["filtered_resps"]
    if task.OUTPUT_TYPE not in LOGLIKELIHOOD_TYPES:
        return responses
    restored = []
    for index, response in enumerate(responses):
        try:
            score, greedy = response
            if greedy not in ("True", "False", True, False):
                raise ValueError(greedy)
            restored.append((float(score), greedy in ("True", True)))
        except (TypeError, ValueError):
            raise RescoreError(
                f"{log}: doc_id {sample['doc_id']}: filtered_resps[{index}] is {response!r}, "
                "not a logged (score, is_greedy) pair"
            ) from None
    return restored


def _scored_during_generation(task: Any) -> bool:
    from harness_tasks.trbench_bon.task import BonTask

    return isinstance(task, BonTask)


def rescore_task(
    task_name: str, log: Path, run_metadata: dict[str, Any], settings: dict[str, Any]
) -> tuple[dict[str, Any], list[dict]]:
    """``({"<metric>,none": value}, rescored samples)`` of one task's sample log."""
    task = _load_task(task_name, {**run_metadata, **settings})
    samples = _read_samples(log)
    aggregations = task.aggregation()
    from_records = _scored_during_generation(task)
    if from_records and settings:
        raise RescoreError(
            f"{task_name}: its selections are made while generating (Best-of-N judges), so settings "
            f"({', '.join(settings)}) cannot be re-applied from the sample log; run it again instead"
        )
    docs = None if from_records else list(task.eval_docs)
    values: dict[str, list] = {name: [] for name in aggregations}
    rescored = []
    for sample in samples:
        if from_records:
            missing = [name for name in aggregations if name not in sample]
            if missing:
                raise RescoreError(f"{log}: doc_id {sample['doc_id']}: no logged record for {missing[0]!r}")
            outputs = {name: sample[name] for name in aggregations}
        else:
            doc_id = sample["doc_id"]
            if not isinstance(doc_id, int) or not 0 <= doc_id < len(docs):
                raise RescoreError(f"{log}: doc_id {doc_id!r}: the task has {len(docs)} documents")
            doc = docs[doc_id]
            _check_same_document(log, sample, doc, settings)
            outputs = task.process_results(doc, _restore_responses(task, log, sample))
            sample = {**sample, "doc": doc, "doc_hash": _doc_hash(doc)}
        for name, value in outputs.items():
            if name in values:
                values[name].append(value)
        rescored.append({**sample, **_json_ready(outputs)})
    metrics = {f"{name}," + FILTER: aggregations[name](items) for name, items in values.items()}
    return metrics, rescored


def _json_ready(outputs: dict[str, Any]) -> dict[str, Any]:
    """What lm-eval writes into a sample line (tuples become lists, as its JSON encoder does)."""
    return loads_json(json.dumps(outputs, default=str))


def rescore_run(run: SourceRun, settings: dict[str, Any]) -> tuple[dict, dict[str, list[dict]]]:
    """The rescored results document and sample logs of one source run."""
    try:
        document = read_json_file(run.results)
    except DataFormatError as error:
        raise RescoreError(str(error)) from None
    if not isinstance(document.get("results"), dict):
        raise RescoreError(f"{run.results}: not an lm-eval results file (no 'results' mapping)")
    configs = document.get("configs") or {}
    rescored_samples: dict[str, list[dict]] = {}
    for task_name in list(document["results"]):
        if task_name not in configs:
            continue  # a group row; its members are re-scored on their own
        log = run.samples.get(task_name)
        if log is None:
            raise RescoreError(
                f"{run.results}: task {task_name}: no sample log samples_{task_name}_<time>.jsonl beside it; "
                "re-scoring needs a run made with --log_samples"
            )
        run_metadata = dict(configs[task_name].get("metadata") or {})
        metrics, samples = rescore_task(task_name, log, run_metadata, settings)
        document["results"][task_name].update(metrics)
        configs[task_name]["metadata"] = {**run_metadata, **settings}
        rescored_samples[task_name] = samples
    if not rescored_samples:
        raise RescoreError(f"{run.results}: holds no task with a configuration to re-score")
    document["rescored"] = {
        "source_results": str(run.results),
        "source_samples": {task: str(run.samples[task]) for task in rescored_samples},
        "source_date": document.get("date"),
        "settings": settings,
        "command": "toolrm-eval rescore",
    }
    document["date"] = time.time()
    return document, rescored_samples


def write_rescored(out_dir: Path, run: SourceRun, document: dict, samples: dict[str, list[dict]]) -> Path:
    """lm-eval's layout under ``out_dir``: ``<model dir>/results_<time>.json`` and its sample logs."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S.%f")
    folder = out_dir / run.results.parent.name
    for task, lines in samples.items():
        text = "".join(json.dumps(line, ensure_ascii=False, default=str) + "\n" for line in lines)
        write_atomically(folder / f"samples_{task}_{stamp}.jsonl", text)
    results = folder / f"results_{stamp}.json"
    write_atomically(results, json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    return results


def parse_settings(text: str | None) -> dict[str, Any]:
    """``--metadata`` as lm-eval takes it: a JSON object, or ``key=value,key=value``."""
    if not text:
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            settings = loads_json(text)
        except json.JSONDecodeError as error:
            raise RescoreError(f"--metadata: not a JSON object ({error})") from error
        if not isinstance(settings, dict):
            raise RescoreError("--metadata: expected a JSON object")
        return settings
    settings = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise RescoreError(f"--metadata: {part!r} is not key=value")
        settings[key.strip()] = value.strip()
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="toolrm-eval rescore",
        description="Recompute every metric of a run from its --log_samples sample logs (no model).",
    )
    parser.add_argument("source", help="a results_<time>.json file, or a folder searched for them")
    parser.add_argument("--output_path", required=True, help="folder for the re-scored results and samples")
    parser.add_argument(
        "--metadata",
        default=None,
        help="settings to change, as for lm-eval: JSON or key=value,... (e.g. parse_mode=final_answer)",
    )
    args = parser.parse_args(argv)
    try:
        settings = parse_settings(args.metadata)
        runs = find_runs(args.source)
        written = []
        for run in runs:
            document, samples = rescore_run(run, settings)
            written.append(write_rescored(Path(args.output_path), run, document, samples))
    except (RescoreError, OSError) as error:
        print(f"toolrm-eval rescore: {error}")
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0
