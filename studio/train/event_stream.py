"""The trainer's callbacks as protocol events: the one place where trainer reports become `events`.

Batch events are throttled here, at the sender: at most BATCH_HZ a second, and the latest batch of an
epoch is always sent before the epoch's end, so a reader's progress line ends where the epoch did.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import fields
from time import monotonic
from typing import Any

from studio.train import events
from studio.train.callbacks import Callback, Info

Send = Callable[[events.Event], None]


def _pick(cls: type[events.Event], info: Info, **extra: Any) -> Any:
    """An event of `cls` from a trainer info, taking the fields the event declares."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in info.items() if k in names}, **extra)


class EventStream(Callback):
    """Turns trainer reports into events for `send`; keeps the run record for the final `end`."""

    def __init__(self, send: Send, *, notes: Sequence[str] = (), processes: int = 1,
                 batch_hz: float = events.BATCH_HZ) -> None:
        self._send = send
        self.notes = list(notes)
        self._processes = processes
        self._interval = 1.0 / batch_hz
        self._due = 0.0
        self._held: Info | None = None  # the newest batch not sent yet
        self.record: dict[str, Any] | None = None

    def _flush_batch(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._send(_pick(events.Batch, held))

    def on_train_begin(self, info: Info) -> None:
        self._send(_pick(events.Begin, info, notes=self.notes, processes=self._processes, pid=os.getpid()))

    def on_epoch_begin(self, info: Info) -> None:
        self._flush_batch()
        self._send(_pick(events.EpochBegin, info))

    def on_batch_end(self, info: Info) -> None:
        self._held = info
        now = monotonic()
        if now >= self._due:
            self._due = now + self._interval
            self._flush_batch()

    def on_epoch_end(self, info: Info) -> None:
        self._flush_batch()
        self._send(_pick(events.EpochEnd, info))

    def on_grad_norms(self, info: Info) -> None:
        self._send(_pick(events.GradNorms, info))
        reach = info.get("through_time")
        if reach:
            self._send(events.GradThroughTime(epoch=info["epoch"], batch=info["batch"], step=info["step"],
                                              layers=reach))

    def on_train_end(self, info: Info) -> None:
        self._flush_batch()
        self.record = info["result"]
