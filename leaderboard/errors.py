"""The one error type of the leaderboard: inputs that cannot be put into one table as they are.

The CLI turns it into a one-line message and exit status 2; everything else is a bug.
"""

from __future__ import annotations


class LeaderboardInputError(ValueError):
    """Results, metadata or options that would make a table misleading (mixed versions, duplicates, ...)."""
