"""Break a self-correction run down by the checker's error type (from lm-eval's sample log).

    python -m harness_tasks.trbench_selfcorrect.report results/<model>/samples_<task>_<time>.jsonl

The task reports per-operator and per-category metrics itself; the checker's error types
(``value_error:string``, ``lack_args``, ...) are open-ended, so they are tallied here from the
sample log (``--log_samples``), where every sample holds its item and its outcome record.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness_tasks.input_boundary import iter_lines, loads_json_line, read_bytes
from harness_tasks.trbench_selfcorrect.metrics import ItemOutcome


RECORD_KEY = "acc_at_round_1"
"""Any metric key of a sample holds the item's outcome record; this one is always reported."""


@dataclass
class Tally:
    items: int = 0
    fixed: int = 0
    right_verdicts: int = 0
    with_critic: int = 0
    unparsed: list[str] = field(default_factory=list)


def tally_by_error_type(samples: Iterable[dict]) -> dict[str, Tally]:
    """Wrong candidates per checker error type: how many, fixed, and right verdicts."""
    tallies: dict[str, Tally] = {}
    for line_no, sample in enumerate(samples, start=1):
        if RECORD_KEY not in sample or "doc" not in sample:
            raise ValueError(
                f"sample {line_no}: no {RECORD_KEY!r} record or 'doc'; is this a self-correction log?"
            )
        outcome = ItemOutcome.from_record(sample[RECORD_KEY])
        if outcome.candidate_correct:
            continue
        tally = tallies.setdefault(sample["doc"]["error_type"], Tally())
        tally.items += 1
        tally.fixed += outcome.final_correct
        tally.with_critic += outcome.has_critic
        tally.right_verdicts += outcome.has_critic and outcome.verdict_right
    return dict(sorted(tallies.items()))


def format_table(tallies: dict[str, Tally]) -> str:
    rows = [
        "| checker error type | wrong candidates | fixed rate | verdict acc |",
        "| :-- | --: | --: | --: |",
    ]
    for error_type, t in tallies.items():
        verdict = f"{t.right_verdicts / t.with_critic:.3f}" if t.with_critic else "–"
        rows.append(f"| {error_type} | {t.items} | {t.fixed / t.items:.3f} | {verdict} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness_tasks.trbench_selfcorrect.report",
        description="Fixed rate and verdict accuracy per checker error type, from an lm-eval sample log.",
    )
    parser.add_argument(
        "samples", type=Path, help="samples_trbench_selfcorrect_*.jsonl written by --log_samples"
    )
    args = parser.parse_args(argv)
    try:
        data = read_bytes(args.samples)
        tallies = tally_by_error_type(
            loads_json_line(raw, f"line {line_no}") for line_no, raw in iter_lines(data)
        )
    except (OSError, ValueError) as error:
        print(f"{args.samples}: {error}", file=sys.stderr)
        return 2
    print(format_table(tallies))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
