"""`toolrm-data build` under hostile-but-ordinary input and faults (issue 9): every bad row is one counted
skip naming file, line or row and field, the rest is read unchanged; caches cannot go stale; the
output folder is replaced as a whole, even when the build is killed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness_tasks.tool_calls import ToolCall, parse_tool_calls, parse_tools_system_prompt
from toolrm_train.toolpref import cli
from toolrm_train.toolpref.issues import IssueLog
from toolrm_train.toolpref.normalise import parse_python_call
from toolrm_train.toolpref.pipeline import PipelineConfig, load_trajectories, read_cache, run_pipeline


ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "toolpref"
TOOLS = [{"name": "add", "description": "Add.", "parameters": {"a": {"type": "int"}, "b": {"type": "int"}}}]


def xlam_row(i: int, query: str | None = None) -> dict:
    return {
        "id": f"r{i}",
        "query": query or f"Add {i} and {i + 1}.",
        "tools": TOOLS,
        "answers": [{"name": "add", "arguments": {"a": i, "b": i + 1}}],
    }


def load(path: Path) -> tuple[dict[str, object], IssueLog]:
    log = IssueLog()
    trajectories = load_trajectories([str(path)], log)
    return {t.raw_id: t for t in trajectories}, log


def examples(log: IssueLog) -> list[str]:
    return [issue.describe() for kept in log.examples.values() for issue in kept]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (cache included) → its SHA-256."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


# ---------------------------------------------------------------- reading


def test_non_utf8_byte_skips_only_its_line(tmp_path):
    lines = [json.dumps(xlam_row(i)).encode() for i in range(5)]
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"\n".join(lines[:2] + lines[3:]) + b"\n")
    lines[2] = lines[2].replace(b"Add 2", b"Add \xff2")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(lines) + b"\n")
    trajectories, log = load(bad)
    assert dict(log.counts) == {("read", "invalid_utf8"): 1}
    column = lines[2].index(b"\xff") + 1
    assert examples(log) == [
        f"{bad}, line 3: invalid_utf8 (byte 0xff at byte {column} of the line is not UTF-8)"
    ]
    reference, _ = load(good)
    assert sorted(trajectories) == ["r0", "r1", "r3", "r4"]
    for raw_id, trajectory in trajectories.items():  # the others unchanged, later line numbers kept
        assert trajectory.turns == reference[raw_id].turns
    assert trajectories["r4"].origin == f"{bad}, line 5"


def test_line_and_paragraph_separators_inside_strings_stay_in_their_row(tmp_path):
    rows = [xlam_row(i) for i in range(4)]
    rows[1]["query"] = "Add 1\u2028and\u2029 2, please.\x85"
    path = tmp_path / "sep.jsonl"
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8")
    trajectories, log = load(path)
    assert log.total == 0
    assert sorted(trajectories) == ["r0", "r1", "r2", "r3"]
    assert trajectories["r1"].turns[0]["content"] == "Add 1\u2028and\u2029 2, please.\x85"
    assert [trajectories[f"r{i}"].origin for i in range(4)] == [f"{path}, line {i}" for i in range(1, 5)]


def test_json_array_with_one_bad_element_skips_only_that_element(tmp_path):
    rows = [xlam_row(i) for i in range(21)]
    text = json.dumps(rows, indent=1)
    broken = text.replace('"query": "Add 7 and 8."', '"query": "Add 7 and 8.", oops', 1)
    assert broken != text
    path = tmp_path / "array.json"
    path.write_text(broken)
    trajectories, log = load(path)
    assert dict(log.counts) == {("read", "invalid_json"): 1}
    (message,) = examples(log)
    line = broken[: broken.index('"id": "r7"')].count("\n")  # the element's "{" is the line before its id
    assert message.startswith(f"{path}, row 7: invalid_json (element starting on line {line}: ")
    assert sorted(trajectories, key=lambda r: int(r[1:])) == [f"r{i}" for i in range(21) if i != 7]
    assert trajectories["r8"].origin == f"{path}, row 8"


def test_json_array_with_a_non_utf8_element(tmp_path):
    data = json.dumps([xlam_row(i) for i in range(3)]).encode().replace(b"Add 1 ", b"Add \xc3\x281 ")
    path = tmp_path / "array.json"
    path.write_bytes(data)
    trajectories, log = load(path)
    assert dict(log.counts) == {("read", "invalid_utf8"): 1}
    assert examples(log)[0].startswith(f"{path}, row 1: invalid_utf8 (byte 0xc3 on line 1")
    assert sorted(trajectories) == ["r0", "r2"]


def test_corrupt_parquet_and_gzip_files_are_counted_not_tracebacks(tmp_path):
    import gzip

    parquet = tmp_path / "broken.parquet"
    parquet.write_bytes(b"PAR1 this is not parquet")
    packed = gzip.compress(b"\n".join(json.dumps(xlam_row(i)).encode() for i in range(50)))
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(packed[: len(packed) // 2])
    trajectories, log = load(parquet)
    assert trajectories == {} and dict(log.counts) == {("read", "unreadable_file"): 1}
    assert examples(log)[0].startswith(f"{parquet}, row 0: unreadable_file")
    trajectories, log = load(truncated)
    assert dict(log.counts) == {("read", "unreadable_file"): 1}
    assert examples(log)[0].startswith(f"{truncated}: unreadable_file (")
    assert 0 < len(trajectories) < 50  # the whole rows before the damage are kept
    assert list(trajectories) == [f"r{i}" for i in range(len(trajectories))]


@pytest.mark.parametrize("content", [b"", b"\n\n", b" [ ] \n"])
def test_empty_input_is_named_and_counted(tmp_path, content):
    path = tmp_path / "empty.json"
    path.write_bytes(content)
    trajectories, log = load(path)
    assert trajectories == {}
    assert examples(log) == [f"{path}: empty_file (the file holds no rows)"]


def test_empty_input_cli_exits_1_and_lists_only_stats_json(tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    inputs = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    assert cli.main(["build", *inputs, "--out-dir", str(out), "--samples-per-context", "3"]) == 0
    assert any(p.name.endswith(".parquet") for p in out.iterdir())  # an earlier build
    capsys.readouterr()
    status = cli.main(["build", str(tmp_path / "empty.jsonl"), "--out-dir", str(out)])
    printed = " ".join(capsys.readouterr().out.split())
    assert status == 1
    assert "read: empty_file" in printed and "no data files written" in printed
    message = "No pairs built from 0 usable trajectories (1 rows skipped, listed above);"
    assert f"{message} {out} holds only stats.json." in printed
    assert "outputs in" not in printed and "Built" not in printed
    assert sorted(p.name for p in out.iterdir()) == ["cache", "stats.json"]  # no earlier data (cache kept)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["files"] == {} and stats["skipped"][0]["examples"] == [
        f"{tmp_path / 'empty.jsonl'}: empty_file (the file holds no rows)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "empty.jsonl",
        "in",
        "out",
    ]  # no staging folder left


def test_missing_input_file_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["build", str(tmp_path / "nope.jsonl"), "--out-dir", str(tmp_path / "out")])
    assert stop.value.code == 2
    assert f"input file not found: {tmp_path / 'nope.jsonl'}" in capsys.readouterr().err


def test_strict_build_names_the_first_bad_row_and_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # rich folds and elides a long temporary path at 80 columns
    path = tmp_path / "rows.jsonl"
    path.write_bytes(json.dumps(xlam_row(0)).encode() + b'\n{"query": "\xff"}\n')
    status = cli.main(["build", str(path), "--strict", "--out-dir", str(tmp_path / "out")])
    printed = " ".join(capsys.readouterr().out.split())
    assert status == 2
    assert f"error (--strict): {path}, line 2: invalid_utf8 (byte 0xff at byte 12" in printed
    assert not (tmp_path / "out").exists()


ARITHMETIC_BOMBS = {
    "b1": "add(a=10.0**400, b=1)",
    "b2": "add(a=" + "+".join(["1"] * 5000) + ", b=1)",
    "b3": "add(a=9**9**9, b=1)",
    "b4": "add(a=99999999999**1000, b=1)",
    "b5": "add(a=" + "[" * 200 + "]" * 200 + ", b=1)",
}


def test_bfcl_call_strings_with_arithmetic_bombs_are_refused(tmp_path):
    functions = [{"name": "add", "parameters": {"type": "dict", "properties": {"a": {}, "b": {}}}}]
    rows = [
        {"id": key, "question": [[{"role": "user", "content": f"q {key}"}]], "function": functions,
         "ground_truth": [call]}
        for key, call in ARITHMETIC_BOMBS.items()
    ]  # fmt: skip
    rows.append(
        {"id": "ok", "question": [[{"role": "user", "content": "q"}]], "function": functions,
         "ground_truth": ["add(a=500*500, b=-2**3)"]}
    )  # fmt: skip
    path = tmp_path / "bfcl.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    started = time.thread_time()  # CPU time: a busy neighbour on a shared machine does not count
    trajectories, log = load(path)
    assert time.thread_time() - started < 5
    assert dict(log.counts) == {("normalise", "invalid_ground_truth"): 5}
    kept = log.examples[("normalise", "invalid_ground_truth")]
    assert [issue.where for issue in kept] == [f"{path}, line {n}" for n in range(1, 6)]
    assert {issue.field for issue in kept} == {"ground_truth"}
    assert "overflow" in kept[0].detail and "exponent 387420489 above 1024" in kept[2].detail
    assert "integer above 2**256" in kept[3].detail
    assert list(trajectories) == ["ok"]
    assert parse_tool_calls(trajectories["ok"].turns[-1]["content"]).calls == (
        ToolCall("add", {"a": 250000, "b": -8}),
    )


def test_bounded_evaluator_keeps_ordinary_bfcl_arithmetic():
    call = parse_python_call("f(p=1/6, n=500*500, e=2**10, x=-3.5, y=[1, -2])", [])
    assert call.arguments == {"p": 1 / 6, "n": 250000, "e": 1024, "x": -3.5, "y": [1, -2]}


# ---------------------------------------------------------------- linear-time scans


def _reference_parse(text: str):
    """The former regex implementation, as the oracle for what the linear scan must return."""
    block = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
    bodies = [match.group(1).strip() for match in block.finditer(text)]
    return bodies, block.sub("", text).strip()


def test_tool_call_scan_matches_the_regex_semantics():
    import random

    rng = random.Random(0)
    pieces = ["<tool_call>", "</tool_call>", '{"name": "f", "arguments": {}}', "x", "\n", "<tool_", "call>"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        parsed = parse_tool_calls(text)
        bodies, outside = _reference_parse(text)
        assert parsed.text == outside, text
        assert len(parsed.calls) + len(parsed.malformed) == len(bodies), text
        assert list(parsed.malformed) == [b for b in bodies if b != '{"name": "f", "arguments": {}}'], text


def test_tools_block_scan_finds_the_block_the_regex_found():
    doc = '{"type": "function", "function": {"name": "f"}}'
    assert parse_tools_system_prompt(f"a<tools>\n{doc}\n</tools>\n</tools>") == [{"name": "f"}]
    assert parse_tools_system_prompt(f"<tools>\n{doc}\n\n</tools>") == [
        {"name": "f"}
    ]  # blank lines list nothing
    assert parse_tools_system_prompt("<tools>\n</tools>") == []  # regex: no "\n" left for "\n</tools>"
    assert parse_tools_system_prompt("<tools>\n" * 50_000) == []
    with pytest.raises(ValueError, match="tool line 1 in <tools> is not JSON"):
        parse_tools_system_prompt(f"<tools>\n<tools>\n{doc}\n</tools>")  # the first opening tag counts


def _alarm(seconds: int):
    def fail(*_):
        raise TimeoutError(f"not done in {seconds} s: a scan is not linear")

    signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)


def test_one_megabyte_adversarial_row_goes_through_the_pipeline_in_seconds(tmp_path):
    """Every tag scan at once, each with many opening tags and no closing one (quadratic for
    ``<x>(.*?)</x>`` regexes: 99 kB took 24 s), in a row of more than 1 MB."""
    quarter = 260_000
    call = '\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
    row = {
        "id": "hostile",
        "messages": [
            {"role": "system", "content": "<tools>" * (quarter // 7)},  # the normaliser's <tools> scans
            {"role": "user", "content": "Add 1 and 2."},
            {"role": "assistant", "content": "<tool_call>" * (quarter // 11) + call},  # one malformed block
            {"role": "tool", "content": "<tool_response>" + " " * quarter + "x"},
            {"role": "assistant", "content": "<tool_call>" * (quarter // 11)},  # text, no block at all
        ],
        "tools": [{"type": "function", "function": TOOLS[0]}],
    }
    path = tmp_path / "hostile.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(xlam_row(1)) + "\n")
    assert path.stat().st_size > 1_000_000
    config = PipelineConfig(inputs=[str(path)], out_dir=tmp_path / "out", samples_per_context=1, plot=False)
    started = time.process_time()  # CPU time: a busy neighbour on a shared machine does not count
    _alarm(120)
    try:
        result = run_pipeline(config)
    finally:
        signal.alarm(0)
    seconds = time.process_time() - started
    assert seconds < 30, seconds
    counts = result.stats["counts"]
    assert counts["trajectories (self-checked)"] == 2  # the hostile row is read, its tools from the row
    skipped = {(entry["stage"], entry["reason"]): entry for entry in result.stats["skipped"]}
    assert set(skipped) == {("validate", "malformed_tool_call")}  # its one call block, counted
    assert skipped[("validate", "malformed_tool_call")]["count"] == 1
    assert "hostile" in skipped[("validate", "malformed_tool_call")]["examples"][0]


# ---------------------------------------------------------------- caches that cannot go stale

INPUTS = ["openai.jsonl", "sharegpt.jsonl", "xlam.json"]


def _inputs(folder: Path) -> list[str]:
    folder.mkdir(exist_ok=True)
    for name in INPUTS:
        (folder / name).write_bytes((FIXTURES / name).read_bytes())
    return [str(folder / name) for name in INPUTS]


def _config(inputs: list[str], out: Path, **kwargs) -> PipelineConfig:
    return PipelineConfig(inputs=inputs, out_dir=out, samples_per_context=3, test_fraction=0.34, **kwargs)


def _picky_text_answer(calls, docs, question, rng):
    """An error operator that does not apply to weather questions: their mistakes are counted skips
    (``sample: no_operator_applies``), which a resumed run must report as a clean run does."""
    from harness_tasks.trbench_build.error_operators import Candidate

    return None if "weather" in question.lower() else Candidate("I cannot do that.")


OPERATORS = {"picky_text_answer": _picky_text_answer}


def _pairs(result) -> dict[str, list[tuple]]:
    return {
        split: [(p.pair_id, p.chosen.text, p.rejected.text, p.chosen.score, p.rejected.score) for p in pairs]
        for split, pairs in result.pairs.items()
    }


def test_editing_an_input_row_between_runs_gives_the_clean_build(tmp_path):
    inputs = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    first = run_pipeline(_config(inputs, out))
    source = Path(inputs[0])
    text = source.read_text()
    assert text.count("Paris") >= 2
    source.write_text(text.replace("Paris", "Lyon"))  # the question and the ground-truth call
    edited = run_pipeline(_config(inputs, out))
    clean = run_pipeline(_config(inputs, tmp_path / "clean"))
    assert _pairs(edited) == _pairs(clean)
    assert _pairs(edited) != _pairs(first)
    assert edited.stats["counts"] == clean.stats["counts"]
    assert edited.stats["skipped"] == clean.stats["skipped"]
    for name in clean.files:
        if name.endswith(".parquet"):
            assert pq.read_table(out / name).equals(pq.read_table(tmp_path / "clean" / name)), name


def test_torn_last_cache_line_is_cut_and_the_cache_heals(tmp_path):
    inputs = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    clean = run_pipeline(_config(inputs, out), operators=OPERATORS)
    (cache_file,) = (out / "cache").glob("candidates.offline-strong.*.jsonl")
    lines = cache_file.read_bytes().split(b"\n")[:-1]
    header, entries = lines[0], lines[1:]
    assert len(entries) == clean.stats["counts"]["contexts sampled"]
    # an interruption: the last two entries lost, the one before them cut mid-line
    cache_file.write_bytes(b"\n".join([header, *entries[:-3]]) + b"\n" + entries[-3][:25])
    assert len(read_cache(cache_file, json.loads(header))) == len(entries) - 3
    assert cache_file.read_bytes().endswith(entries[-4] + b"\n")  # the torn tail is cut
    for _ in range(2):  # resumed twice: same lines as the clean run, in any order, nothing appended twice
        resumed = run_pipeline(_config(inputs, out), operators=OPERATORS)
        healed = cache_file.read_bytes().split(b"\n")[:-1]
        assert healed[0] == header and sorted(healed[1:]) == sorted(entries)
        assert _pairs(resumed) == _pairs(clean)
        assert resumed.stats["skipped"] == clean.stats["skipped"]
    assert any(entry["stage"] == "sample" for entry in clean.stats["skipped"])  # there were some to replay


# ---------------------------------------------------------------- the output folder as a whole

KILLER = """
import os, signal, sys
from toolrm_train.toolpref import cli, export
real = export.write_parquet
def write_then_die(rows, path):
    real(rows, path)
    os.kill(os.getpid(), signal.SIGKILL)  # SIGKILL right after the first file of the export
export.write_parquet = write_then_die
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigkill_during_export_leaves_exactly_one_complete_build(tmp_path):
    inputs = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    args = ["build", *inputs, "--out-dir", str(out), "--samples-per-context", "3", "--test-fraction", "0.34"]
    assert cli.main([*args, "--seed", "1"]) == 0
    old = snapshot(out)
    assert "stats.json" in old and "toolpref_test_disc.parquet" in old
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, *args, "--seed", "2"], cwd=ROOT, capture_output=True, text=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    after = snapshot(out)
    assert {name: after[name] for name in old} == old  # the old build, whole, and its cache untouched
    assert all(name.startswith("cache/") for name in set(after) - set(old))  # + seed 2's own cache files
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".out.partial-")  # the half-written new one
    # the next run removes the leftover, and its result is the clean build of seed 2
    assert cli.main([*args, "--seed", "2"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]
    clean = tmp_path / "clean"
    assert cli.main([*args[:-6], "--out-dir", str(clean), *args[-4:], "--seed", "2"]) == 0
    new, fresh = snapshot(out), snapshot(clean)
    build_files = sorted(name for name in fresh if not name.startswith("cache/"))
    assert build_files == sorted(name for name in new if not name.startswith("cache/"))
    for name in build_files:
        if name.endswith(".parquet"):
            assert new[name] == fresh[name], name
            assert new[name] != old.get(name), name
    stats = json.loads((out / "stats.json").read_text())
    assert stats["config"]["seed"] == 2


def test_out_dir_holding_other_files_is_refused_untouched(tmp_path, capsys):
    inputs = _inputs(tmp_path / "in")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    before = snapshot(out)
    with pytest.raises(SystemExit) as stop:
        cli.main(["build", *inputs, "--out-dir", str(out)])
    assert stop.value.code == 2
    assert "holds files that are not part of a ToolPref build (notes.txt)" in capsys.readouterr().err
    assert snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == ["in", "mine"]
