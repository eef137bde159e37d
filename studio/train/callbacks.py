"""Callbacks: plain Python hooks the trainer calls with plain data (never tensors or the model).

The GUI turns them into Qt signals and the command line prints them; neither lives here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

Info = dict[str, Any]

EVENTS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_grad_norms",
          "on_train_end")


class Callback:
    """Base class with a no-op for every event; override the ones you need.

    Each method gets a fresh dict of plain data (floats, ints, strings, lists, dicts):

    - ``on_train_begin``: run_id, epochs, start_epoch, batches, samples, val_samples, device,
      metric ("accuracy" or "mae"), loss_name, settings, history (epochs already done when resuming)
    - ``on_epoch_begin``: epoch (1-based), epochs, batches, first_batch (above 1 when a run resumes
      mid-epoch)
    - ``on_batch_end``: epoch, epochs, batch (1-based), batches, step, loss (this batch),
      metrics (running means over the epoch so far), lr, samples_per_s, elapsed, eta.
      Called after every batch on the CPU; on a GPU at most ~20 times a second, because reading
      the loss waits for the GPU.
    - ``on_epoch_end``: epoch, epochs, batches, loss, metrics (loss, accuracy or mae, val_loss,
      val_accuracy or val_mae), lr, time_s, samples_per_s, elapsed, eta
    - ``on_grad_norms``: epoch, batch, step, norms ({layer name: gradient norm})
    - ``on_train_end``: status, message, epochs_done, best_epoch, elapsed, result (the run record)

    An exception raised here ends the run with status "failed" and the error in its message.
    """

    def on_train_begin(self, info: Info) -> None:
        pass

    def on_epoch_begin(self, info: Info) -> None:
        pass

    def on_batch_end(self, info: Info) -> None:
        pass

    def on_epoch_end(self, info: Info) -> None:
        pass

    def on_grad_norms(self, info: Info) -> None:
        pass

    def on_train_end(self, info: Info) -> None:
        pass


class CallbackError(Exception):
    """A callback raised; the message names the callback and carries its error."""


class CallbackList:
    """Dispatches events to the callbacks that actually handle them.

    Handlers are collected once, so an event nobody listens to costs one empty-tuple check; the
    trainer uses `wants` to skip building info dicts nobody reads.
    """

    def __init__(self, callbacks: Iterable[Any] = ()):
        self.callbacks = list(callbacks)
        self._handlers: dict[str, tuple[Callable[[Info], None], ...]] = {
            event: tuple(h for h in (_handler(cb, event) for cb in self.callbacks) if h is not None)
            for event in EVENTS
        }

    def wants(self, event: str) -> bool:
        return bool(self._handlers[event])

    def __call__(self, event: str, info: Info) -> None:
        for handler in self._handlers[event]:
            CallbackList._call(handler, event, info)

    @staticmethod
    def _call(handler: Callable[[Info], None], event: str, info: Info) -> None:
        try:
            handler(info)
        except Exception as exc:
            owner = type(getattr(handler, "__self__", handler)).__name__
            raise CallbackError(f"{owner}.{event} failed: {type(exc).__name__}: {exc}") from exc


    def call_each(self, event: str, info: Info) -> CallbackError | None:
        """Call every handler even when one fails (so none is left waiting); the first error or None."""
        first = None
        for handler in self._handlers[event]:
            try:
                CallbackList._call(handler, event, info)
            except CallbackError as exc:
                log.exception("a callback failed")
                first = first or exc
        return first


def _handler(callback: Any, event: str) -> Callable[[Info], None] | None:
    """The bound method for `event`, or None when it is the base class's no-op (or missing)."""
    method = getattr(callback, event, None)
    if method is None:
        return None
    if getattr(method, "__func__", None) is getattr(Callback, event):
        return None
    return method
