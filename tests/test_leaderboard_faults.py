"""The leaderboard under hostile-but-ordinary input (issue 9): non-UTF-8 files, metrics of the wrong
type, model names full of markup, and a renderer failing half-way: a clear error or a literal name,
never a traceback, a broken table or a half-written folder."""

from __future__ import annotations

import hashlib
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from toolrm_leaderboard import cli
from toolrm_leaderboard.build import BuildOptions, build_tables
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.formatting import one_line
from toolrm_leaderboard.metadata import ModelCatalog
from toolrm_leaderboard.plots import render_charts
from toolrm_leaderboard.read import read_results
from toolrm_leaderboard.render_markdown import render_markdown


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "leaderboard"
RUNS = FIXTURES / "runs"
THINKING_RUN = next((RUNS / "Qwen__Qwen3-4B-Thinking-2507").glob("results_*.json"))
HOSTILE_NAMES = [
    "<script>alert(1)</script> <b>bold</b> &amp;",
    "pipe | in | name",
    "two\nlines\r\nand\u2028more",
    "*star* _under_ `code` [link](https://x) ~~strike~~ \\",
    "$5 and $10",
    r"$\undefinedcommand{x}$ price",
    "_leading underscore",
]


def _results_file(
    folder: Path, model_name: str, edit=None, stamp: str = "2026-11-20T10-00-00.000000"
) -> Path:
    document = json.loads(THINKING_RUN.read_text())
    document["model_name"] = model_name
    if edit is not None:
        edit(document)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"results_{stamp}.json"
    path.write_text(json.dumps(document))
    return path


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# ---------------------------------------------------------------- reading


def test_non_utf8_results_file_exits_2_naming_it(tmp_path, capsys):
    path = tmp_path / "run" / "results_2026-11-20T10-00-00.000000.json"
    path.parent.mkdir()
    path.write_bytes(THINKING_RUN.read_bytes().replace(b"Qwen3-4B", b"Qwen3\xff4B", 1))
    out = tmp_path / "out"
    status = cli.main([str(path.parent), "--out", str(out)])
    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith(f"toolrm-leaderboard: error: {path}, line ")  # the boundary names line and byte
    assert "byte 0xff at byte " in error and "is not UTF-8" in error
    assert "Traceback" not in error
    assert not out.exists()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("w_avg,none", "0.59", "key 'w_avg,none' holds str '0.59'; expected a number or NaN"),
        ("acc_simple,none", True, "key 'acc_simple,none' holds bool True; expected a number or NaN"),
        ("n_pairs,none", [2983], "key 'n_pairs,none' holds list [2983]; expected a number or NaN"),
        (
            "avg_stderr,none",
            "0.01",
            "key 'avg_stderr,none' holds str '0.01'; expected a number, NaN or \"N/A\"",
        ),
    ],
)
def test_metric_of_the_wrong_type_names_file_task_and_key(tmp_path, key, value, message):
    path = _results_file(
        tmp_path, "Qwen/Qwen3-4B-Thinking-2507", lambda d: d["results"]["trbench_bfcl"].update({key: value})
    )
    with pytest.raises(LeaderboardInputError) as error:
        read_results([path])
    assert str(error.value) == f"{path}: task trbench_bfcl: {message}"


def test_wrong_metric_type_through_the_cli_writes_nothing(tmp_path, capsys):
    def edit(document: dict) -> None:
        document["results"]["trbench_bfcl"]["w_avg,none"] = "0.5967"

    path = _results_file(tmp_path / "run", "Qwen/Qwen3-4B-Thinking-2507", edit)
    out = tmp_path / "out"
    out.mkdir()
    (out / "leaderboard.md").write_text("last week's table\n")
    status = cli.main([str(RUNS / "Qwen__Qwen3-4B-Instruct-2507"), str(path), "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.startswith(
        f"toolrm-leaderboard: error: {path}: task trbench_bfcl: key 'w_avg,none' holds str '0.5967'"
    )
    assert captured.out == ""  # no table printed, no file written
    assert _snapshot(out) == {"leaderboard.md": hashlib.sha256(b"last week's table\n").hexdigest()}


def test_na_and_null_standard_errors_are_not_measured(tmp_path):
    def edit(document: dict) -> None:
        document["results"]["trbench_bfcl"].update({"avg_stderr,none": "N/A", "w_avg_stderr,none": None})

    path = _results_file(tmp_path, "m", edit)
    (result,), _ = read_results([path])
    assert result.stderr["avg"] is None and result.stderr["w_avg"] is None
    assert (
        result.metrics["w_avg"]
        == json.loads(THINKING_RUN.read_text())["results"]["trbench_bfcl"]["w_avg,none"]
    )


# ---------------------------------------------------------------- model names


def _tables_for_names(tmp_path: Path, names: list[str]):
    paths = [
        _results_file(tmp_path / f"run{i}", name, stamp=f"2026-11-20T10-00-{i:02d}.000000")
        for i, name in enumerate(names)
    ]
    results, _ = read_results(paths)
    return build_tables(results, ModelCatalog(), BuildOptions())


class _Cells(HTMLParser):
    """Rows of cells of the first table in HTML, and the tags inside each row's first cell."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.first_cell_tags: list[list[str]] = []
        self._cell: list[str] | None = None
        self._done = False

    def handle_starttag(self, tag, attrs):
        if self._done:
            return
        if tag == "tr":
            self.rows.append([])
            self.first_cell_tags.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif self._cell is not None and not self.rows[-1]:
            self.first_cell_tags[-1].append(tag)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and not self._done:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._done = True

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_model_names_are_literal_text_in_markdown(tmp_path):
    (table,) = _tables_for_names(tmp_path, HOSTILE_NAMES)
    markdown = render_markdown([table])
    html = MarkdownIt("commonmark").enable("table").render(markdown)  # as GitHub would show it
    parsed = _Cells()
    parsed.feed(html)
    header, *rows = parsed.rows
    assert all(len(row) == len(header) for row in rows)  # no pipe or newline broke a row
    names = [row[0].removesuffix(" ◇") for row in rows if row[0] != "General LLMs"]
    assert sorted(names) == sorted(one_line(name) for name in HOSTILE_NAMES)
    # no markup from a name: the one tag a name cell may hold is <em> of the family heading row
    assert [tags for tags in parsed.first_cell_tags if tags != ["em"]] == [[] for _ in HOSTILE_NAMES] + [[]]
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown


def test_model_names_are_plain_text_in_charts(tmp_path):
    (table,) = _tables_for_names(tmp_path, HOSTILE_NAMES)
    charts = render_charts(table, ["png", "svg"])  # mathtext would fail on \undefinedcommand
    assert sorted(charts) == ["trbench_bfcl_w_avg.png", "trbench_bfcl_w_avg.svg"]
    svg = charts["trbench_bfcl_w_avg.svg"].decode()
    assert "$5 and $10 ◇" in svg  # drawn as written, not as math between the dollars
    assert r"$\undefinedcommand{x}$ price ◇" in svg
    assert "_leading underscore ◇" in svg


def test_cli_writes_every_output_for_hostile_names(tmp_path):
    for i, name in enumerate(HOSTILE_NAMES):
        _results_file(tmp_path / "runs" / f"m{i}", name, stamp=f"2026-11-20T10-00-{i:02d}.000000")
    out = tmp_path / "out"
    assert cli.main([str(tmp_path / "runs"), "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "leaderboard.html", "leaderboard.md", "trbench_bfcl.tex",
        "trbench_bfcl_w_avg.png", "trbench_bfcl_w_avg.svg",
    ]  # fmt: skip
    tex = (out / "trbench_bfcl.tex").read_text()
    assert "\\$5 and \\$10" in tex and "two lines and more" in tex
    assert "\\textless{}script\\textgreater{}" in tex and "pipe \\textbar{} in" in tex
    html = (out / "leaderboard.html").read_text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


# ---------------------------------------------------------------- all or nothing


def test_outputs_are_all_or_nothing_when_a_renderer_fails(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert cli.main([str(RUNS), "--out", str(out), "--quiet"]) == 0
    (out / "leaderboard.md").write_text("last week's table\n")
    before = _snapshot(out)

    def broken(table, formats):
        raise RuntimeError("chart renderer failed")

    monkeypatch.setattr(cli, "render_charts", broken)
    results, _ = read_results([_results_file(tmp_path / "new", "another/model")])
    tables = build_tables(results, ModelCatalog(), BuildOptions())
    with pytest.raises(RuntimeError, match="chart renderer failed"):
        cli.write_outputs(tables, out, list(cli.FORMATS))
    assert _snapshot(out) == before  # the Markdown and LaTeX rendered first were not written either


def test_write_failure_leaves_no_partial_files(tmp_path, monkeypatch):
    from toolrm_leaderboard import output

    out = tmp_path / "out"
    out.mkdir()
    (out / "b.md").write_text("old")
    real_open = open
    calls = []

    def failing_open(path, mode="r", *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(output, "open", failing_open, raising=False)
    with pytest.raises(OSError, match="No space left"):
        output.write_files(out, {"a.md": "new a", "b.md": "new b"})
    assert _snapshot(out) == {"b.md": hashlib.sha256(b"old").hexdigest()}


def test_unwritable_output_folder_exits_1_with_a_message(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    status = cli.main([str(RUNS), "--out", str(blocker / "out"), "--quiet"])
    error = capsys.readouterr().err
    assert status == 1
    assert error.startswith(f"toolrm-leaderboard: error: cannot write to {blocker / 'out'}: ")
    assert error.rstrip().endswith("nothing written") and "Traceback" not in error
