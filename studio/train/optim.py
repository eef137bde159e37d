"""Optimizers and learning-rate schedules built from the training settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import torch
from torch import nn

from studio.train.errors import TrainingError

# When a schedule steps: after each batch, after each epoch, or after each epoch on the monitored loss.
ScheduleCadence = Literal["batch", "epoch", "plateau"]


def build_optimizer(params: Iterable[nn.Parameter], settings: Mapping[str, Any]) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), Adam, AdamW or RMSprop with the settings' rate and weight decay."""
    params = [p for p in params if p.requires_grad]
    if not params:
        raise TrainingError("the model has no trainable parameters")
    name = settings["optimizer"]
    lr = settings["learning_rate"]
    decay = settings["weight_decay"]
    momentum = settings["momentum"]
    if name == "sgd":
        if settings["nesterov"] and momentum <= 0:
            raise TrainingError("Nesterov momentum needs a momentum above 0", setting="nesterov")
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=settings["nesterov"],
                               weight_decay=decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=decay)
    raise TrainingError(f"unknown optimizer {name!r}", setting="optimizer")


def build_scheduler(optimizer: torch.optim.Optimizer, settings: Mapping[str, Any],
                    batches_per_epoch: int) -> tuple[Any, ScheduleCadence | None]:
    """The schedule for the settings and when to step it; (None, None) for a constant rate.

    step: multiply by `gamma` every `step_size` epochs. cosine: anneal to 0 over all epochs.
    plateau: multiply by `gamma` after `step_size` epochs without a better monitored loss.
    onecycle: warm up to the learning rate and anneal, stepped after every batch.
    """
    name = settings["schedule"]
    sched = torch.optim.lr_scheduler
    epochs = settings["epochs"]
    if name == "none":
        return None, None
    if name == "step":
        return sched.StepLR(optimizer, step_size=settings["step_size"], gamma=settings["gamma"]), "epoch"
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=epochs), "epoch"
    if name == "plateau":
        return sched.ReduceLROnPlateau(optimizer, mode="min", factor=settings["gamma"],
                                       patience=settings["step_size"]), "plateau"
    if name == "onecycle":
        # Cycling momentum only where there is momentum to cycle (Adam's beta1, or a set momentum).
        cycles = settings["optimizer"] in ("adam", "adamw") or settings["momentum"] > 0
        return sched.OneCycleLR(optimizer, max_lr=settings["learning_rate"],
                                total_steps=epochs * batches_per_epoch, cycle_momentum=cycles), "batch"
    raise TrainingError(f"unknown schedule {name!r}", setting="schedule")


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
