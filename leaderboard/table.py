"""The table model every renderer draws: columns, rows, best/second marks and gains over a base.

Rendering (Markdown, LaTeX, HTML, terminal, charts) only formats what is decided here, so the
rules below hold identically in every output:

* values are shown as percentages with two decimals, and compared *as shown* (two rows that print
  the same number are tied);
* per score column, the best value is marked ``best`` and the next lower distinct value
  ``second`` (ties share the mark); only rows we measured take part when the table has any, so the
  paper's reported rows never steal a mark from measured ones; Avg and W-Avg skip partial rows,
  whose averages cover fewer categories, and rows run with ``--limit`` (a sample of the pairs)
  take part nowhere;
* Δ is a row's primary score minus its base model's, as printed (so the table adds up), between
  rows of the same source and full coverage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.metadata import FAMILIES


SCORE, DELTA, PERCENT, COUNT, TEXT, NUMBER = "score", "delta", "percent", "count", "text", "number"
ORACLE_LABEL = "Oracle (any candidate correct)"
RANDOM_LABEL = "Random choice (expected)"
REFERENCE_HEADING = "Baselines of the candidate sets"
"""Column kinds: ranked percentage; signed gain in points; unranked percentage; integer; text made by
the table builder (intervals, ranks, paired comparisons); a plain number (cost, two decimals)."""

MARKERS: dict[str, str] = {"think": "◇", "no_think": "♡", "disc": "♣", "critic": "♠", "source": "△"}
MARKER_LEGEND: dict[str, str] = {
    "think": "reasoning judge (think prompt)",
    "no_think": "non-reasoning judge (no_think prompt)",
    "disc": "discriminative RM (scalar score)",
    "critic": "critic that also gives a scalar score (paper rows)",
    "source": "generative judge with the benchmark's own prompt",
}


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str
    description: str = ""
    skips_partial_rows: bool = False
    """Averages over categories: only rows that cover every category are ranked."""
    x: int | None = None
    """For curve tables: the N (or round) this column is the accuracy at."""


@dataclass
class Row:
    label: str
    """Display name, without markers; renderers add the variant symbol and tags."""
    model_key: str
    family: str
    variant: str
    """``think`` / ``no_think`` / ``disc`` (or ``critic`` for some paper rows): the marker symbol."""
    values: dict[str, float | int | str | None]
    """Column key -> value, scores in percent (text for ``TEXT`` columns); ``None`` renders as a dash."""
    stderr: dict[str, float | None] = field(default_factory=dict)
    reported: bool = False
    """Copied from the paper (or the benchmark's own published results), not measured by us."""
    ours: bool = False
    partial: bool = False
    """Covers fewer categories (or N values) than the table's columns."""
    sampled: bool = False
    """Run with lm-eval's ``--limit``: every number is an estimate from a sample of the pairs."""
    base_key: str | None = None
    base_variant: str | None = None
    base_label: str | None = None
    """Set when Δ was computed: the base row it was computed against."""
    marks: dict[str, str] = field(default_factory=dict)
    """Column key -> ``best`` or ``second``."""
    files: tuple[str, ...] = ()
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Column key -> 95% bootstrap interval in percent (from the run's ``<metric>_ci_*``)."""
    units: object | None = None
    """Per-unit outcomes of the primary column (:class:`toolrm_leaderboard.paired.UnitScores`)."""

    @property
    def marker(self) -> str:
        return MARKERS.get(self.variant, "")


@dataclass
class Table:
    table_id: str
    """File stem of the outputs, e.g. ``trbench_bfcl``."""
    title: str
    columns: list[Column]
    primary: str
    """Column that orders rows within a family, carries Δ and is charted."""
    rows: list[Row]
    caption: str = ""
    notes: list[str] = field(default_factory=list)
    x_label: str | None = None
    """For curve tables (Best-of-N, self-correction): what the score columns count."""
    references: dict[str, dict[str, float]] = field(default_factory=dict)
    """Baseline rows of the data rather than of a model (Best-of-N: oracle and random choice):
    label -> {score column key: percent}. Drawn under the model rows and as reference lines on the
    curve; never ranked, never a base for Δ."""
    reported_source: str = "the paper (ToolRM, arXiv 2510.26167, Figure 2)"
    """Where the table's ``reported`` rows come from (the legend of the ``[reported]`` tag)."""

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    def score_columns(self) -> list[Column]:
        return [c for c in self.columns if c.kind == SCORE]

    def families(self) -> list[tuple[str, list[Row]]]:
        """Rows grouped under their family heading, in the paper's family order, empty groups left out."""
        return [
            (heading, [r for r in self.rows if r.family == family])
            for family, heading in FAMILIES.items()
            if any(r.family == family for r in self.rows)
        ]


def shown(value: float) -> float:
    """The value as printed (two decimals): what marks and Δ use, so printed ties are ties."""
    return float(f"{value:.2f}")


def mark_best_and_second(table: Table) -> None:
    measured = [r for r in table.rows if not r.reported]
    competitors = measured or table.rows
    for column in table.score_columns():
        ranked = [
            r
            for r in competitors
            if r.values.get(column.key) is not None
            and not r.sampled
            and not (column.skips_partial_rows and r.partial)
        ]
        if len(ranked) < 2:
            continue  # nothing to compare with
        distinct = sorted({shown(r.values[column.key]) for r in ranked}, reverse=True)
        for row in ranked:
            value = shown(row.values[column.key])
            if value == distinct[0]:
                row.marks[column.key] = "best"
            elif len(distinct) > 1 and value == distinct[1]:
                row.marks[column.key] = "second"


def compute_deltas(table: Table) -> list[str]:
    """Fill the ``delta`` column: primary score minus the base model's; notes say why one is missing."""
    notes = []
    for row in table.rows:
        row.values.setdefault("delta", None)
        if row.base_key is None:
            continue
        base = _base_row(table, row)
        if base is None:
            notes.append(f"Δ for {row.label}: its base model {row.base_key!r} has no row in this table")
            continue
        # a partial curve row (no N=2) still has a comparable value at the primary N; a partial
        # TRBench row's W-Avg covers fewer categories and does not
        partial_matters = table.column(table.primary).skips_partial_rows and (row.partial or base.partial)
        if partial_matters or row.sampled or base.sampled:
            notes.append(
                f"Δ for {row.label}: not shown, because it or its base {base.label} "
                "covers only some categories or a --limit sample"
            )
            continue
        mine, theirs = row.values.get(table.primary), base.values.get(table.primary)
        if mine is None or theirs is None:
            notes.append(f"Δ for {row.label}: no {table.column(table.primary).header} for it or its base")
            continue
        row.values["delta"] = shown(mine) - shown(theirs)
        row.base_label = f"{base.label} {base.marker}".strip()
    return notes


def _base_row(table: Table, row: Row) -> Row | None:
    """The base model's row: the declared variant, else the same variant, else its only row."""
    candidates = [r for r in table.rows if r.model_key == row.base_key and r.reported == row.reported]
    if not candidates:
        return None
    wanted = row.base_variant or row.variant
    matching = [r for r in candidates if r.variant == wanted]
    if matching:
        return matching[0]
    if row.base_variant is None and len(candidates) == 1:
        return candidates[0]
    found = ", ".join(r.variant for r in candidates)
    raise LeaderboardInputError(
        f"cannot tell which row of base model {row.base_key!r} to compare {row.label} ({row.variant}) with: "
        f"it has rows for {found} but none for {wanted}; "
        f"set base_variant for {row.model_key!r} in the model metadata"
    )


def order_rows(table: Table, descending: bool = True) -> None:
    """Families in the paper's order; within one, complete rows by the primary score, then the
    partial or sampled ones (their averages cover less), rows without a primary score last."""
    family_rank = {family: i for i, family in enumerate(FAMILIES)}

    def sort_key(row: Row) -> tuple:
        value = row.values.get(table.primary)
        if value is None:
            return (family_rank[row.family], 2, 0.0, row.label, row.variant)
        incomplete = 1 if row.partial or row.sampled else 0
        return (family_rank[row.family], incomplete, -value if descending else value, row.label, row.variant)

    table.rows.sort(key=sort_key)
