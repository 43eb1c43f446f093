"""DDP helpers (torchvision-reference style). ``torchrun`` sets RANK, WORLD_SIZE and LOCAL_RANK;
without them everything runs as a single process and these helpers are no-ops.

Backend: NCCL when CUDA is used, gloo otherwise (CPU tests run two gloo processes).
Only rank 0 writes files (checkpoints, logs, the bundle); every rank computes the same
validation metrics from gathered logits, so every rank takes the same early-stopping decision.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(f"cnsight.{__name__}")


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_type: str) -> DistContext:
    """Join the process group when launched by torchrun; a single-process context otherwise."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistContext()
    ctx = DistContext(
        rank=int(os.environ["RANK"]),
        world_size=int(os.environ["WORLD_SIZE"]),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )
    if ctx.world_size == 1:
        return ctx
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(ctx.local_rank)
    dist.init_process_group(backend=backend)
    log.info("distributed: rank %d of %d (%s)", ctx.rank, ctx.world_size, backend)
    return ctx


def process_device(requested: torch.device, ctx: DistContext) -> torch.device:
    """One GPU per process: cuda:LOCAL_RANK under torchrun; the requested device otherwise."""
    if requested.type == "cuda" and ctx.distributed:
        return torch.device("cuda", ctx.local_rank)
    return requested


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def all_gather_objects(obj, ctx: DistContext) -> list:
    """Every rank's ``obj``, in rank order (a one-element list without DDP)."""
    if not ctx.distributed:
        return [obj]
    gathered = [None] * ctx.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def all_reduce_sum(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum of ``values`` over ranks (for loss/accuracy totals)."""
    if ctx.distributed:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def sync_buffers(model: torch.nn.Module, ctx: DistContext) -> None:
    """Give every rank rank 0's BatchNorm running statistics (each rank updated its own copy in
    the last training step), so sharded validation evaluates one and the same model."""
    if ctx.distributed:
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


def cleanup(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
