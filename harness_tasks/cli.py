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

``toolrm-eval rescore ...`` scores stored sample logs again without a model
(:mod:`harness_tasks.rescore`). How everything else is hooked into lm-eval is
:mod:`harness_tasks.lm_eval_bridge`'s business.
"""

from __future__ import annotations

import sys

from harness_tasks import TASKS_DIR


def main(argv: list[str] | None = None) -> None:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["rescore"]:  # scoring only, no model
        import harness_tasks.models  # noqa: F401  (registers lm-eval's built-in models, then ours)
        from harness_tasks.rescore import main as rescore

        raise SystemExit(rescore(arguments[1:]))
    from harness_tasks.lm_eval_bridge import run_cli

    run_cli(argv)


def print_tasks_path() -> None:
    """For ``lm_eval --include_path "$(toolrm-tasks-path)" --tasks trbench_bfcl ...``."""
    print(TASKS_DIR)


if __name__ == "__main__":
    main()
