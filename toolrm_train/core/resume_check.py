"""``--resume`` continues the run the checkpoint belongs to, or refuses: no silently ignored change.

A checkpoint carries the optimiser's hyper-parameters (learning rate, betas, eps, weight decay in
its param groups), the schedule's base rate, the data position and the RNG state. A field changed
on the command line at ``--resume`` would be overwritten by those (``learning_rate=…`` trained at
the old rate) or would break the continuation (another data file under the same position) while the
new value was still written into the saved configs. So the requested config is compared with the
checkpoint's ``config.yaml`` field by field; only the fields in the config class's
``RESUME_CHANGEABLE`` set may differ, because the resumed run reads each of them from the config
again (the total step count, checkpoint and log intervals, metric sinks, the run folder's place).
Everything else is a ``ConfigError`` (exit 2) that names each changed field with both values.
"""

from __future__ import annotations

import contextlib
import dataclasses
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from toolrm_train.core.config import ConfigError, TrainerConfig, _coerce


CHECKPOINT_CONFIG_FILE = "config.yaml"


def read_checkpoint_config(checkpoint: Path) -> dict[str, Any]:
    """The checkpoint's saved ``config.yaml`` as a mapping (a ``ConfigError`` naming the file if not)."""
    path = checkpoint / CHECKPOINT_CONFIG_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError, ValueError) as exc:
        raise ConfigError(
            f"{path}: cannot read the checkpoint's config to compare it with this run's ({exc})"
        ) from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the checkpoint's config is not a mapping of config keys")
    return dict(data)


def changed_fields(config: TrainerConfig, saved: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(field, checkpoint value, requested value)`` for every field that differs.

    A field the saved config lacks (written before the field existed) is compared with the field's
    default, which is what that run used.
    """
    hints = typing.get_type_hints(type(config))
    changes = []
    for f in dataclasses.fields(config):
        requested = getattr(config, f.name)
        if f.name in saved:
            old = saved[f.name]
            # a value invalid today stays as saved: it differs from the requested (valid) one anyway
            with contextlib.suppress(ConfigError):
                old = _coerce(old, hints[f.name], f.name)
        elif f.default is not dataclasses.MISSING:
            old = f.default
        else:
            old = f.default_factory()  # type: ignore[misc]
        if old != requested:
            changes.append((f.name, old, requested))
    return changes


def check_resume_config(config: TrainerConfig, checkpoint: Path, checkpoint_step: int) -> None:
    """Refuse a ``--resume`` whose config differs from the checkpoint's in a field that would be ignored.

    Fields in ``type(config).RESUME_CHANGEABLE`` may change (and are honoured). A ``max_steps``
    below the checkpoint's step is refused too: the run would end at once and call the later
    checkpoint's weights its "final" model.
    """
    changes = changed_fields(config, read_checkpoint_config(checkpoint))
    allowed = type(config).RESUME_CHANGEABLE
    refused = [(name, old, new) for name, old, new in changes if name not in allowed]
    if refused:
        listed = "; ".join(f"{name}: checkpoint {old!r}, requested {new!r}" for name, old, new in refused)
        raise ConfigError(
            f"--resume from {checkpoint}: the config differs from the checkpoint's in "
            f"{len(refused)} field(s) that a resumed run cannot honour (its optimiser, schedule and "
            f"data position keep the checkpoint's): {listed}. Resume with the checkpoint's values, or "
            f"start a new run (another output_dir, or overwrite_output_dir=true without --resume). "
            f"Changeable on --resume: {', '.join(sorted(allowed))}",
            key=refused[0][0],
        )
    if 0 < config.max_steps < checkpoint_step:
        raise ConfigError(
            f"--resume from {checkpoint}: max_steps={config.max_steps} but the checkpoint is already "
            f"past it, at step {checkpoint_step} (ask for more steps, or start a new run; an older "
            f"checkpoint's hf/ folder is a model as it is)",
            key="max_steps",
        )
