"""``python -m harness_tasks`` prints the folder to pass to ``lm_eval --include_path``."""

from harness_tasks.cli import print_tasks_path


print_tasks_path()
