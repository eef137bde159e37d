"""Command-line progress in the style of Keras' `fit`: a bar per epoch and one summary line each.

    Epoch 3/10
    200/200 [==============================] - 8s 40ms/step - loss: 0.6059 - accuracy: 0.6594 - ...
"""

from __future__ import annotations

import sys
from time import monotonic
from typing import Any, TextIO

from studio.train.callbacks import Callback, Info

REDRAW_INTERVAL_S = 0.1  # a terminal needs no more than ten redraws a second


class KerasProgress(Callback):
    """Writes Keras-style progress to `stream` (stdout by default).

    On a terminal the bar redraws in place during the epoch; otherwise (a log file, a pipe) only the
    per-epoch lines are written, so logs stay readable.
    """

    def __init__(self, stream: TextIO | None = None, *, width: int = 30):
        self.stream = stream if stream is not None else sys.stdout
        self.width = width
        isatty = getattr(self.stream, "isatty", None)
        self.live = bool(isatty and isatty())
        self._next_draw = 0.0
        self._epoch_began = monotonic()
        self._first_batch = 1

    def on_epoch_begin(self, info: Info) -> None:
        self._write(f"Epoch {info['epoch']}/{info['epochs']}\n")
        self._next_draw = 0.0
        self._epoch_began = monotonic()
        self._first_batch = info.get("first_batch", 1)

    def on_batch_end(self, info: Info) -> None:
        if not self.live or info["batch"] == info["batches"]:
            return
        now = monotonic()
        if now < self._next_draw:
            return
        self._next_draw = now + REDRAW_INTERVAL_S
        per_batch = (now - self._epoch_began) / max(info["batch"] - self._first_batch + 1, 1)
        eta = per_batch * (info["batches"] - info["batch"])
        line = f"{self._counter(info['batch'], info['batches'])} - ETA: {_duration(eta)}"
        self._write("\r" + line + _metrics(info["metrics"]) + "\x1b[K")

    def on_epoch_end(self, info: Info) -> None:
        line = epoch_summary(info, self.width)
        self._write(("\r" if self.live else "") + line + ("\x1b[K" if self.live else "") + "\n")

    def on_train_end(self, info: Info) -> None:
        if info["status"] != "completed" and info["message"]:
            self._write(f"Training {info['status'].replace('_', ' ')}: {info['message']}\n")

    def _counter(self, batch: int, batches: int) -> str:
        return _counter(batch, batches, self.width)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def epoch_summary(info: Info, width: int = 30) -> str:
    """The line Keras prints when an epoch ends, from an `on_epoch_end` info:
    ``45/45 [====...] - 1s 22ms/step - loss: 0.2857 - accuracy: 0.9124 - val_loss: ...``"""
    batches = info["batches"]
    per_step = info["time_s"] / max(batches, 1)
    return (f"{_counter(batches, batches, width)} - {_duration(info['time_s'])} "
            f"{_per_step(per_step)} - {_metrics(info['metrics'])[3:]}")


def _counter(batch: int, batches: int, width: int) -> str:
    digits = len(str(batches))
    return f"{batch:>{digits}}/{batches} [{_bar(batch, batches, width)}]"


def _bar(done: int, total: int, width: int) -> str:
    filled = int(width * done / total) if total else width
    if filled >= width:
        return "=" * width
    head = ">" if filled > 0 else ""
    return "=" * max(filled - 1, 0) + head + "." * (width - max(filled, 1 if head else 0))


def _metrics(metrics: dict[str, Any]) -> str:
    """' - name: value' for each metric that has a value, formatted as Keras does."""
    parts = []
    for name, value in metrics.items():
        if value is None:
            continue
        shown = f"{value:.4f}" if abs(value) > 1e-3 or value == 0 else f"{value:.4e}"
        parts.append(f" - {name}: {shown}")
    return "".join(parts)


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{round(seconds)}s"


def _per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"
