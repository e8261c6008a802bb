"""Trainer configuration: one dataclass per trainer, loaded from YAML plus ``key=value`` overrides.

TRL's shape: ``TrainerConfig`` holds the fields every trainer shares; ``GRPOConfig`` and
``BTConfig`` subclass it in their own packages and override defaults with the paper's recipe. A
YAML key maps 1:1 onto a field and a command-line override ``key=value`` onto the same field, so
what a run did is always one flat dict (``config_to_dict``), saved beside its checkpoints.

Every field carries its documentation in ``field(metadata={"help": ...})``; ``describe_fields``
renders it for ``toolrm-train <trainer> --help``. Loading is strict: an unknown key or a value of
the wrong type is a ``ConfigError`` naming the file (or the override) and the key, never a silent
default. Values are checked against the field's type hint (``int``, ``float``, ``str``, ``bool``,
``list[...]``, ``Literal[...]``, ``X | None``), so a subclass gets the same checks for free.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from harness_tasks.atomic_files import write_atomically


class ConfigError(ValueError):
    """A configuration problem: the message names where (file or override) and which key."""


@dataclass
class TrainerConfig:
    """Fields shared by every trainer. Defaults are neutral; trainers override them with their recipe."""

    # --- where things are --------------------------------------------------------------------------
    output_dir: str = field(
        default="runs/train",
        metadata={
            "help": "Run folder: checkpoints (checkpoint-<step>/), the final model (final/), metrics.jsonl."
        },
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Start a fresh run in an output_dir that already holds checkpoints (they are deleted). "
            "Without it, such a folder is an error unless --resume is given."
        },
    )
    model_name_or_path: str = field(
        default="",
        metadata={"help": "Model to start from: a Hugging Face directory or Hub id (Hub only when online)."},
    )
    dataset_paths: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Training data files (Parquet/JSONL from `toolrm-data build`). A single string is "
            "accepted and means a one-item list (YAML key `dataset_path` is an alias)."
        },
    )
    max_length: int = field(
        default=4096,
        metadata={
            "help": "Longest training sequence in tokens; longer items are skipped and counted, "
            "never truncated."
        },
    )

    # --- optimisation ------------------------------------------------------------------------------
    seed: int = field(
        default=0,
        metadata={
            "help": "Seed for model initialisation, data order and sampling; a run is repeatable "
            "given the seed."
        },
    )
    learning_rate: float = field(default=1e-6, metadata={"help": "Peak learning rate of AdamW."})
    lr_scheduler: Literal["constant", "cosine", "linear"] = field(
        default="constant",
        metadata={
            "help": "Learning-rate schedule after warm-up: constant, cosine (to min_lr_ratio × peak) "
            "or linear (to min_lr_ratio × peak)."
        },
    )
    warmup_ratio: float = field(
        default=0.0,
        metadata={
            "help": "Share of the total optimiser steps spent warming up linearly from 0 to the peak rate."
        },
    )
    min_lr_ratio: float = field(
        default=0.0,
        metadata={
            "help": "Floor of the cosine/linear schedules as a share of the peak rate (OpenRLHF's "
            "cosine_with_min_lr uses 0.1)."
        },
    )
    num_epochs: int = field(
        default=1, metadata={"help": "Passes over the training data (used when max_steps is -1)."}
    )
    max_steps: int = field(
        default=-1, metadata={"help": "Optimiser steps to run; -1 = num_epochs × steps per epoch."}
    )
    per_device_batch_size: int = field(
        default=1,
        metadata={
            "help": "Items per micro-batch on each process. Global batch = this × "
            "gradient_accumulation_steps × world size."
        },
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "Micro-batches summed into one optimiser step."}
    )
    max_grad_norm: float = field(
        default=1.0,
        metadata={"help": "Clip the global gradient norm to this value; 0 or less disables clipping."},
    )
    weight_decay: float = field(
        default=0.0,
        metadata={
            "help": "AdamW decoupled weight decay, applied to matrices only (not to biases and norm weights)."
        },
    )
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1."})
    adam_beta2: float = field(default=0.999, metadata={"help": "AdamW beta2."})
    adam_eps: float = field(default=1e-8, metadata={"help": "AdamW epsilon."})

    # --- precision and memory ----------------------------------------------------------------------
    bf16: bool | Literal["auto"] = field(
        default="auto",
        metadata={
            "help": "bfloat16 compute with fp32 master weights: 'auto' = on when CUDA is used, off on CPU."
        },
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata={"help": "Recompute activations in the backward pass (less memory, ~30% more compute)."},
    )

    # --- checkpoints and logging -------------------------------------------------------------------
    save_every_steps: int = field(
        default=0,
        metadata={"help": "Write a resumable checkpoint every N optimiser steps; 0 = only the final model."},
    )
    keep_last_checkpoints: int = field(
        default=2, metadata={"help": "Keep only the newest N complete checkpoints; 0 = keep all."}
    )
    log_every_steps: int = field(default=1, metadata={"help": "Log metrics every N optimiser steps."})
    report_to: list[str] = field(
        default_factory=lambda: ["jsonl"],
        metadata={
            "help": "Metric sinks besides the always-written metrics.jsonl: 'tensorboard', 'wandb' "
            "(each used only when installed; a warning otherwise)."
        },
    )


ConfigT = TypeVar("ConfigT", bound=TrainerConfig)

# Alternative spellings accepted in YAML / overrides, mapped onto the canonical field.
KEY_ALIASES = {"dataset_path": "dataset_paths"}

REPORT_SINKS = ("jsonl", "tensorboard", "wandb")


def config_to_dict(config: TrainerConfig) -> dict[str, Any]:
    """The flat, YAML-ready dict of a config (what ``load_config`` reads back unchanged)."""
    return dataclasses.asdict(config)


def describe_fields(config_cls: type[TrainerConfig]) -> str:
    """One block per field (name, type, default, help) for ``--help``."""
    hints = typing.get_type_hints(config_cls)
    lines = []
    for f in dataclasses.fields(config_cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        type_name = _type_name(hints[f.name])
        lines.append(f"  {f.name} ({type_name}, default: {default!r})")
        text = field_help(config_cls, f.name)
        if text:
            lines.extend(textwrap.wrap(text, width=100, initial_indent=" " * 6, subsequent_indent=" " * 6))
    return "\n".join(lines)


def field_help(config_cls: type[TrainerConfig], name: str) -> str:
    """A field's help text; a subclass that only changes a default (``learning_rate: float = 4e-6``)
    inherits the documentation of the base class's field."""
    for klass in config_cls.__mro__:
        if dataclasses.is_dataclass(klass):
            for f in dataclasses.fields(klass):
                if f.name == name and f.metadata.get("help"):
                    return f.metadata["help"]
    return ""


def load_config(
    config_cls: type[ConfigT],
    config_path: str | Path | None,
    overrides: Sequence[str] = (),
) -> ConfigT:
    """Build ``config_cls`` from a YAML file (may be None) and ``key=value`` overrides (applied last).

    Override values are parsed with ``yaml.safe_load``, so ``lr=2e-6``, ``report_to=[jsonl,wandb]``
    and ``bf16=true`` mean what they look like. Raises ``ConfigError`` for a missing/unreadable
    file, a non-mapping top level, an unknown key or a value of the wrong type.
    """
    names = {f.name for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}

    if config_path is not None:
        path = Path(config_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{path}: the top level must be a mapping of config keys, found {type(data).__name__}"
            )
        for key, value in data.items():
            name = _canonical_key(str(key), names, where=str(path))
            values[name] = value
            origin[name] = f"{path}: key '{key}'"

    for override in overrides:
        key, sep, raw = override.partition("=")
        key = key.strip().removeprefix("--")
        if not sep or not key:
            raise ConfigError(f"override '{override}': expected key=value")
        where = f"override '{override}'"
        name = _canonical_key(key, names, where=where)
        try:
            values[name] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: value is not valid YAML ({exc})") from exc
        origin[name] = f"{where}: key '{key}'"

    checked = {name: _coerce(value, hints[name], origin[name]) for name, value in values.items()}
    config = config_cls(**checked)
    validate_config(config)
    return config


def validate_config(config: TrainerConfig) -> None:
    """Cross-field and range checks that a type hint cannot express."""
    positive = ("per_device_batch_size", "gradient_accumulation_steps", "log_every_steps", "num_epochs")
    for name in positive:
        if getattr(config, name) < 1:
            raise ConfigError(f"config key '{name}': must be >= 1, got {getattr(config, name)}")
    for name in ("save_every_steps", "keep_last_checkpoints", "weight_decay", "min_lr_ratio"):
        if getattr(config, name) < 0:
            raise ConfigError(f"config key '{name}': must be >= 0, got {getattr(config, name)}")
    if config.max_steps == 0 or config.max_steps < -1:
        raise ConfigError(f"config key 'max_steps': must be -1 (from epochs) or >= 1, got {config.max_steps}")
    if not 0.0 <= config.warmup_ratio < 1.0:
        raise ConfigError(f"config key 'warmup_ratio': must be in [0, 1), got {config.warmup_ratio}")
    if config.learning_rate < 0 or not math.isfinite(config.learning_rate):
        raise ConfigError(
            f"config key 'learning_rate': must be a finite number >= 0, got {config.learning_rate}"
        )
    unknown = [sink for sink in config.report_to if sink not in REPORT_SINKS]
    if unknown:
        raise ConfigError(
            f"config key 'report_to': unknown sink(s) {unknown}; choose from {list(REPORT_SINKS)}"
        )


def save_config(config: TrainerConfig, path: str | Path) -> Path:
    """Write the config as YAML (atomically), so a run records exactly what it was asked to do."""
    return write_atomically(path, yaml.safe_dump(config_to_dict(config), sort_keys=False))


# --- internals -------------------------------------------------------------------------------------


def _canonical_key(key: str, names: set[str], *, where: str) -> str:
    key = KEY_ALIASES.get(key, key)
    if key in names:
        return key
    close = difflib.get_close_matches(key, sorted(names), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"{where}: unknown config key '{key}'{hint}")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        return f"list[{_type_name(inner)}]"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the type hint ``tp``; convert only where the meaning is unambiguous."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices and type(value) in {type(c) for c in choices}:
            return value
        raise ConfigError(f"{where}: expected one of {list(choices)}, got {value!r}")
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc).removeprefix(f"{where}: "))
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and inner is str:
            value = [str(value)]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(item, inner, where) for item in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            # YAML 1.1 reads `1e-6` (no dot) as a string; accept it as the number it plainly is.
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
