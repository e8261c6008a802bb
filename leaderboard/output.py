"""Writing the leaderboard's files all or nothing.

Every output (Markdown, LaTeX, HTML, charts) is rendered in memory first; only when all of them
exist are they written, each to a temporary file beside its target and then renamed over it. A
renderer that fails (a chart that cannot be drawn, say) therefore leaves the folder exactly as it
was, instead of a new ``leaderboard.md`` beside last run's charts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def write_files(out_dir: Path, files: Mapping[str, bytes | str]) -> list[Path]:
    """Write ``{file name: content}`` into ``out_dir``: all temporary files first, then the renames.

    If writing any temporary file fails (disk full, permissions), the others are removed and no
    target is touched; the renames that follow are single system calls each.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, content in files.items():
            target = out_dir / name
            temporary = out_dir / f".{name}.tmp-{os.getpid()}"
            data = content.encode("utf-8") if isinstance(content, str) else content
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            staged.append((temporary, target))
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        (out_dir / f".{name}.tmp-{os.getpid()}").unlink(missing_ok=True)
        raise
    for temporary, target in staged:
        os.replace(temporary, target)
    return [target for _, target in staged]
