"""Trainer errors that ``toolrm-train`` reports as a message and exit status, not a traceback.

Kept free of torch imports so the CLI can name them without loading torch. (``ConfigError``,
exit 2, lives with the config it describes in ``core/config.py``.)
"""

from __future__ import annotations


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written or read; the message names the folder or file and the cause.

    ``toolrm-train`` prints it and exits with status 1.
    """
