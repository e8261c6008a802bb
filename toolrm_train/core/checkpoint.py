"""Checkpoints that resume exactly and that the harness scores with no conversion.

Layout of ``output_dir/checkpoint-<step>/``::

    hf/                 consolidated Hugging Face directory: config.json, model.safetensors,
                        generation_config.json, tokenizer files and chat template. What
                        `toolrm-eval --model hf|hf-rm|vllm` loads directly.
    dcp/                model + optimiser state, torch.distributed.checkpoint (DCP) format: each rank
                        writes its own shard in parallel; loads at any world size (resharding).
    scheduler.pt        the LR scheduler's state_dict (its step count).
    trainer_state.json  step, world size, the trainer's own state (data position, counters) and
                        every rank's RNG state (``rng.capture_rng_state``), one entry per rank.
    config.yaml         the run's resolved config.
    COMPLETE            written last; a folder without it is half-written and is never resumed.

Atomic: everything is written into ``output_dir/.tmp-checkpoint-<step>/``; after every rank has
finished, rank 0 writes ``COMPLETE``, fsyncs, and renames the folder to ``checkpoint-<step>``. A run
killed at any moment leaves either a complete checkpoint or one that ``find_last_checkpoint``
ignores with a message. Multi-node runs need ``output_dir`` on a file system all nodes share.

DCP for the resume state in every mode (also one process, where it is a plain local write): the
same code path for 1 and N processes, and a run started on one GPU can resume on eight. The ``hf/``
copy gathers the full state dict to rank 0 (``get_model_state_dict(full_state_dict=True,
cpu_offload=True)``, a collective every rank joins), so rank 0 needs CPU memory for one fp32 copy
of the model.

Loading reads the folder as data only (``safe_dcp``: no general unpickler runs on any of its
files), and ``--resume`` refuses a config change the resumed run could not honour
(``resume_check``). A write that fails (disk full, no permission) is a ``CheckpointWriteError``
naming the folder, the file and the OS cause; the earlier complete checkpoint is never touched.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import re
import shutil
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.checkpoint.api import CheckpointException

from harness_tasks.input_boundary import read_json_file
from toolrm_train.core.config import ConfigError, TrainerConfig, save_config
from toolrm_train.core.distributed import DistEnv, all_gather_objects, barrier, broadcast_object
from toolrm_train.core.errors import CheckpointError
from toolrm_train.core.resume_check import check_resume_config
from toolrm_train.core.rng import capture_rng_state, restore_rng_state
from toolrm_train.core.safe_dcp import (
    ErrorRecordingWriter,
    SafeFileSystemReader,
    SafeLoadPlanner,
    check_dcp_metadata,
)


logger = logging.getLogger("toolrm_train.checkpoint")

CHECKPOINT_PREFIX = "checkpoint-"
TMP_PREFIX = ".tmp-checkpoint-"
COMPLETE_MARKER = "COMPLETE"
TRAINER_STATE_FILE = "trainer_state.json"
HF_DIR = "hf"
DCP_DIR = "dcp"
FINAL_DIR = "final"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


# --- finding checkpoints ---------------------------------------------------------------------------


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints in ``output_dir``, oldest step first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _CHECKPOINT_RE.match(child.name)
        if match and child.is_dir() and (child / COMPLETE_MARKER).is_file():
            found.append((int(match.group(1)), child))
    return [path for _, path in sorted(found)]


def checkpoint_step(path: Path) -> int:
    """The step in a ``checkpoint-<step>`` folder's name."""
    match = _CHECKPOINT_RE.match(path.name)
    if match is None:
        raise ValueError(f"{path}: not a checkpoint-<step> folder")
    return int(match.group(1))


def find_last_checkpoint(output_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step, or None.

    Half-written ones (a ``.tmp-checkpoint-*`` folder, or a ``checkpoint-*`` folder without
    ``COMPLETE``) are skipped with a warning naming them.
    """
    root = Path(output_dir)
    if not root.is_dir():
        return None
    for child in sorted(root.iterdir()):
        if child.name.startswith(TMP_PREFIX):
            logger.warning("ignoring half-written checkpoint %s (the run stopped while writing it)", child)
        elif _CHECKPOINT_RE.match(child.name) and not (child / COMPLETE_MARKER).is_file():
            logger.warning("ignoring incomplete checkpoint %s (no %s marker)", child, COMPLETE_MARKER)
    complete = list_checkpoints(root)
    return complete[-1] if complete else None


def resolve_resume(config: TrainerConfig, resume: bool, env: DistEnv) -> Path | None:
    """What a trainer starts from, with the output folder checked.

    ``resume``: the last complete checkpoint, or None (fresh start, with a message) when there is
    none; a config that differs from that checkpoint's in a field the resumed run could not honour
    is a ``ConfigError`` (``resume_check.check_resume_config``). Fresh run into a folder with
    checkpoints: an error, unless ``overwrite_output_dir`` (the old checkpoints are deleted).
    Every rank gets rank 0's answer.
    """
    answer: Path | None = None
    error: str | None = None
    if env.is_main:
        out = Path(config.output_dir)
        existing = list_checkpoints(out)
        if resume:
            answer = find_last_checkpoint(out)
            if answer is None:
                logger.warning("--resume: no complete checkpoint in %s; starting from scratch", out)
            else:
                try:
                    check_resume_config(config, answer, checkpoint_step(answer))
                    logger.info("resuming from %s", answer)
                except ConfigError as exc:
                    error = str(exc)
        elif existing or (out / FINAL_DIR).exists():
            if config.overwrite_output_dir:
                for path in [*existing, out / FINAL_DIR]:
                    shutil.rmtree(path, ignore_errors=True)
            else:
                error = (
                    f"output_dir {out} already holds a run "
                    f"({existing[-1].name if existing else FINAL_DIR}); "
                    "pass --resume to continue that run, overwrite_output_dir=true to start over, "
                    "or choose another output_dir"
                )
        if resume is False:
            for stale in out.glob(f"{TMP_PREFIX}*") if out.is_dir() else []:
                shutil.rmtree(stale, ignore_errors=True)
    answer, error = broadcast_object((answer, error), env)
    if error:
        raise ConfigError(error)
    return answer


# --- writing ---------------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())


def _state_dict_api():
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    return (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
        set_model_state_dict,
        set_optimizer_state_dict,
    )


def full_model_state_dict(model: nn.Module, env: DistEnv) -> dict[str, torch.Tensor]:
    """The whole model's weights as CPU tensors on rank 0 (empty dict on other ranks).

    Under FSDP this is a collective: every rank must call it.
    """
    if not env.is_distributed:
        return {k: v.detach().cpu() for k, v in model.state_dict().items()}
    options_cls, get_model_sd, *_ = _state_dict_api()
    return get_model_sd(model, options=options_cls(full_state_dict=True, cpu_offload=True))


def export_hf(model: nn.Module, tokenizer: Any, out_dir: Path, env: DistEnv) -> None:
    """Write a Hugging Face directory (weights, config, generation config, tokenizer, chat template).

    Every rank calls it (the FSDP gather is collective); only rank 0 writes.
    """
    state = full_model_state_dict(model, env)
    if env.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir, state_dict=state)  # type: ignore[operator]
        if tokenizer is not None:
            tokenizer.save_pretrained(out_dir)
    del state


def _dcp_kwargs(env: DistEnv) -> dict[str, Any]:
    return {} if env.is_distributed and dist.is_initialized() else {"no_dist": True}


@contextlib.contextmanager
def _quiet_single_process_dcp() -> Iterator[None]:
    # DCP warns on every single-process save/load that it "assumes" one process; we mean it.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="torch.distributed is disabled, unavailable or uninitialized"
        )
        yield


def save_checkpoint(
    config: TrainerConfig,
    step: int,
    *,
    model: nn.Module,
    tokenizer: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    trainer_state: Mapping[str, Any],
    env: DistEnv,
    rng_generators: Mapping[str, torch.Generator] | None = None,
    save_hf: bool = True,
) -> Path:
    """Write ``output_dir/checkpoint-<step>/`` atomically (see the module docstring); every rank calls.

    ``trainer_state`` must be JSON-serialisable (put ``EpochSampler.state_dict()`` in it).
    ``rng_generators``: the trainer's own named generators, saved per rank with the global RNGs.
    Prunes older checkpoints to ``keep_last_checkpoints``. Returns the final path.
    """
    root = Path(config.output_dir)
    recorded: list[tuple[str, OSError]] = []
    try:
        return _save_checkpoint(
            config, step, model=model, tokenizer=tokenizer, optimizer=optimizer, scheduler=scheduler,
            trainer_state=trainer_state, env=env, rng_generators=rng_generators, save_hf=save_hf,
            recorded=recorded,
        )  # fmt: skip
    except (OSError, RuntimeError, ValueError, CheckpointException) as exc:  # DCP, torch, safetensors, files
        cause = describe_write_failure(exc, root, recorded)
        if env.is_main:
            shutil.rmtree(root / f"{TMP_PREFIX}{step}", ignore_errors=True)  # give the space back
        earlier: list[Path] = []
        with contextlib.suppress(OSError):
            earlier = list_checkpoints(root)
        kept = f"the earlier checkpoint {earlier[-1]} is untouched" if earlier else "no earlier checkpoint"
        raise CheckpointWriteError(
            f"cannot write checkpoint-{step} in {root}: {cause}; {kept} (free space or fix the "
            "folder's permissions, then continue with --resume)"
        ) from exc


class CheckpointWriteError(CheckpointError):
    """Writing a checkpoint failed (disk full, no permission, ...); the message names folder and cause."""


def _chained(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception in its cause/context chain, DCP's per-rank failures included."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        failures = getattr(current, "failures", None)  # torch.distributed.checkpoint CheckpointException
        if isinstance(failures, Mapping):
            for failure in failures.values():
                todo.extend(f for f in (failure if isinstance(failure, tuple) else (failure,))
                            if isinstance(f, BaseException))  # fmt: skip
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def _os_error_text(error: OSError) -> str:
    code = error.errno
    name = errno.errorcode.get(code, "") if code is not None else ""
    text = error.strerror or (os.strerror(code) if code is not None else str(error))
    return f"{text} ({name})" if name else text


def describe_write_failure(exc: BaseException, root: Path, recorded: list[tuple[str, OSError]]) -> str:
    """The cause of a failed checkpoint write, in words: the first ``OSError`` a file write met
    (recorded by ``ErrorRecordingWriter``/``_write_bytes`` or in the exception chain), else what
    the folder says now (free space, write permission), else the exception itself."""
    if recorded:
        path, error = recorded[0]
        return f"{_os_error_text(error)} while writing {path}"
    for error in (e for e in _chained(exc) if isinstance(e, OSError)):
        where = f" while writing {error.filename}" if error.filename else ""
        return f"{_os_error_text(error)}{where}"
    with contextlib.suppress(OSError):
        free = shutil.disk_usage(root).free
        if free < 1 << 20:
            return f"{os.strerror(errno.ENOSPC)} (ENOSPC; {free} bytes free)"
    if root.exists() and not os.access(root, os.W_OK):
        return f"{os.strerror(errno.EACCES)} (EACCES)"
    return f"{type(exc).__name__}: {exc}"


def _write_bytes(path: Path, data: bytes, recorded: list[tuple[str, OSError]]) -> None:
    """Write and fsync ``data``; an ``OSError`` is recorded with the file's name, then re-raised."""
    try:
        with path.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        recorded.append((str(path), exc))
        raise


def _save_checkpoint(
    config: TrainerConfig,
    step: int,
    *,
    model: nn.Module,
    tokenizer: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    trainer_state: Mapping[str, Any],
    env: DistEnv,
    rng_generators: Mapping[str, torch.Generator] | None,
    save_hf: bool,
    recorded: list[tuple[str, OSError]],
) -> Path:
    import torch.distributed.checkpoint as dcp

    _, get_model_sd, get_optim_sd, *_ = _state_dict_api()
    root = Path(config.output_dir)
    final = root / f"{CHECKPOINT_PREFIX}{step}"
    tmp = root / f"{TMP_PREFIX}{step}"
    if env.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier(env)

    # Resume state: sharded model + optimiser (each rank writes its own part).
    state = {"model": get_model_sd(model), "optim": get_optim_sd(model, optimizer)}
    writer = ErrorRecordingWriter(tmp / DCP_DIR)
    try:
        with _quiet_single_process_dcp():
            dcp.save(state, storage_writer=writer, **_dcp_kwargs(env))
    finally:
        recorded.extend(writer.errors)
    del state
    rng_states = all_gather_objects(capture_rng_state(rng_generators), env)

    if save_hf:
        export_hf(model, tokenizer, tmp / HF_DIR, env)

    if env.is_main:
        # torch.save's C++ writer hides a failed write's cause; serialise in memory, write in Python.
        buffer = io.BytesIO()
        torch.save(scheduler.state_dict() if scheduler is not None else None, buffer)
        _write_bytes(tmp / "scheduler.pt", buffer.getvalue(), recorded)
        save_config(config, tmp / "config.yaml")
        _write_json(
            tmp / TRAINER_STATE_FILE,
            {
                "step": step,
                "world_size": env.world_size,
                "trainer_state": dict(trainer_state),
                "rng": rng_states,
            },
        )
    barrier(env)  # every rank's shard is on disk before the checkpoint is declared complete

    if env.is_main:
        _write_json(tmp / COMPLETE_MARKER, {"step": step})
        _fsync_dir(tmp)
        if final.exists():  # re-saving a step (e.g. after resuming from it): replace atomically-ish
            trash = root / f"{TMP_PREFIX}{step}.old"
            shutil.rmtree(trash, ignore_errors=True)
            final.rename(trash)
            tmp.rename(final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(final)
        _fsync_dir(root)
        _prune(root, config.keep_last_checkpoints, keep=final)
    barrier(env)
    return final


def _prune(root: Path, keep_last: int, keep: Path) -> None:
    complete = list_checkpoints(root)
    if keep_last > 0:
        for old in complete[:-keep_last]:
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)
    # Half-written leftovers of earlier steps (a crash mid-write) can go once a newer one is complete.
    step = int(_CHECKPOINT_RE.match(keep.name).group(1))  # type: ignore[union-attr]
    for stale in root.glob(f"{TMP_PREFIX}*"):
        number = stale.name[len(TMP_PREFIX) :].split(".")[0]
        if number.isdigit() and int(number) <= step:
            shutil.rmtree(stale, ignore_errors=True)


def save_final_model(config: TrainerConfig, model: nn.Module, tokenizer: Any, env: DistEnv) -> Path:
    """Write ``output_dir/final`` (a Hugging Face directory) atomically; every rank calls."""
    root = Path(config.output_dir)
    final = root / FINAL_DIR
    tmp = root / f".tmp-{FINAL_DIR}"
    if env.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
    barrier(env)
    export_hf(model, tokenizer, tmp, env)
    if env.is_main:
        save_config(config, tmp / "training_config.yaml")
        _fsync_dir(tmp)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        _fsync_dir(root)
    barrier(env)
    return final


# --- reading ---------------------------------------------------------------------------------------


def read_trainer_state(path: str | Path) -> dict[str, Any]:
    """The ``trainer_state.json`` of a checkpoint (step, world_size, trainer_state, rng)."""
    file = Path(path) / TRAINER_STATE_FILE
    try:
        return read_json_file(file)
    except (OSError, ValueError) as exc:  # ValueError: DataFormatError, not readable JSON (any cause)
        raise CheckpointError(f"{file}: cannot read the checkpoint's trainer state ({exc})") from exc


def load_checkpoint(
    path: str | Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    env: DistEnv,
    rng_generators: Mapping[str, torch.Generator] | None = None,
) -> dict[str, Any]:
    """Restore model, optimiser, scheduler and this rank's RNG from a checkpoint; every rank calls.

    ``model`` must be built (and sharded) as in the saving run; the optimiser and scheduler freshly
    built on it. Returns the saved ``trainer_state`` dict with ``step`` added (the step the
    checkpoint was written after). At another world size the model and optimiser reshard, the data
    position is global, and the RNG states are not restored (a warning says so).
    """
    import torch.distributed.checkpoint as dcp

    _, get_model_sd, get_optim_sd, set_model_sd, set_optim_sd = _state_dict_api()
    ckpt = Path(path)
    if not (ckpt / COMPLETE_MARKER).is_file():
        raise RuntimeError(f"{ckpt}: not a complete checkpoint (no {COMPLETE_MARKER} marker)")
    meta = read_trainer_state(ckpt)

    state = {"model": get_model_sd(model), "optim": get_optim_sd(model, optimizer)}
    # Never plain pickle: the metadata and non-tensor entries go through restricted unpicklers.
    # The metadata is checked first, by itself: inside dcp.load a refused file would only be
    # logged, then reported as "metadata is None" after DCP tried the per-rank fallback files.
    check_dcp_metadata(ckpt / DCP_DIR)
    try:
        with _quiet_single_process_dcp():
            dcp.load(
                state,
                storage_reader=SafeFileSystemReader(ckpt / DCP_DIR),
                planner=SafeLoadPlanner(),
                **_dcp_kwargs(env),
            )
    except CheckpointException as exc:  # DCP's per-rank failure bundle (a BaseException)
        ours = next((e for e in _chained(exc) if isinstance(e, CheckpointError)), None)
        if ours is not None:
            raise ours from exc
        first = next((e for e in _chained(exc) if e is not exc), exc)
        raise CheckpointError(
            f"{ckpt / DCP_DIR}: cannot load the checkpoint ({type(first).__name__}: {first})"
        ) from exc
    set_model_sd(model, state["model"])
    set_optim_sd(model, optimizer, state["optim"])
    del state

    if scheduler is not None:
        scheduler.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=True))

    rng = meta.get("rng") or []
    if len(rng) == env.world_size:
        restore_rng_state(rng[env.rank], rng_generators)
    elif env.is_main:
        logger.warning(
            "checkpoint %s was written by %d process(es), this run has %d: random-number states are "
            "not restored (model, optimiser, schedule and data position are)",
            ckpt,
            len(rng),
            env.world_size,
        )
    trainer_state = dict(meta.get("trainer_state") or {})
    trainer_state["step"] = int(meta["step"])
    barrier(env)
    return trainer_state
