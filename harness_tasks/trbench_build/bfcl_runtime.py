"""Import BFCL's checkers and multi-turn back-ends without their heavy dependencies or side effects.

* ``ast_checker`` imports ``bfcl_eval.constants.model_config``, which pulls every provider SDK
  (anthropic, openai, mistral, ...). It only reads ``MODEL_CONFIG_MAPPING[...].underscore_to_dot``,
  so a stub whose every entry says ``False`` (what BFCL uses for Qwen FC models: dotted names must
  match exactly) is installed first, unless the real module is already loaded.
* ``bfcl_eval.utils`` and ``constants.eval_config`` mkdir result folders under ``BFCL_PROJECT_ROOT``;
  nothing here imports them, and ``BFCL_PROJECT_ROOT`` points at a temporary folder in case a
  back-end ever does.
* The multi-turn executor caches back-end instances in ``multi_turn_utils`` module globals, keyed
  by model name and entry id; :func:`backend_scope` hands out a fresh model name and deletes its
  instances afterwards, so no run continues from another run's state.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import sys
import tempfile
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any


CHECKER_MODEL_NAME = "Qwen/Qwen3-8B-FC"
"""Model name handed to ``ast_checker``: a Hermes/Qwen FC model (no ``.``→``_`` renaming)."""

_MODEL_CONFIG_MODULE = "bfcl_eval.constants.model_config"
_scope_counter = itertools.count()


@dataclass(frozen=True)
class _ModelConfigStub:
    underscore_to_dot: bool = False


class _ModelConfigMapping(dict):
    def __missing__(self, key: str) -> _ModelConfigStub:
        return _ModelConfigStub()


def _prepare_environment() -> None:
    if "BFCL_PROJECT_ROOT" not in os.environ:
        scratch = tempfile.mkdtemp(prefix="toolrm-bfcl-")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        os.environ["BFCL_PROJECT_ROOT"] = scratch
    if _MODEL_CONFIG_MODULE not in sys.modules:
        stub = types.ModuleType(_MODEL_CONFIG_MODULE)
        stub.MODEL_CONFIG_MAPPING = _ModelConfigMapping()  # type: ignore[attr-defined]
        sys.modules[_MODEL_CONFIG_MODULE] = stub


@cache
def ast_checker_module() -> types.ModuleType:
    """``bfcl_eval.eval_checker.ast_eval.ast_checker``, imported with the model-config stub."""
    _prepare_environment()
    from bfcl_eval.eval_checker.ast_eval import ast_checker

    return ast_checker


@cache
def python_language() -> Any:
    from bfcl_eval.constants.enums import Language

    return Language.PYTHON


@cache
def multi_turn_checker_module() -> types.ModuleType:
    _prepare_environment()
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_checker

    return multi_turn_checker


@cache
def multi_turn_utils_module() -> types.ModuleType:
    _prepare_environment()
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils

    return multi_turn_utils


@cache
def backend_class(class_name: str) -> type:
    """A multi-turn back-end class (``GorillaFileSystem``, ``MathAPI``, ...), imported as BFCL does."""
    import importlib

    _prepare_environment()
    from bfcl_eval.constants.executable_backend_config import CLASS_FILE_PATH_MAPPING

    if class_name not in CLASS_FILE_PATH_MAPPING:
        raise ValueError(f"unknown BFCL multi-turn class {class_name!r}")
    return getattr(importlib.import_module(CLASS_FILE_PATH_MAPPING[class_name]), class_name)


@contextmanager
def backend_scope(purpose: str) -> Iterator[str]:
    """A model name no earlier run used; its cached back-end instances are deleted on exit.

    BFCL names instances ``f"{model_name}_..._instance"`` (with ``-./:`` replaced by ``_``), so a
    name made of letters, digits and ``_`` plus the ``_`` separator identifies exactly its own.
    """
    name = f"toolrm_{purpose}_{next(_scope_counter)}"
    utils_globals = vars(multi_turn_utils_module())
    try:
        yield name
    finally:
        for key in [key for key in utils_globals if key.startswith(name + "_")]:
            del utils_globals[key]
