"""Checkpoints are data, not code; a failed checkpoint write names its folder and cause (issue 26, items 3-4).

- A ``dcp/.metadata`` holding a pickle payload (a ``__reduce__`` that creates a file), alone or
  hidden inside real DCP metadata, is refused on ``--resume``: no file is created, the command
  exits 1 with a message naming the file. A payload in a non-tensor DCP entry is refused too.
- A checkpoint write that meets a full disk (``ENOSPC``) or the process's file-size limit
  (``RLIMIT_FSIZE`` -> ``EFBIG``, a real failing ``write()`` in a subprocess) raises
  ``CheckpointWriteError`` naming the folder, the file and the OS cause, removes its half-written
  folder and leaves the earlier checkpoint loadable.
"""

from __future__ import annotations

import errno
import io
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.api import CheckpointException

from toolrm_train.core import cli
from toolrm_train.core.checkpoint import (
    CheckpointWriteError,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from toolrm_train.core.config import TrainerConfig
from toolrm_train.core.distributed import DistEnv
from toolrm_train.core.errors import CheckpointError
from toolrm_train.core.optim import build_optimizer, build_scheduler
from toolrm_train.core.safe_dcp import SafeFileSystemReader, SafeLoadPlanner, UnsafeCheckpointError


ROOT = Path(__file__).resolve().parents[1]


class CreatesAFile:
    """A pickle payload: unpickling it with plain pickle calls ``open(path, "w")``."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def tiny_parts(out: Path):
    """A model, optimiser and scheduler small enough to checkpoint in milliseconds."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8))
    config = TrainerConfig(output_dir=str(out), keep_last_checkpoints=0)
    optimizer = build_optimizer(model, config)
    model(torch.randn(2, 8)).sum().backward()
    optimizer.step()
    return config, model, optimizer, build_scheduler(optimizer, config, 10)


def save(config, model, optimizer, scheduler, step: int) -> Path:
    return save_checkpoint(
        config, step, model=model, tokenizer=None, optimizer=optimizer, scheduler=scheduler,
        trainer_state={}, env=DistEnv(), save_hf=False,
    )  # fmt: skip


def load(path: Path, out: Path) -> None:
    _, model, optimizer, scheduler = tiny_parts(out)
    load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler, env=DistEnv())


# --- reading: no code runs -----------------------------------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    parts = tiny_parts(tmp_path / "run")
    return save(*parts, step=1)


def test_a_genuine_checkpoint_loads_through_the_safe_reader(checkpoint: Path, tmp_path: Path) -> None:
    _, model, optimizer, scheduler = tiny_parts(tmp_path / "other")
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    load_checkpoint(checkpoint, model=model, optimizer=optimizer, scheduler=scheduler, env=DistEnv())
    _, saved, saved_optimizer, _ = tiny_parts(tmp_path / "again")
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, saved.state_dict()[name], rtol=0, atol=0)
    # the non-tensor optimiser entries (betas, lr, ...) came back through weights_only loading
    assert optimizer.param_groups[0]["betas"] == saved_optimizer.param_groups[0]["betas"]


@pytest.mark.parametrize("hidden", [False, True], ids=["bare-payload", "payload-inside-real-metadata"])
def test_pickle_payload_in_dcp_metadata_runs_nothing(checkpoint: Path, tmp_path: Path, hidden: bool) -> None:
    marker = tmp_path / "PWNED"
    metadata_file = checkpoint / "dcp" / ".metadata"
    if hidden:
        with metadata_file.open("rb") as fh:
            metadata = pickle.load(fh)  # our own, freshly written file
        metadata.storage_meta.modules = [CreatesAFile(marker)]
        payload = pickle.dumps(metadata)
    else:
        payload = pickle.dumps(CreatesAFile(marker))
    metadata_file.write_bytes(payload)

    with pytest.raises(
        UnsafeCheckpointError, match=r"\.metadata: refused.*global 'io\.open' is not part"
    ) as info:
        load(checkpoint, tmp_path / "resume")
    assert isinstance(info.value, CheckpointError)
    assert not marker.exists()
    # DCP's per-rank fallback file goes through the same reader
    with pytest.raises(UnsafeCheckpointError):
        (checkpoint / "dcp" / "__0.metadata").write_bytes(payload)
        SafeFileSystemReader(checkpoint / "dcp").read_metadata(rank=0)
    assert not marker.exists()


def test_pickle_payload_in_a_non_tensor_entry_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    folder = tmp_path / "dcp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save({"w": torch.ones(2), "extra": CreatesAFile(marker)}, checkpoint_id=str(folder), no_dist=True)
    assert not marker.exists()  # saving only records the reduce call
    state = {"w": torch.zeros(2), "extra": None}
    with pytest.raises(CheckpointException) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.load(state, storage_reader=SafeFileSystemReader(folder), planner=SafeLoadPlanner(), no_dist=True)
    ((failure, _trace),) = info.value.failures.values()
    assert isinstance(failure, UnsafeCheckpointError)
    assert "checkpoint entry 'extra': refused to load it" in str(failure)
    assert not marker.exists() and state["extra"] is None


def test_cli_resume_from_a_tampered_checkpoint_exits_1_and_creates_nothing(
    tiny_causal_lm_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(cli.TRAINERS, "loop", ("train_core_loop", "test loop"))
    out = tmp_path / "run"
    args = ["loop", f"model_name_or_path={tiny_causal_lm_dir}", f"output_dir={out}", "max_steps=2"]
    assert cli.main([*args, "save_every_steps=1", "stop_after_steps=1"]) == 0
    marker = tmp_path / "PWNED"
    (out / "checkpoint-1" / "dcp" / ".metadata").write_bytes(pickle.dumps(CreatesAFile(marker)))
    capsys.readouterr()
    assert cli.main([*args, "save_every_steps=1", "--resume"]) == 1
    err = capsys.readouterr().err
    assert "checkpoint error" in err and "checkpoint-1/dcp/.metadata: refused" in err
    assert "Traceback" not in err and not marker.exists() and not (out / "final").exists()


# --- writing: disk full, file too large ----------------------------------------------------------------


def test_disk_full_during_a_checkpoint_names_folder_and_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    parts = tiny_parts(out)
    first = save(*parts, step=1)

    from torch.distributed.checkpoint import filesystem

    real_create_stream = filesystem.FileSystem.create_stream

    class FullDisk(io.RawIOBase):
        """Accepts 100 bytes, then fails as a full disk does."""

        def __init__(self, stream) -> None:
            self.stream, self.left = stream, 100

        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            if len(data) > self.left:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.left -= len(data)
            return self.stream.write(data)

        def tell(self) -> int:
            return self.stream.tell()

    def full_disk_stream(self, path, mode):
        context = real_create_stream(self, path, mode)
        stream = context.__enter__()
        try:
            yield FullDisk(stream) if "w" in mode else stream
        finally:
            context.__exit__(None, None, None)

    import contextlib

    monkeypatch.setattr(filesystem.FileSystem, "create_stream", contextlib.contextmanager(full_disk_stream))
    with pytest.raises(CheckpointWriteError) as info:
        save(*parts, step=2)
    message = str(info.value)
    assert f"cannot write checkpoint-2 in {out}" in message
    assert "No space left on device (ENOSPC) while writing" in message and ".tmp-checkpoint-2/dcp/" in message
    assert "unexpected pos" not in message and f"earlier checkpoint {first} is untouched" in message
    monkeypatch.undo()
    assert not (out / ".tmp-checkpoint-2").exists()  # the half-written folder gave its space back
    assert list_checkpoints(out) == [first]
    load(first, tmp_path / "resume")  # the earlier checkpoint still loads


FSIZE_SCRIPT = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_checkpoint_safety import save, tiny_parts
    from toolrm_train.core.checkpoint import CheckpointWriteError

    parts = tiny_parts(Path(sys.argv[1]))
    save(*parts, step=1)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
    try:
        save(*parts, step=2)
    except CheckpointWriteError as exc:
        print(exc)
        sys.exit(3)
    """
)


def test_file_size_limit_during_a_checkpoint_names_the_cause(tmp_path: Path) -> None:
    """A real failing write(): RLIMIT_FSIZE makes the kernel refuse bytes past 1,000 (EFBIG)."""
    script = tmp_path / "fsize.py"
    script.write_text(FSIZE_SCRIPT.format(tests=str(ROOT / "tests")))
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert f"cannot write checkpoint-2 in {out}: File too large (EFBIG) while writing" in proc.stdout
    assert "unexpected pos" not in proc.stdout
    assert list_checkpoints(out) == [out / "checkpoint-1"] and not (out / ".tmp-checkpoint-2").exists()
    load(out / "checkpoint-1", tmp_path / "resume")


def test_permission_error_during_a_checkpoint_names_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the test may run as root (which ignores modes), the refusal is injected at mkdir."""
    out = tmp_path / "run"
    parts = tiny_parts(out)
    first = save(*parts, step=1)
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if self.name.startswith(".tmp-checkpoint-"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(CheckpointWriteError) as info:
        save(*parts, step=2)
    assert f"cannot write checkpoint-2 in {out}: Permission denied (EACCES) while writing" in str(info.value)
    assert f"earlier checkpoint {first} is untouched" in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_output_dir_names_the_permission_error(tmp_path: Path) -> None:
    out = tmp_path / "run"
    parts = tiny_parts(out)
    save(*parts, step=1)
    out.chmod(0o555)
    try:
        with pytest.raises(CheckpointWriteError, match=r"Permission denied \(EACCES\)"):
            save(*parts, step=2)
    finally:
        out.chmod(0o755)
