"""Write a whole file or nothing: the one atomic single-file writer of the project.

A reader (a later run, a cache lookup, a resumed trainer) must never see half a file, so every
output file is written to a uniquely named temporary file beside its target and renamed over it
(``os.replace`` is atomic within a file system). A run killed mid-write leaves at most a stray
``.<name>.*.tmp`` file, which nothing reads; the previous version of the target stays intact.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: str | Path, data: bytes | str, *, fsync: bool = False) -> Path:
    """Replace ``path`` by ``data`` (``str`` is written as UTF-8) in one rename; returns the path.

    The file gets mode 0644, as ``open(..., "w")`` would give under the usual umask (a temporary
    file is created 0600). ``fsync`` also flushes the bytes to disk before the rename, for files
    that must survive a power cut, not only a killed process.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
            if fsync:
                stream.flush()
                os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
