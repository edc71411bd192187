"""Data-parallel training across processes (one per GPU; gloo on CPU): who we are, and the
few collectives the training loop needs.

The world comes from the standard environment variables RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT (the Slurm launcher exports them from submitit's view of the job;
nothing here knows about Slurm). Without them the world is one process and nothing is
initialised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes the run folder (config, metrics, checkpoints, result)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def world_from_env() -> World:
    return World(rank=int(os.environ.get("RANK", 0)), world_size=int(os.environ.get("WORLD_SIZE", 1)),
                 local_rank=int(os.environ.get("LOCAL_RANK", 0)))


def init(world: World, device: torch.device) -> None:
    if world.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                rank=world.rank, world_size=world.world_size)


def mean(values: list[float], world: World, device: torch.device) -> list[float]:
    """Element-wise mean over ranks (identity for one process)."""
    if not world.distributed:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / world.world_size).tolist()


def any_true(flags: list[bool], world: World, device: torch.device) -> list[bool]:
    """Element-wise: true on every rank when true on any (so all ranks take the same branch)."""
    if not world.distributed:
        return flags
    t = torch.tensor([int(f) for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(x) for x in t.tolist()]


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()
