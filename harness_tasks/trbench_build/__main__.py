"""``python -m harness_tasks.trbench_build``: the same as ``toolrm-build-trbench``."""

import sys

from harness_tasks.trbench_build.cli import main


sys.exit(main())
