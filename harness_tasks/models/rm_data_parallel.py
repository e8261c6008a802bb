"""Data-parallel scoring: one process per device under ``accelerate launch`` or ``torchrun``.

lm-eval's evaluator already does the distributed work for any model that says where it stands
(``LM.rank`` / ``LM.world_size``): each process builds every ``world_size``-th document's requests
(a document's requests stay together, so a pair's two conversations are scored by the same
process), the request lists are padded to equal length, and the per-document metrics are gathered
to rank 0, which alone aggregates and writes results. A model supplies its place in the run, its
device and the collectives the evaluator calls (``all_gather``, ``gather_object``, ``barrier``);
lm-eval's own ``hf`` model does this with Hugging Face Accelerate, and so does this module.

Unlike ``hf``, which splits the work only across GPUs, a run on CPU splits too (``gloo``): that is
how the test proves a 2-process run reports exactly the 1-process metrics. Rank is the global
process index, so a multi-node launch shards across every process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
from lm_eval.api.model import LM


log = logging.getLogger(__name__)

LAUNCHER_WORLD_SIZE_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
"""Set by torchrun / ``accelerate launch`` (``WORLD_SIZE``) or an MPI launcher (the others)."""
COLLECTIVE_TIMEOUT = timedelta(weeks=52)
"""As lm-eval's ``hf``: a rank that finishes early waits at the gather for the slowest one."""


def launched_world_size() -> int:
    """How many processes the launcher started (1 when this is a plain single-process run)."""
    from accelerate.utils import get_int_from_env

    return get_int_from_env(list(LAUNCHER_WORLD_SIZE_VARIABLES), 1)


@dataclass
class DataParallelRun:
    """This process's place in a multi-process run, and the collectives lm-eval's evaluator calls.

    ``group`` holds one process per data-parallel rank (``None``: every process of the run); ``rank``
    and ``world_size`` are this process's place in it, which is what lm-eval shards documents by.
    """

    rank: int
    world_size: int
    device: torch.device
    group: Any = None

    @classmethod
    def join(cls, requested_device: torch.device) -> DataParallelRun | None:
        """Join the run the launcher started (with Accelerate), or ``None`` for a single process.

        On CPU (``--device cpu``, or no CUDA) the processes talk over ``gloo``; on GPUs each process
        takes the device of its local rank (``--device`` is overridden) and talks over NCCL.
        """
        if launched_world_size() <= 1:
            return None
        from accelerate import Accelerator
        from accelerate.utils import InitProcessGroupKwargs

        accelerator = Accelerator(
            cpu=requested_device.type == "cpu",
            kwargs_handlers=[InitProcessGroupKwargs(timeout=COLLECTIVE_TIMEOUT)],
        )
        if accelerator.num_processes <= 1:
            return None
        device = torch.device(accelerator.device)
        if device.type != requested_device.type or (
            requested_device.index is not None and device != requested_device
        ):
            log.info(
                "data-parallel run: process %d of %d scores on %s (--device %s is per run, not per process)",
                accelerator.process_index,
                accelerator.num_processes,
                device,
                requested_device,
            )
        return cls(int(accelerator.process_index), int(accelerator.num_processes), device)

    @property
    def is_main_process(self) -> bool:
        return self.rank == 0

    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every rank's tensor, concatenated in rank order (a scalar counts as one element)."""
        tensor = tensor.reshape(1) if tensor.dim() == 0 else tensor
        parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
        torch.distributed.all_gather(parts, tensor, group=self.group)
        return torch.cat(parts)

    def gather_object(self, obj: Any, dst: int = 0) -> list[Any] | None:
        gathered = [None] * self.world_size if self.rank == dst else None
        torch.distributed.gather_object(obj, gathered, group=self.group, group_dst=dst)
        return gathered

    def barrier(self) -> None:
        torch.distributed.barrier(group=self.group)


def replica_group(replica: int, replicas: int) -> DataParallelRun:
    """This process's place among vLLM engine replicas launched by torchrun (``external_launcher``).

    vLLM has set up ``torch.distributed`` over all the processes, replica-major (a replica's
    tensor/pipeline-parallel processes have consecutive ranks). The processes holding the same
    slice of every replica form one group, so each group gathers each document once.
    """
    world, me = torch.distributed.get_world_size(), torch.distributed.get_rank()
    per_replica = world // replicas
    if me // per_replica != replica:
        raise RuntimeError(f"vLLM placed process {me} in replica {replica}; expected {me // per_replica}")
    # every process must create every group, in the same order
    slices = [[r * per_replica + k for r in range(replicas)] for k in range(per_replica)]
    groups = [torch.distributed.new_group(ranks) for ranks in slices]
    device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else None
    return DataParallelRun(replica, replicas, device or torch.device("cpu"), groups[me % per_replica])


def combine_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Every process's ``ScoringReport.as_dict()`` as one: counts summed, the run's wall time."""
    combined: dict[str, Any] = {}
    for key in reports[0]:
        values = [report[key] for report in reports]
        if key == "seconds":
            combined[key] = max(values)  # the processes run side by side
        elif key == "max_batch_tokens":
            combined[key] = min(values)  # the tightest budget any process fell back to
        elif key == "self_check":
            combined[key] = "failed" if "failed" in values else values[0]
        else:
            combined[key] = sum(values)
    return combined


class DataParallelLM(LM):
    """An lm-eval model that takes part in a data-parallel run when launched as one.

    A subclass calls :meth:`join_data_parallel` with the device it was asked for and places itself
    on the device it gets back; from then on the evaluator sees its rank and world size, and the
    collectives below work across the processes (single-process: lm-eval's defaults).
    """

    data_parallel: DataParallelRun | None = None

    def join_data_parallel(self, requested_device: torch.device) -> torch.device:
        """Join a launched multi-process run; the device this process must score on."""
        self.data_parallel = DataParallelRun.join(requested_device)
        if self.data_parallel is None:
            return requested_device
        self._rank, self._world_size = self.data_parallel.rank, self.data_parallel.world_size
        return self.data_parallel.device

    @property
    def is_main_process(self) -> bool:
        return self.data_parallel is None or self.data_parallel.is_main_process

    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor if self.data_parallel is None else self.data_parallel.all_gather(tensor)

    def gather_object(self, obj: Any, dst: int = 0) -> list[Any] | None:
        return [obj] if self.data_parallel is None else self.data_parallel.gather_object(obj, dst)

    def barrier(self) -> None:
        if self.data_parallel is not None:
            self.data_parallel.barrier()
