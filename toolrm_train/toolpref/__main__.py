"""``python -m toolrm_train.toolpref build …``; guarded because vLLM's engine processes re-import it."""

import sys

from toolrm_train.toolpref.cli import main


if __name__ == "__main__":
    sys.exit(main())
