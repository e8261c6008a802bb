#!/usr/bin/env bash
# Download, on a machine with network access, the few wheels gpu_check.sh needs on the bare GPU
# machine (Python 3.12, x86-64, PyTorch + transformers only) into .whl/ (git-ignored, about 2.4 MB).
#
#   bash benchmarks/gpu_wheels.sh
#
# benchmarks/bt_packing.py makes its training pairs with the ToolPref data pipeline, which reads
# BFCL's data from the bfcl-eval package (pure Python, imported without its dependencies) and
# validates tool-call arguments with jsonschema (+ jsonschema-specifications, referencing, rpds-py). Versions are those installed
# here (.venv), so the GPU run uses the same code as CI. gpu_check.sh installs whatever .whl/ holds
# into a temporary folder (pip --no-index --no-deps --target) and puts it on PYTHONPATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
PACKAGES=(bfcl-eval jsonschema jsonschema-specifications referencing rpds-py)
PINNED=()
for package in "${PACKAGES[@]}"; do
    PINNED+=("$package==$("$PYTHON" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$package")")
done
mkdir -p "$ROOT/.whl"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$ROOT/.whl" "${PINNED[@]}"
ls -l "$ROOT/.whl"
