"""``python -m toolrm_leaderboard``: the same command as ``toolrm-leaderboard``."""

from toolrm_leaderboard.cli import main


if __name__ == "__main__":
    raise SystemExit(main())
