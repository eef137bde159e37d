"""Where a training run stands: what the state file stores, the epoch in progress, the clock.

Kept apart from the loop so the loop reads as the steps of training and this as its bookkeeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import torch
from torch import Tensor

from studio.train.record import StridedSeries


@dataclass
class RunState:
    """Where a run stands; all of it goes into the state file so a run resumes exactly."""

    run_id: str
    started: str
    duration_s: float = 0.0  # time trained in earlier sessions of this run
    epochs_done: int = 0
    step: int = 0  # optimizer steps taken
    history: list[dict[str, Any]] = field(default_factory=list)
    batch_loss: StridedSeries = field(default_factory=StridedSeries)
    best_loss: float = math.inf
    best_epoch: int | None = None
    bad_epochs: int = 0  # epochs since the monitored loss last improved
    # The unfinished epoch after a stop mid-epoch: batch (next one), losses, metric_sum, time_s.
    partial: dict[str, Any] | None = None

    def state(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["batch_loss"] = self.batch_loss.state()
        return data

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> RunState:
        data = dict(data)
        data["batch_loss"] = StridedSeries.from_state(data["batch_loss"])
        return cls(**data)


@dataclass
class EpochState:
    """The epoch being trained: its shuffle, the next batch, its losses and predictions so far."""

    number: int
    order: Tensor
    targets: Tensor  # the training targets in this epoch's shuffled order, on the device
    predictions: Tensor  # filled batch by batch; the metric is computed from it in one go
    # Per-batch mean losses: plain floats on a CPU; on a GPU 0-d device tensors, read once at the end.
    losses: list[float | Tensor] = field(default_factory=list)
    batch: int = 0
    # Metric summed over rows before `metric_from`, which an earlier session predicted.
    metric_before: float = 0.0
    metric_from: int = 0
    time_before: float = 0.0  # seconds spent on this epoch in an earlier session
    started: float = 0.0  # clock reading when this session began the epoch
    first_batch: int = 0  # the batch this session began the epoch at
    # Host-side running loss of the batches whose loss was read (all of them on a CPU), and the
    # running metric up to row `seen_to`, for progress reports.
    seen_loss: float = 0.0
    seen_samples: int = 0
    seen_metric: float = 0.0
    seen_to: int = 0

    def seconds(self, now: float) -> float:
        return self.time_before + now - self.started


class PauseAwareClock:
    """Seconds since the start, not counting time spent paused."""

    def __init__(self) -> None:
        self._start = perf_counter()
        self._paused = 0.0

    def now(self) -> float:
        return perf_counter() - self._start - self._paused

    def add_pause(self, seconds: float) -> None:
        self._paused += seconds


def read_floats(values: list[float | Tensor]) -> list[float]:
    """Plain floats from a mix of floats and 0-d tensors, reading all the tensors in one go."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    if not tensors:
        return list(values)
    read = iter(torch.stack(tensors).tolist())
    return [next(read) if isinstance(v, Tensor) else v for v in values]
