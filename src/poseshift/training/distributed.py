"""Many processes, one run: ``torchrun --nproc_per_node N -m poseshift train ...``.

torchrun sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`init_distributed` joins the
process group (NCCL on CUDA, gloo on CPU), gives each process its GPU, and returns a
:class:`World`. Without torchrun it returns the single-process world and nothing changes.
G, D and Phi are wrapped in ``DistributedDataParallel`` (:func:`wrap`), which all-reduces
their gradients; losses are averaged across ranks only when they are logged (:func:`mean`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["World", "init_distributed", "finish_distributed", "wrap", "mean", "gather", "any_rank"]


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the only process that writes checkpoints, samples and logs."""
        return self.rank == 0


def init_distributed(device: torch.device) -> tuple[World, torch.device]:
    """The world torchrun launched us in (or one process), and this rank's device."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(), device
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(rank, size, local), device


def finish_distributed(barrier: bool = False) -> None:
    """Leave the process group (at the end of a torchrun run). ``barrier``: first wait until every
    rank is done (after a run that succeeded; never after an error, where a rank may be gone), so
    that no rank tears down the group while another still talks through it."""
    if dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()


def wrap(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """``module`` under DistributedDataParallel when there are several ranks, else itself."""
    if not world.enabled:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def mean(values: torch.Tensor, world: World) -> torch.Tensor:
    """The average of ``values`` over the ranks (itself with one rank)."""
    if world.enabled:
        values = values.clone()
        dist.all_reduce(values)
        values /= world.size
    return values


def gather(tensor: torch.Tensor, world: World) -> list[torch.Tensor]:
    """Every rank's ``tensor`` (all the same shape), on every rank; with one rank, ``[tensor]``."""
    if not world.enabled:
        return [tensor]
    out = [torch.empty_like(tensor) for _ in range(world.size)]
    dist.all_gather(out, tensor.contiguous())
    return out


def any_rank(flag: bool, world: World, device: torch.device) -> bool:
    """True on every rank when ``flag`` is True on any (so that all ranks stop at one step)."""
    if not world.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())
