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
from typing import Any, ClassVar, Literal, TypeVar

import yaml

from harness_tasks.atomic_files import write_atomically


class ConfigError(ValueError):
    """A configuration problem: the message names where (file or override) and which key.

    ``key`` is the config field at fault when there is one, so ``load_config`` can add where the
    value came from (the YAML file or the override) to a range error found after loading.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


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

    # Fields a ``--resume`` may change, each honoured by the resumed run (README: "Changing the
    # config on --resume"); a change to any other field is refused (``core/resume_check.py``),
    # because the checkpoint's optimiser, schedule and data position would silently keep the old one.
    RESUME_CHANGEABLE: ClassVar[frozenset[str]] = frozenset(
        {
            "output_dir",  # where the run folder is now (a moved or copied run)
            "overwrite_output_dir",  # only read by a fresh start, never by --resume
            "max_steps",  # extend (or shorten) the run: the schedule is rebuilt over the new total
            "num_epochs",
            "save_every_steps",
            "keep_last_checkpoints",
            "log_every_steps",
            "report_to",
        }
    )

    def validate(self) -> None:
        """Range checks of every field (``load_config`` calls it); a subclass adds its own fields'."""
        validate_config(self)


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
    try:
        config.validate()
    except ConfigError as exc:
        if exc.key in origin:
            raise ConfigError(f"{origin[exc.key].rsplit(': key ', 1)[0]}: {exc}", key=exc.key) from None
        raise
    return config


# Upper bound on ``learning_rate``. AdamW moves every weight by about ``learning_rate`` per step
# whatever the gradient's scale, so a rate above 1 replaces the weights with noise in a step or two
# (and 1e300 overflows to inf in the first update); fine-tuning rates are 1e-7 .. 1e-3.
MAX_LEARNING_RATE = 1.0

# ``seed`` feeds ``torch.manual_seed``, which takes a 64-bit value; NumPy takes it modulo 2**32.
MAX_SEED = 2**63 - 1


def require(condition: bool, name: str, expectation: str, value: Any) -> None:
    """Raise the documented ``ConfigError`` for ``name`` unless ``condition``.

    Written so that every check is stated positively (``0 <= x < 1``): a NaN fails every
    comparison, so it is refused by the same line, never waved through by ``x < 0`` being false.
    """
    if not condition:
        raise ConfigError(f"config key '{name}': must be {expectation}, got {value!r}", key=name)


def is_finite_number(value: Any) -> bool:
    """A real number that is neither NaN nor infinite (bools are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate_config(config: TrainerConfig) -> None:
    """Range checks that a type hint cannot express, for every shared field (exit 2 in the CLI)."""
    require(bool(config.output_dir.strip()), "output_dir", "a folder name (not empty)", config.output_dir)
    for name in ("per_device_batch_size", "gradient_accumulation_steps", "log_every_steps", "num_epochs",
                 "max_length"):  # fmt: skip
        require(getattr(config, name) >= 1, name, ">= 1", getattr(config, name))
    for name in ("save_every_steps", "keep_last_checkpoints"):
        require(getattr(config, name) >= 0, name, ">= 0", getattr(config, name))
    require(0 <= config.seed <= MAX_SEED, "seed", f"in [0, {MAX_SEED}]", config.seed)
    require(
        config.max_steps == -1 or config.max_steps >= 1,
        "max_steps",
        "-1 (from epochs) or >= 1",
        config.max_steps,
    )
    require(
        is_finite_number(config.learning_rate) and 0 < config.learning_rate <= MAX_LEARNING_RATE,
        "learning_rate",
        f"a finite number in (0, {MAX_LEARNING_RATE}] (AdamW moves each weight by about this much per step)",
        config.learning_rate,
    )
    require(0.0 <= config.warmup_ratio < 1.0, "warmup_ratio", "in [0, 1)", config.warmup_ratio)
    require(
        0.0 <= config.min_lr_ratio <= 1.0,
        "min_lr_ratio",
        "in [0, 1] (the schedule's floor as a share of the peak rate)",
        config.min_lr_ratio,
    )
    require(
        is_finite_number(config.max_grad_norm),
        "max_grad_norm",
        "a finite number (0 or less turns clipping off)",
        config.max_grad_norm,
    )
    require(
        is_finite_number(config.weight_decay) and config.weight_decay >= 0,
        "weight_decay",
        "a finite number >= 0",
        config.weight_decay,
    )
    require(
        config.learning_rate * config.weight_decay < 1.0,
        "weight_decay",
        f"below 1 / learning_rate = {1.0 / config.learning_rate:g} (AdamW multiplies the weights by "
        "1 - learning_rate × weight_decay every step)",
        config.weight_decay,
    )
    for name in ("adam_beta1", "adam_beta2"):
        require(0.0 <= getattr(config, name) < 1.0, name, "in [0, 1)", getattr(config, name))
    require(
        is_finite_number(config.adam_eps) and config.adam_eps > 0,
        "adam_eps",
        "a finite number > 0",
        config.adam_eps,
    )
    for path in config.dataset_paths:
        require(bool(path.strip()), "dataset_paths", "a list of file or folder names (no empty entry)", path)
    unknown = [sink for sink in config.report_to if sink not in REPORT_SINKS]
    if unknown:
        raise ConfigError(
            f"config key 'report_to': unknown sink(s) {unknown}; choose from {list(REPORT_SINKS)}",
            key="report_to",
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
