"""Compare a fresh build with a reference build (the shipped files), by content.

The pair file is compared decompressed: gzip output depends on the zlib implementation (zlib-ng,
for one, compresses differently), which says nothing about the data. ``build_stats.json`` is
compared without the compressed file's digest and size, for the same reason.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness_tasks.input_boundary import loads_json, read_json_file
from harness_tasks.trbench_build.build import NOTICE_FILE_NAME, PAIRS_FILE_NAME, STATS_FILE_NAME


COMPRESSION_DEPENDENT_FIELDS = ("sha256", "bytes")
"""Fields of ``build_stats.json["files"][...]`` that describe the gzip bytes, not the content."""


@dataclass
class Comparison:
    problems: list[str] = field(default_factory=list)
    """Content differences: the builds are not the same."""
    notes: list[str] = field(default_factory=list)
    """Differences that do not concern the content (e.g. gzip bytes)."""

    @property
    def same(self) -> bool:
        return not self.problems


def content_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """``build_stats`` without the fields that depend on how the pair file was compressed."""
    trimmed = loads_json(json.dumps(stats))
    for entry in trimmed.get("files", {}).values():
        for key in COMPRESSION_DEPENDENT_FIELDS:
            entry.pop(key, None)
    return trimmed


def _first_difference(built: list[str], reference: list[str]) -> str:
    for line_no, (new, old) in enumerate(zip(built, reference, strict=False), start=1):
        if new != old:
            new_row, old_row = loads_json(new), loads_json(old)
            fields = [
                key for key in dict.fromkeys([*old_row, *new_row]) if new_row.get(key) != old_row.get(key)
            ]
            where = f"{old_row.get('task_source')} {old_row.get('raw_id')}"
            return f"first difference at line {line_no} ({where}), fields {fields}"
    return f"the builds have {len(built)} and {len(reference)} lines"


def compare_builds(built_dir: Path, reference_dir: Path) -> Comparison:
    """What differs between the files of ``built_dir`` and those of ``reference_dir``."""
    result = Comparison()
    for name in (PAIRS_FILE_NAME, STATS_FILE_NAME, NOTICE_FILE_NAME):
        if not (reference_dir / name).exists():
            result.problems.append(f"{reference_dir / name} does not exist")
    if result.problems:
        return result
    built_pairs = gzip.decompress((built_dir / PAIRS_FILE_NAME).read_bytes()).decode("utf-8").splitlines()
    reference_pairs = (
        gzip.decompress((reference_dir / PAIRS_FILE_NAME).read_bytes()).decode("utf-8").splitlines()
    )
    if built_pairs != reference_pairs:
        result.problems.append(
            f"{reference_dir / PAIRS_FILE_NAME} differs from a fresh build: "
            + _first_difference(built_pairs, reference_pairs)
        )
    elif (built_dir / PAIRS_FILE_NAME).read_bytes() != (reference_dir / PAIRS_FILE_NAME).read_bytes():
        result.notes.append(
            f"{PAIRS_FILE_NAME}: same content, different gzip bytes (another zlib implementation); "
            "the task's data_build digest follows the shipped file"
        )
    built_stats = read_json_file(built_dir / STATS_FILE_NAME)
    reference_stats = read_json_file(reference_dir / STATS_FILE_NAME)
    if content_stats(built_stats) != content_stats(reference_stats):
        keys = sorted(
            key
            for key in {*built_stats, *reference_stats}
            if content_stats(built_stats).get(key) != content_stats(reference_stats).get(key)
        )
        result.problems.append(f"{reference_dir / STATS_FILE_NAME} differs from a fresh build in {keys}")
    built_notice = (built_dir / NOTICE_FILE_NAME).read_text(encoding="utf-8")
    if built_notice != (reference_dir / NOTICE_FILE_NAME).read_text(encoding="utf-8"):
        result.problems.append(f"{reference_dir / NOTICE_FILE_NAME} differs from a fresh build")
    return result
