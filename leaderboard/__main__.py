"""``python -m leaderboard``: the same command as ``toolrm-leaderboard``."""

from leaderboard.cli import main


if __name__ == "__main__":
    raise SystemExit(main())
