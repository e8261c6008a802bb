"""``toolrm-eval``: lm-eval's own command line, with our tasks and model types added.

lm-eval 0.4.13 has no way to discover task folders of installed packages, so ``lm_eval --tasks
trbench_bfcl`` alone answers "Tasks not found". This wrapper parses the command line with lm-eval's
parser, adds our task folder to ``--include_path`` (after any folder the user gave) and runs it:
every lm-eval flag and output stays as it is. Plain lm-eval works too, given the path that
``toolrm-tasks-path`` prints.

Two additions, both for the judge tasks:

- ``--generation_cache DIR`` makes a judge run resumable: every generation is stored in ``DIR``
  as it is made, and a rerun with the same arguments reuses them (lm-eval's ``--use_cache`` never
  serves sampled generations; see :mod:`harness_tasks.generation_cache`). Recorded in the
  results' ``config.generation_cache``.
- ``max_gen_toks`` given in ``--gen_kwargs`` is copied into the task metadata (unless
  ``--metadata`` sets it), so the judge tasks' context limit (model length minus generation
  budget) uses the budget the run really has.
"""

from __future__ import annotations

import sys
from typing import Any

from harness_tasks import TASKS_DIR


COMMANDS_WITH_TASKS = ("run", "ls", "validate")
CACHE_FLAG = "--generation_cache"


def with_our_tasks(include_path: str | list[str] | None) -> list[str]:
    user_paths = (
        [] if include_path is None else [include_path] if isinstance(include_path, str) else include_path
    )
    return [*user_paths, str(TASKS_DIR)]


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


def _budget_into_metadata(evaluator_config_cls: Any) -> None:
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

    from harness_tasks.generation_cache import cache_generations

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


def main(argv: list[str] | None = None) -> None:
    import lm_eval
    from lm_eval._cli import HarnessCLI
    from lm_eval.config.evaluate_config import EvaluatorConfig
    from lm_eval.utils import setup_logging

    import harness_tasks.models  # noqa: F401  (registers lm-eval's built-in models, then ours)

    if (sys.argv[1:] if argv is None else list(argv))[:1] == ["rescore"]:  # scoring only, no model
        from harness_tasks.rescore import main as rescore

        raise SystemExit(rescore((sys.argv[1:] if argv is None else list(argv))[1:]))
    arguments, cache_dir = pop_generation_cache(sys.argv[1:] if argv is None else list(argv))
    sys.argv = [sys.argv[0], *arguments]
    setup_logging()
    cli = HarnessCLI()
    args = cli.parse_args()
    if getattr(args, "command", None) in COMMANDS_WITH_TASKS:
        args.include_path = with_our_tasks(args.include_path)
    if getattr(args, "command", None) == "run":
        _budget_into_metadata(EvaluatorConfig)
        if cache_dir:
            from lm_eval.evaluator import simple_evaluate

            lm_eval.simple_evaluate = _with_generation_cache(simple_evaluate, cache_dir)
    cli.execute(args)


def print_tasks_path() -> None:
    """For ``lm_eval --include_path "$(toolrm-tasks-path)" --tasks trbench_bfcl ...``."""
    print(TASKS_DIR)


if __name__ == "__main__":
    main()
