"""Replace the output folder as a whole, so a build killed at any moment leaves one complete build.

A build writes its files (Parquet exports, ``stats.json``, ``distributions.png``) into a staging
folder beside the output folder, ``.<name>.partial-<pid>``, then publishes it:

1. the sample cache ``<out_dir>/cache`` (append-only, keyed by content, so always safe to reuse) is
   moved into the staging folder (a rename);
2. the staging folder and the output folder are exchanged in one atomic ``renameat2(RENAME_EXCHANGE)``
   call (Linux); where that is not available, two renames with the old folder parked as
   ``.<name>.old-<pid>`` in between;
3. the old build, now in the staging path, is deleted.

A SIGKILL before step 2 leaves the old build in place (and the new one in the staging folder); after
it, the new one. Trainers, ``datasets`` and verl read the folder directly and never see a mix.
:func:`recover` runs at the start of the next build: it puts a cache or a parked old build left by a
killed run back and deletes the leftovers.
"""

from __future__ import annotations

import ctypes
import glob
import os
import shutil
from pathlib import Path


BUILD_FILE_PATTERNS = ("toolpref_*.parquet", "stats.json", "distributions.png")
CACHE_NAME = "cache"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class OutputDirError(ValueError):
    """The output folder holds files that are not a ToolPref build; replacing it would delete them."""


def staging_dir(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"


def _parked_dir(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"


def _is_build_file(path: Path) -> bool:
    if path.name == CACHE_NAME and path.is_dir():
        return True
    return path.is_file() and any(path.match(pattern) for pattern in BUILD_FILE_PATTERNS)


def check_replaceable(out_dir: Path) -> None:
    """Refuse an output folder with anything but an earlier build in it (``--out-dir .`` by mistake)."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise OutputDirError(f"--out-dir {out_dir} exists and is not a folder")
    foreign = sorted(path.name for path in out_dir.iterdir() if not _is_build_file(path))
    if foreign:
        shown = ", ".join(foreign[:5]) + (" …" if len(foreign) > 5 else "")
        raise OutputDirError(
            f"--out-dir {out_dir} holds files that are not part of a ToolPref build ({shown}); each build "
            "replaces the whole folder, so choose an empty or new folder"
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftovers(out_dir: Path) -> list[tuple[Path, str]]:
    found = []
    for kind in ("partial", "old"):
        for path in out_dir.parent.glob(f".{glob.escape(out_dir.name)}.{kind}-*"):
            pid = path.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                found.append((path, kind))
    return found


def recover(out_dir: Path) -> list[str]:
    """Undo what a killed build left beside ``out_dir``; returns one message per action taken."""
    messages = []
    for path, kind in _leftovers(out_dir):
        if kind == "old" and not out_dir.exists():
            os.rename(path, out_dir)  # killed between the two fallback renames: the old build returns
            messages.append(f"restored the previous build from {path.name}")
            continue
        cache = path / CACHE_NAME
        if cache.is_dir() and not (out_dir / CACHE_NAME).exists():
            out_dir.mkdir(parents=True, exist_ok=True)
            os.rename(cache, out_dir / CACHE_NAME)
            messages.append(f"recovered the sample cache from {path.name}")
        shutil.rmtree(path, ignore_errors=True)
        messages.append(f"removed {path.name} left by an interrupted build")
    return messages


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux ``renameat2``); ``False`` where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def publish(staging: Path, out_dir: Path) -> None:
    """Make ``staging`` the output folder, carrying the sample cache over; the old build is deleted."""
    cache = out_dir / CACHE_NAME
    if cache.is_dir():
        os.rename(cache, staging / CACHE_NAME)
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    if _exchange(staging, out_dir):
        shutil.rmtree(staging)  # now the old build
        return
    parked = _parked_dir(out_dir)
    os.rename(out_dir, parked)
    os.rename(staging, out_dir)
    shutil.rmtree(parked)
