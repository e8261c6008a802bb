"""``toolrm-eval``: lm-eval's own command line, with our tasks and model types added.

lm-eval 0.4.13 has no way to discover task folders of installed packages, so ``lm_eval --tasks
trbench_bfcl`` alone answers "Tasks not found". This wrapper parses the command line with lm-eval's
parser, adds our task folder to ``--include_path`` (after any folder the user gave) and runs it:
every lm-eval flag and output stays as it is. Plain lm-eval works too, given the path that
``toolrm-tasks-path`` prints.
"""

from __future__ import annotations

import sys

from harness_tasks import TASKS_DIR


COMMANDS_WITH_TASKS = ("run", "ls", "validate")


def with_our_tasks(include_path: str | list[str] | None) -> list[str]:
    user_paths = (
        [] if include_path is None else [include_path] if isinstance(include_path, str) else include_path
    )
    return [*user_paths, str(TASKS_DIR)]


def main(argv: list[str] | None = None) -> None:
    from lm_eval._cli import HarnessCLI
    from lm_eval.utils import setup_logging

    import harness_tasks.models  # noqa: F401  (registers lm-eval's built-in models, then ours)

    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    setup_logging()
    cli = HarnessCLI()
    args = cli.parse_args()
    if getattr(args, "command", None) in COMMANDS_WITH_TASKS:
        args.include_path = with_our_tasks(args.include_path)
    cli.execute(args)


def print_tasks_path() -> None:
    """For ``lm_eval --include_path "$(toolrm-tasks-path)" --tasks trbench_bfcl ...``."""
    print(TASKS_DIR)


if __name__ == "__main__":
    main()
