"""The leaderboard command end to end: files written, charts that are real images, and the HTML
page as a browser renders it (headless Chromium runs the page's sort script)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from toolrm_leaderboard.cli import main


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "leaderboard"
RUNS = FIXTURES / "runs"
MODELS = FIXTURES / "models.yaml"
REPO = Path(__file__).resolve().parent.parent
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """Every output format for the main fixture runs plus Best-of-N and self-correction."""
    out = tmp_path_factory.mktemp("leaderboard")
    status = main([str(RUNS), str(FIXTURES / "bon"), str(FIXTURES / "selfcorrect"),
                   "--models", str(MODELS), "--out", str(out), "--quiet"])  # fmt: skip
    assert status == 0
    return out


def test_every_format_is_written(written):
    assert sorted(p.name for p in written.iterdir()) == [
        "leaderboard.html",
        "leaderboard.md",
        "trbench_bfcl.tex",
        "trbench_bfcl_w_avg.png",
        "trbench_bfcl_w_avg.svg",
        "trbench_bon.tex",
        "trbench_bon_curves.png",
        "trbench_bon_curves.svg",
        "trbench_bon_n16.png",
        "trbench_bon_n16.svg",
        "trbench_selfcorrect.tex",
        "trbench_selfcorrect_curves.png",
        "trbench_selfcorrect_curves.svg",
        "trbench_selfcorrect_r3.png",
        "trbench_selfcorrect_r3.svg",
    ]
    markdown = (written / "leaderboard.md").read_text()
    assert [line for line in markdown.splitlines() if line.startswith("## ")] == [
        "## TRBench-BFCL", "## Best-of-N", "## Self-correction",
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["trbench_bfcl_w_avg", "trbench_bon_curves", "trbench_selfcorrect_r3"])
def test_png_charts_are_valid_images(written, name):
    path = written / f"{name}.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= 600 and image.height >= 300


def test_svg_bar_chart_is_valid_and_shows_every_charted_row(written):
    root = ElementTree.parse(written / "trbench_bfcl_w_avg.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    width, height = (float(root.attrib[key].removesuffix("pt")) for key in ("width", "height"))
    assert width >= 400 and height >= 200
    text = " ".join("".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text"))
    for label, value in [
        ("ToolRM-Disc-Qwen3-4B-Instruct-2507 ♣", "77.61"),
        ("Qwen3-4B-Thinking-2507 ◇", "57.59"),
        ("M-Prometheus-7B ♡ [partial]", "64.66"),
    ]:
        assert label in text and value in text
    assert "Qwen3-8B" not in text  # per-category runs have no W-Avg to chart


def test_svg_curves_have_one_line_per_model(written):
    root = ElementTree.parse(written / "trbench_bon_curves.svg").getroot()
    text = " ".join("".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "Best-of-N: accuracy vs N (candidates per problem)" in text
    for label in (
        "Qwen3-4B-Thinking-2507 ◇",
        "ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇",
        "Skywork-Reward-V2-Qwen3-4B ♣",
    ):
        assert label in text


def test_svg_curves_draw_the_oracle_and_random_lines(written):
    root = ElementTree.parse(written / "trbench_bon_curves.svg").getroot()
    ns = "{http://www.w3.org/2000/svg}"
    groups = {g.get("id"): g for g in root.iter(f"{ns}g")}
    for kind in ("oracle", "random"):
        path = groups[f"reference-{kind}"].find(f"{ns}path")
        assert path is not None and path.get("d", "").count("L") == 2  # three points: N=4, 8, 16
    text = " ".join("".join(node.itertext()) for node in root.iter(f"{ns}text"))
    assert "Oracle (any candidate correct)" in text and "Random choice (expected)" in text

    # y of each point: the oracle lies above the random line at every N
    def ys(kind: str) -> list[float]:
        d = groups[f"reference-{kind}"].find(f"{ns}path").get("d")
        return [float(p.split()[1]) for p in d.replace("M", "|").replace("L", "|").split("|") if p.strip()]

    assert all(o < r for o, r in zip(ys("oracle"), ys("random"), strict=True))  # SVG y grows downwards


def test_cli_prints_the_table(capsys):
    assert main([str(RUNS), "--models", str(MODELS)]) == 0
    printed = capsys.readouterr().out
    assert "TRBench-BFCL" in printed
    assert "ToolRM-Disc-Qwen3-4B-Instruct-2507 ♣" in printed and "+17.94" in printed and "77.61" in printed


def test_cli_input_errors_exit_with_status_2_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    status = main([str(RUNS), str(FIXTURES / "duplicates"), "--models", str(MODELS), "--out", str(out)])
    assert status == 2
    error = capsys.readouterr().err
    assert error.startswith("toolrm-leaderboard: error: duplicate results for model")
    assert not out.exists()


def test_cli_rejects_unknown_formats(capsys):
    with pytest.raises(SystemExit) as stop:
        main([str(RUNS), "--formats", "md,pdf"])
    assert stop.value.code == 2
    assert "--formats: unknown pdf" in capsys.readouterr().err


def test_python_dash_m_leaderboard_with_paper_only(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "toolrm_leaderboard", "--with-paper", "--out", str(tmp_path),
         "--formats", "md,tex"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert f"wrote {tmp_path / 'leaderboard.md'}" in completed.stdout
    markdown = (tmp_path / "leaderboard.md").read_text()
    assert (
        "| **ToolRM-Disc-Qwen3-4B-Instruct-2507** ♣ [reported] | 84.67 | **84.51** | _94.02_ | 90.00 "
        "| **72.17** | _73.97_ | **100.00** | 80.00 | **64.85** | **82.69** | **77.61** | +17.94 | – | – |"
    ) in markdown
    assert "\\textbf{77.61}" in (tmp_path / "trbench_bfcl.tex").read_text()


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "toolrm-leaderboard"
    if not script.exists():
        pytest.skip(f"{script} not installed (run `pip install -e .`)")
    completed = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0 and "--with-paper" in completed.stdout


# --- the HTML page in a real browser -------------------------------------------------------------


def find_chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "CI=true but no Chromium is installed; the CI set-up must run `apt-get install -y chromium`"
            )
        pytest.skip(
            "headless Chromium is not installed (apt-get install chromium); the HTML page test needs it"
        )
    return path


def rendered_dom(chromium: str, page: Path, fragment: str, profile: Path) -> str:
    """The page's DOM after its script ran (``--dump-dom``), opened with ``#fragment``."""
    completed = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", f"{page.as_uri()}{fragment}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "<table" in completed.stdout, completed.stderr[-3000:]
    return completed.stdout


class TableReader(HTMLParser):
    """Collects each leaderboard table: its attributes, header cells and body rows with their cells."""

    def __init__(self) -> None:
        super().__init__()
        self.root: dict[str, str | None] = {}
        self.tables: dict[str, dict] = {}
        self._table: dict | None = None
        self._row: dict | None = None
        self._cell: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.root = attributes
        elif tag == "table" and "leaderboard" in (attributes.get("class") or ""):
            self._table = {"attrs": attributes, "headers": [], "rows": []}
            self.tables[attributes["id"]] = self._table
        elif self._table is not None and tag == "tr":
            self._row = {"attrs": attributes, "cells": []}
        elif self._row is not None and tag in ("td", "th"):
            self._cell = {"attrs": attributes, "text": ""}

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._cell["text"] = self._cell["text"].strip()
            self._row["cells"].append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            if "entry" in (self._row["attrs"].get("class") or "").split():
                self._table["rows"].append(self._row)
            elif self._row["cells"] and self._row["cells"][0]["attrs"].get("scope") == "col":
                self._table["headers"] = self._row["cells"]
            self._row = None
        elif tag == "table":
            self._table = None


def read_tables(dom: str) -> TableReader:
    reader = TableReader()
    reader.feed(dom)
    return reader


def row_texts(table: dict) -> dict[str, list[str]]:
    return {row["cells"][0]["text"]: [cell["text"] for cell in row["cells"]] for row in table["rows"]}


def test_html_page_is_self_contained(written):
    page = (written / "leaderboard.html").read_text()
    assert "<script src" not in page and "<link" not in page
    assert 'src="http' not in page and 'href="http' not in page
    assert page.count("<svg") == 5  # W-Avg bars; Best-of-N and self-correction bars and curves


def test_html_table_renders_in_chromium(chromium, written, tmp_path):
    dom = rendered_dom(chromium, written / "leaderboard.html", "", tmp_path / "profile")
    reader = read_tables(dom)
    assert reader.root.get("data-leaderboard-ready") == "true"  # the page's script ran
    assert list(reader.tables) == ["table-trbench_bfcl", "table-trbench_bon", "table-trbench_selfcorrect"]
    table = reader.tables["table-trbench_bfcl"]
    assert [h["text"] for h in table["headers"]] == [
        "Model", "S", "M", "P", "PM", "LS", "LM", "LP", "LPM", "MTB", "Avg", "W-Avg", "Δ", "Parse", "Pairs",
        "s/pair",
    ]  # fmt: skip
    rows = row_texts(table)
    assert rows["ToolRM-Disc-Qwen3-4B-Instruct-2507 ♣"] == [
        "ToolRM-Disc-Qwen3-4B-Instruct-2507 ♣",
        "84.67", "84.51", "94.02", "90.00", "72.17", "73.97", "100.00",
        "80.00", "64.85", "82.69", "77.61", "+17.94", "–", "2983", "1.21",
    ]  # fmt: skip
    assert rows["M-Prometheus-7B ♡[partial]"][1:5] == ["54.74", "–", "71.43", "–"]
    by_label = {row["cells"][0]["text"]: row for row in table["rows"]}
    disc_cells = {
        cell["attrs"].get("data-key"): cell["attrs"]
        for cell in by_label["ToolRM-Disc-Qwen3-4B-Instruct-2507 ♣"]["cells"]
    }
    assert "best" in disc_cells["w_avg"]["class"].split()
    assert (
        "gain" in disc_cells["delta"]["class"].split()
        and disc_cells["delta"]["title"] == "vs Qwen3-4B-Instruct-2507 ♡"
    )
    skywork_cells = {
        cell["attrs"].get("data-key"): cell["attrs"]
        for cell in by_label["Skywork-Reward-V2-Qwen3-4B ♣"]["cells"]
    }
    assert "second" in skywork_cells["w_avg"]["class"].split()
    assert "ours" in by_label["ToolRM-Disc-Qwen3-4B-Instruct-2507 ♣"]["attrs"]["class"].split()
    # unsorted: the generated order (families, then W-Avg best first, partial rows after complete ones)
    assert list(rows) == [
        "Qwen3-4B-Instruct-2507 ♡", "Qwen3-4B-Thinking-2507 ◇", "/work/runs/tiny_judge ♡[partial][sample]",
        "Qwen3-8B ◇[partial]", "ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇", "M-Prometheus-7B ♡[partial]",
        "ToolRM-Disc-Qwen3-4B-Instruct-2507 ♣", "Skywork-Reward-V2-Qwen3-4B ♣",
    ]  # fmt: skip
    assert table["attrs"].get("data-sort-key") is None


def test_html_sort_script_reorders_rows_within_families(chromium, written, tmp_path):
    dom = rendered_dom(
        chromium, written / "leaderboard.html", "#sort=trbench_bfcl.w_avg:asc", tmp_path / "p1"
    )
    reader = read_tables(dom)
    table = reader.tables["table-trbench_bfcl"]
    assert (table["attrs"]["data-sort-key"], table["attrs"]["data-sort-dir"]) == ("w_avg", "asc")
    sorted_header = [h for h in table["headers"] if h["attrs"].get("data-key") == "w_avg"]
    assert sorted_header[0]["attrs"]["aria-sort"] == "ascending"
    # ascending W-Avg inside each family; the row without W-Avg stays last
    assert list(row_texts(table)) == [
        "/work/runs/tiny_judge ♡[partial][sample]", "Qwen3-4B-Thinking-2507 ◇", "Qwen3-4B-Instruct-2507 ♡",
        "Qwen3-8B ◇[partial]", "M-Prometheus-7B ♡[partial]", "ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇",
        "Skywork-Reward-V2-Qwen3-4B ♣", "ToolRM-Disc-Qwen3-4B-Instruct-2507 ♣",
    ]  # fmt: skip
    # a table-qualified sort leaves the other tables alone
    assert reader.tables["table-trbench_bon"]["attrs"].get("data-sort-key") is None

    dom = rendered_dom(chromium, written / "leaderboard.html", "#sort=S:desc", tmp_path / "p2")
    table = read_tables(dom).tables["table-trbench_bfcl"]
    assert list(row_texts(table))[:4] == [
        "Qwen3-8B ◇[partial]", "Qwen3-4B-Instruct-2507 ♡", "Qwen3-4B-Thinking-2507 ◇",
        "/work/runs/tiny_judge ♡[partial][sample]",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def written_paired(tmp_path_factory) -> Path:
    """The page for runs with intervals, sample logs and timings (fixtures/leaderboard/paired)."""
    out = tmp_path_factory.mktemp("leaderboard_paired")
    status = main([str(FIXTURES / "paired"), "--models", str(MODELS), "--out", str(out), "--quiet",
                   "--formats", "html"])  # fmt: skip
    assert status == 0
    return out


def test_html_page_renders_intervals_ranks_comparisons_and_cost_in_chromium(
    chromium, written_paired, tmp_path
):
    dom = rendered_dom(chromium, written_paired / "leaderboard.html", "", tmp_path / "profile")
    reader = read_tables(dom)
    assert reader.root.get("data-leaderboard-ready") == "true"
    table = reader.tables["table-trbench_bfcl"]
    headers = [h["text"] for h in table["headers"]]
    assert headers[11:] == ["W-Avg", "95% CI", "Rank", "Δ", "Δ base (95% CI, p)", "vs above (95% CI, p)",
                            "Parse", "Pairs", "s/pair", "tok/pair"]  # fmt: skip
    rows = {row["cells"][0]["text"]: row for row in table["rows"]}
    trained = {c["attrs"].get("data-key"): c for c in rows["ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"]["cells"]}
    assert trained["ci"]["text"].startswith("+") and "/−" in trained["ci"]["text"]
    assert trained["rank"]["text"] == "1–3"
    assert trained["delta_paired"]["text"].startswith("+7.50 [")
    assert trained["seconds_per_unit"]["text"] == "10.00"
    assert trained["tokens_per_unit"]["text"] == "825.00"
    assert trained["w_avg"]["attrs"]["title"].startswith("95% CI [")
    sampled = {c["attrs"].get("data-key"): c for c in rows["M-Prometheus-7B ◇[sample]"]["cells"]}
    assert sampled["vs_above"]["text"] == "≠ units" and sampled["rank"]["text"] == "–"


def test_html_page_carries_the_interval_columns(written_paired):
    """The same page read without a browser (the Chromium test is skipped where none is installed)."""
    reader = read_tables((written_paired / "leaderboard.html").read_text())
    table = reader.tables["table-trbench_bfcl"]
    assert [h["text"] for h in table["headers"]][12:14] == ["95% CI", "Rank"]
    texts = row_texts(table)
    assert texts["ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"][13] == "1–3"
    assert texts["M-Prometheus-7B ◇[sample]"][16] == "≠ units"
    headers = [h["text"] for h in table["headers"]]
    assert headers[-2:] == ["s/pair", "tok/pair"]
    assert texts["Qwen3-4B-Thinking-2507 ◇"][-2:] == ["10.00", "825.00"]
