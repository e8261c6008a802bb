"""The shared atomic writer: the whole new file or the old one, never a mix, never a stray file."""

from __future__ import annotations

import os
import stat

import pytest

from harness_tasks import atomic_files
from harness_tasks.atomic_files import write_atomically


def test_writes_text_as_utf8_and_bytes_as_is_with_usual_mode(tmp_path):
    target = tmp_path / "new" / "dir" / "out.json"
    assert write_atomically(target, "é\n") == target
    assert target.read_bytes() == "é\n".encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    write_atomically(target, b"\x00\x01", fsync=True)
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    target.write_text("old")

    def killed_before_rename(source, destination):
        raise KeyboardInterrupt  # stands for a run stopped between writing and renaming

    monkeypatch.setattr(atomic_files.os, "replace", killed_before_rename)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["results.json"]
