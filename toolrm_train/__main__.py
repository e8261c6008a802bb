"""``python -m toolrm_train {grpo,bt} ...``: the ``toolrm-train`` command (also under torchrun ``-m``)."""

import sys

from toolrm_train.core.cli import main


if __name__ == "__main__":
    sys.exit(main())
