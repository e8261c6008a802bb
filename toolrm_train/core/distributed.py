"""Data-parallel training with PyTorch's own stack: torchrun for processes, FSDP2 for the model.

The same trainer code runs as one plain process (CPU or one GPU) and under
``torchrun --nproc_per_node N [--nnodes M ...]``. ``init_distributed`` reads torchrun's environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) and opens a process group: NCCL on CUDA, gloo on CPU.
Without those variables, or with a world size of 1, nothing distributed happens at all (no process
group, no wrappers), so single-process runs keep the plain path.

``shard_model`` applies FSDP2 (``torch.distributed.fsdp.fully_shard``) to every decoder layer and
then to the root, the layout verified in shared/research/training_and_bon.md §4.1: embeddings, the
tied LM head and a classifier's ``score`` head stay in the root group (tying survives). On GPU a
``MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32)`` keeps fp32 master weights while
computing in bf16; on CPU parameters stay as loaded. FSDP2 *averages* gradients over ranks, so a
loss that is a mean over a rank's equal share of the global batch gives the same gradient as the
single-process mean over the whole batch (``rank_slice`` makes the shares).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn


T = TypeVar("T")


@dataclass
class DistEnv:
    """Where this process sits in the run. ``is_main`` (global rank 0) writes files and logs."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    is_main: bool = True

    @property
    def is_distributed(self) -> bool:
        """True when a process group is open (world size > 1)."""
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"environment variable {name}={raw!r} is not an integer") from exc


def init_distributed(device: str | None = None, *, timeout_minutes: float = 30.0) -> DistEnv:
    """Read torchrun's variables and open the process group; a single process otherwise.

    ``device``: "cpu", "cuda" or None (CUDA when available). Each process uses GPU ``LOCAL_RANK``.
    Backend: NCCL on CUDA (with gloo for CPU tensors, e.g. ``all_gather_object``), gloo on CPU.
    """
    rank = _env_int("RANK", 0)
    world_size = _env_int("WORLD_SIZE", 1)
    local_rank = _env_int("LOCAL_RANK", 0)
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but CUDA is not available")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        backend = "cuda:nccl,cpu:gloo" if use_cuda else "gloo"
        dist.init_process_group(
            backend=backend,
            timeout=timedelta(minutes=timeout_minutes),
            device_id=dev if use_cuda else None,
        )
    return DistEnv(rank=rank, world_size=world_size, local_rank=local_rank, device=dev, is_main=rank == 0)


def shutdown_distributed(env: DistEnv) -> None:
    """Close the process group (after a final barrier, so no rank exits while others still write)."""
    if env.is_distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def resolve_bf16(bf16: bool | str, env: DistEnv) -> bool:
    """The config's ``bf16`` ("auto" | bool) for this device: "auto" = on exactly when on CUDA."""
    if bf16 == "auto":
        return env.device.type == "cuda"
    return bool(bf16)


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The repeated transformer blocks: modules whose class is in the model's ``_no_split_modules``
    (``Qwen3DecoderLayer`` etc., transformers' own declaration), else ``model.model.layers``."""
    names = set(getattr(model, "_no_split_modules", None) or [])
    layers = [m for m in model.modules() if type(m).__name__ in names] if names else []
    if not layers:
        inner = getattr(getattr(model, "model", None), "layers", None)
        layers = list(inner) if inner is not None else []
    if not layers:
        raise ValueError(
            f"cannot find the decoder layers of {type(model).__name__} to shard "
            "(no _no_split_modules match and no model.model.layers)"
        )
    return layers


def shard_model(model: nn.Module, env: DistEnv, *, bf16: bool) -> nn.Module:
    """FSDP2-shard ``model`` when world size > 1 (per decoder layer, then the root); else unchanged.

    Call after ``gradient_checkpointing_enable`` and before building the optimiser (the optimiser
    must see the sharded DTensor parameters). The model must be identical on every rank before this
    call (load it, or seed identically before creating new heads): each rank keeps its own shard.
    On a single process the model is returned as is (the caller moves it to ``env.device``).
    """
    if not env.is_distributed:
        return model
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    # An explicit mesh of the run's device type: on a GPU machine running gloo/CPU, fully_shard would
    # otherwise move the module to CUDA (pytorch/pytorch#132471).
    mesh = init_device_mesh(env.device.type, (env.world_size,))
    kwargs: dict[str, Any] = {"mesh": mesh}
    if bf16 and env.device.type == "cuda":
        kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    if env.device.type == "cuda":
        model.to(env.device)
    for layer in decoder_layers(model):
        fully_shard(layer, **kwargs)
    fully_shard(model, **kwargs)
    return model


@contextlib.contextmanager
def gathered_params(model: nn.Module, env: DistEnv) -> Iterator[nn.Module]:
    """Keep an FSDP2 model's full parameters gathered for the duration (e.g. rollouts, evaluation).

    Without it every forward re-gathers every layer, so an n-token generation pays n all-gathers
    per layer. Inside, each FSDP unit is unsharded once and stays so; on exit it is resharded (the
    memory of one full copy of the weights is held meanwhile). A no-op on one process. Every rank
    must enter and leave together (the gathers are collectives).
    """
    if not env.is_distributed:
        yield model
        return
    from torch.distributed.fsdp import FSDPModule

    units = [m for m in model.modules() if isinstance(m, FSDPModule)]
    for unit in units:
        unit.set_reshard_after_forward(False, recurse=False)
    for unit in units:
        unit.unshard()
    try:
        yield model
    finally:
        for unit in units:
            unit.set_reshard_after_forward(True, recurse=False)
            unit.reshard()


def _reduce(value: float | torch.Tensor, env: DistEnv, op: Any) -> torch.Tensor:
    tensor = (
        value.detach().to(torch.float64)
        if isinstance(value, torch.Tensor)
        else torch.tensor(float(value), dtype=torch.float64)
    )
    if not env.is_distributed:
        return tensor
    tensor = tensor.to(env.device)
    dist.all_reduce(tensor, op=op)
    return tensor


def all_reduce_sums(values: Sequence[float | torch.Tensor], env: DistEnv) -> list[float]:
    """Sums over ranks of several scalars in ONE collective (per-step counters: pairs, tokens, …)."""
    device = env.device if env.is_distributed else torch.device("cpu")
    stacked = torch.stack(
        [
            v.detach().to(device, torch.float64).reshape(())
            if isinstance(v, torch.Tensor)
            else torch.tensor(float(v), dtype=torch.float64, device=device)
            for v in values
        ]
    )  # device tensors join without a host sync; the one sync is the read below
    if env.is_distributed:
        dist.all_reduce(stacked, op=dist.ReduceOp.SUM)
    return stacked.tolist()


def all_reduce_max(value: float | torch.Tensor, env: DistEnv) -> float:
    """Maximum of a scalar over all ranks (e.g. the longest response in a step)."""
    return float(_reduce(value, env, dist.ReduceOp.MAX))


def all_gather_objects(obj: T, env: DistEnv) -> list[T]:
    """Every rank's picklable ``obj``, in rank order (``[obj]`` on one process)."""
    if not env.is_distributed:
        return [obj]
    out: list[Any] = [None] * env.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: T, env: DistEnv, src: int = 0) -> T:
    """Rank ``src``'s picklable ``obj`` on every rank (e.g. a decision only rank 0 can make)."""
    if not env.is_distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def barrier(env: DistEnv) -> None:
    """Wait for every rank (no-op on one process)."""
    if env.is_distributed:
        dist.barrier()


def rank_slice(items: Sequence[T], env: DistEnv) -> list[T]:
    """This rank's contiguous share of a global batch.

    Every rank sees the same global batch in the same order as the single-process run; rank r takes
    the r-th of ``world_size`` contiguous chunks (sizes differ by at most one when the batch does not
    divide evenly: then normalise losses by a global count, see ``all_reduce_sums``).
    """
    n, w, r = len(items), env.world_size, env.rank
    base, extra = divmod(n, w)
    start = r * base + min(r, extra)
    stop = start + base + (1 if r < extra else 0)
    return list(items[start:stop])


def global_batch_size(per_device_batch_size: int, gradient_accumulation_steps: int, env: DistEnv) -> int:
    """Items per optimiser step over all ranks."""
    return per_device_batch_size * gradient_accumulation_steps * env.world_size
