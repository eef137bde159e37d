"""Training on several processes with PyTorch's DistributedDataParallel, started by `torchrun`.

`torchrun` sets RANK, WORLD_SIZE and LOCAL_RANK in each process; `start_from_environment()` joins the
process group (NCCL on GPUs, gloo on CPUs). The Trainer notices the group on its own: each rank then
trains on its own shard of every epoch and gradients are averaged across ranks, so every rank ends with
the same weights. Only rank 0 prints and writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import distributed as dist


@dataclass(frozen=True)
class Group:
    rank: int
    world: int
    local_rank: int
    local_world: int
    backend: str

    @property
    def leader(self) -> bool:
        return self.rank == 0


def start_from_environment(device: str = "auto") -> Group | None:
    """Join the process group `torchrun` describes; None when this is a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)  # "cuda" now means this rank's own GPU
    backend = "nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return Group(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local_rank,
                 local_world=int(os.environ.get("LOCAL_WORLD_SIZE", str(world))), backend=backend)


def current() -> tuple[int, int] | None:
    """(rank, world size) while this process trains in a group of several, else None."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.get_rank(), dist.get_world_size()
    return None


def shard(order: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """This rank's share of an epoch's sample order. Every rank gets the same number of samples (the
    order wraps around to fill the last share), since each backward pass is a collective step."""
    per_rank = -(-order.numel() // world)
    padded = torch.cat([order, order[: per_rank * world - order.numel()]])
    return padded[rank::world]


def any_rank(flag: bool, device: torch.device) -> bool:
    """Whether `flag` is set on any rank (a collective: every rank must call it at the same point)."""
    where = device if device.type == "cuda" else torch.device("cpu")
    value = torch.tensor([1.0 if flag else 0.0], device=where)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return value.item() > 0.0


def weights_agree(model: torch.nn.Module) -> bool:
    """Whether every rank holds exactly the weights of rank 0 (a check that training stayed in step)."""
    flat = torch.cat([p.detach().reshape(-1).float() for p in model.parameters()])
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    differs = torch.tensor([0.0 if torch.equal(flat, reference) else 1.0], device=flat.device)
    dist.all_reduce(differs, op=dist.ReduceOp.MAX)
    return differs.item() == 0.0


def finish(*, in_step: bool = True) -> None:
    """Leave the process group. `in_step`: every rank got here the same way (no error), so they first
    wait for each other: a rank that tore down its connections while another still used them was
    aborted by gloo ("terminate called without an active exception")."""
    if dist.is_initialized():
        if in_step:
            dist.barrier()
        dist.destroy_process_group()
