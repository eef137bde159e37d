"""Plot data for one run: numpy buffers that grow by doubling, so appending a batch costs O(1) and a
redraw hands pyqtgraph views of the filled part (no copies, no Python lists)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

SMOOTHING = 0.9  # weight of the past in the smoothed batch loss (TensorBoard's default slider is 0.6-0.9)
EPOCH_KEYS = ("loss", "val_loss", "metric", "val_metric", "lr")


class GrowingSeries:
    """(x, y) points in pre-allocated float64 arrays; `x` and `y` are views of the points so far."""

    def __init__(self, capacity: int = 256) -> None:
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, x: float, y: float) -> None:
        if self._n == len(self._x):
            self._grow(self._n + 1)
        self._x[self._n] = x
        self._y[self._n] = y
        self._n += 1

    def extend(self, xs: Iterable[float], ys: Iterable[float]) -> None:
        x = np.asarray(list(xs), dtype=float)
        y = np.asarray(list(ys), dtype=float)
        end = self._n + len(x)
        if end > len(self._x):
            self._grow(end)
        self._x[self._n:end] = x
        self._y[self._n:end] = y
        self._n = end

    def _grow(self, needed: int) -> None:
        capacity = max(len(self._x) * 2, needed, 16)
        for name in ("_x", "_y"):
            bigger = np.empty(capacity)
            bigger[:self._n] = getattr(self, name)[:self._n]
            setattr(self, name, bigger)

    @property
    def x(self) -> np.ndarray:
        return self._x[:self._n]

    @property
    def y(self) -> np.ndarray:
        return self._y[:self._n]

    @property
    def capacity(self) -> int:
        return len(self._x)


class Ema:
    """Exponential moving average with TensorBoard's debiasing, so the first points are not dragged to 0."""

    def __init__(self, weight: float = SMOOTHING) -> None:
        self.weight = weight
        self._value = 0.0
        self._count = 0

    def update(self, value: float) -> float:
        if not math.isfinite(value):
            return value  # a diverged batch is shown as it is, without poisoning the average
        self._count += 1
        self._value = self.weight * self._value + (1 - self.weight) * value
        return self._value / (1 - self.weight ** self._count)


class RunSeries:
    """Everything the curves of one run show: batch losses (raw and smoothed) and per-epoch values.

    x is in epochs throughout: batch b of B in epoch e sits at e - 1 + b / B, and an epoch's values at e,
    so batch and epoch curves share one axis.
    """

    def __init__(self, metric: str = "accuracy", planned: int = 0) -> None:
        self.metric = metric  # "accuracy" or "mae"
        self.planned = planned  # epochs the run was set to train (0: not known yet)
        self.batch_loss = GrowingSeries(1024)
        self.smoothed = GrowingSeries(1024)
        self.epochs = {key: GrowingSeries(64) for key in EPOCH_KEYS}
        self._ema = Ema()

    def add_batch(self, x: float, loss: float) -> None:
        self.batch_loss.append(x, loss)
        self.smoothed.append(x, self._ema.update(loss))

    def add_epoch(self, entry: Mapping[str, Any]) -> None:
        """One epoch of a run record (or an `on_epoch_end` info's metrics plus epoch and lr)."""
        epoch = float(entry["epoch"])
        values = {"loss": entry.get("loss"), "val_loss": entry.get("val_loss"),
                  "metric": entry.get(self.metric), "val_metric": entry.get(f"val_{self.metric}"),
                  "lr": entry.get("lr")}
        for key, value in values.items():
            if value is not None:
                self.epochs[key].append(epoch, float(value))

    @property
    def epochs_done(self) -> int:
        return len(self.epochs["loss"])

    @classmethod
    def from_record(cls, run: Mapping[str, Any]) -> RunSeries:
        """The curves of a recorded run. Its batch losses may be thinned (every k-th kept), so they are
        spread evenly over the epochs it finished."""
        epochs = run.get("epochs") or []
        first = epochs[0] if epochs else {}
        planned = int((run.get("settings") or {}).get("epochs") or len(epochs))
        series = cls("mae" if "mae" in first else "accuracy", planned)
        losses = [float(v) for v in run.get("batch_loss") or []]
        if losses and epochs:
            done = len(epochs)
            for i, loss in enumerate(losses):
                series.add_batch((i + 1) * done / len(losses), loss)
        for entry in epochs:
            series.add_epoch(entry)
        return series
