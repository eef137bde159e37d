"""The training run off the GUI thread: loads the data, trains through `studio.runs`, reports by signals.

The worker never touches a widget. Its callback turns each trainer event into a signal carrying a copy
of plain data (dicts, lists, floats); the GUI decides when to draw it.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from studio.core.errors import StudioError, failure_text
from studio.core.project import Project
from studio.train.callbacks import Callback, Info

log = logging.getLogger(__name__)

EVENTS = ("train_begin", "epoch_begin", "batch_end", "epoch_end", "grad_norms", "train_end")
SEND_INTERVAL_S = 1 / 10  # batch reports are sent to the GUI in bunches, no more often than it redraws
Event = tuple[str, dict[str, Any]]


@dataclass
class Outcome:
    """How a run ended. `record` is the run as stored (None when training never started); `runs` is the
    project's run list after the engine recorded it; `saved` says whether the file was written."""

    record: dict[str, Any] | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    saved: bool = False
    error: str = ""  # what went wrong outside the trainer (loading, preparing, saving)
    cancelled: bool = False  # stopped before the first batch: nothing was recorded

    @property
    def status(self) -> str:
        if self.record is not None:
            return str(self.record.get("status", "failed"))
        return "cancelled" if self.cancelled else "failed"


def gui_threads(project_threads: int, cores: int) -> int:
    """Threads for training started from the window: the project's choice, else all cores but one, so the
    window stays responsive while every other core trains."""
    return project_threads if project_threads > 0 else max(1, cores - 1)


def device_setting(choice: str) -> tuple[str, int | None]:
    """The device setting for a picker choice, and the CUDA index to make current ("cuda:1" -> cuda, 1):
    the project setting names only the kind of device."""
    kind, _, index = choice.partition(":")
    return kind, int(index) if index.isdigit() else None


def _plain(value: Any) -> Any:
    """A copy made of plain containers, so nothing the trainer holds crosses to the GUI thread."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _Cancelled(Exception):
    """Stop was pressed while the data was loading."""


class SignalCallback(Callback):
    """Hands trainer events to `emit` as lists of (name, plain copy), oldest first; remembers the record.

    Batch and gradient reports are sent at most every `interval` seconds, the others at once: each
    signal wakes the GUI thread, and a wake-up per batch took the interpreter lock from the training
    thread hundreds of times a second.
    """

    def __init__(self, emit: Callable[[list[Event]], None], interval: float = SEND_INTERVAL_S) -> None:
        self._emit = emit
        self.notes: list[str] = []  # about the data (files skipped), shown with the run's first line
        self._interval = interval
        self._pending: list[Event] = []
        self._due = 0.0
        self._lock = threading.Lock()  # flush() may come from the GUI thread (on pause)
        self.record: dict[str, Any] | None = None

    def _offer(self, name: str, info: Info, *, urgent: bool = True) -> None:
        with self._lock:
            self._pending.append((name, _plain(info)))
            now = monotonic()
            if urgent or now >= self._due:
                self._due = now + self._interval
                self._send()

    def flush(self) -> None:
        with self._lock:
            self._send()

    def _send(self) -> None:
        if self._pending:
            events, self._pending = self._pending, []
            self._emit(events)

    def on_train_begin(self, info: Info) -> None:
        self._offer("train_begin", {**info, "notes": list(self.notes)})

    def on_epoch_begin(self, info: Info) -> None:
        self._offer("epoch_begin", info, urgent=False)

    def on_batch_end(self, info: Info) -> None:
        self._offer("batch_end", info, urgent=False)

    def on_epoch_end(self, info: Info) -> None:
        self._offer("epoch_end", info)

    def on_grad_norms(self, info: Info) -> None:
        self._offer("grad_norms", info, urgent=False)

    def on_train_end(self, info: Info) -> None:
        self.record = _plain(info["result"])
        self._offer("train_end", info)


class TrainingWorker(QObject):
    """Runs one training of `project` (a copy the GUI no longer touches) when its thread starts."""

    events = Signal(list)  # [(trainer event name (see EVENTS), its info), ...], oldest first
    loading = Signal(int, int)  # files (or chunks) of the dataset read so far, and in all
    finished = Signal(object)  # the Outcome

    def __init__(self, project: Project, device: str) -> None:
        super().__init__()
        self.project = project
        self.device = device
        self.outcome: Outcome | None = None
        self._control = threading.Lock()  # orders stop/pause against the trainer being set up
        self._trainer: Any = None
        self._callback = SignalCallback(self.events.emit)
        self._stop = False
        self._pause = False

    # --- control, from the GUI thread -----------------------------------------------------------------

    def stop(self) -> None:
        with self._control:
            self._stop = True
            if self._trainer is not None:
                self._trainer.stop()

    def pause(self) -> None:
        with self._control:
            self._pause = True
            if self._trainer is not None:
                self._trainer.pause()
        self._callback.flush()  # what was trained before the pause is shown during it

    def resume(self) -> None:
        with self._control:
            self._pause = False
            if self._trainer is not None:
                self._trainer.resume()

    # --- the run, on the worker thread ----------------------------------------------------------------

    @Slot()
    def run(self) -> None:
        self.outcome = self._train()
        self.finished.emit(self.outcome)

    def _train(self) -> Outcome:
        callback = self._callback
        project = self.project
        try:
            job = self._prepare(callback)
        except _Cancelled:
            return Outcome(cancelled=True)
        except StudioError as exc:
            return Outcome(error=str(exc))
        except Exception as exc:  # out of memory, a broken dataset file: say what, keep the studio going
            log.exception("preparing the training failed")
            return Outcome(error=failure_text(exc))
        from studio.data import skipped_message

        note = skipped_message(job.data.info)
        if note:
            callback.notes.append(note)
        with self._control:
            if self._stop:
                return Outcome(cancelled=True)
            self._trainer = job.trainer
            if self._pause:
                job.trainer.pause()
        try:
            job.run()  # trains, copies the weights beside the project, saves the project with the run
        except Exception as exc:
            log.exception("training or recording the run failed")
            message = failure_text(exc)
            record = callback.record
            if record is None:  # the trainer refused to start
                return Outcome(error=message)
            runs = copy.deepcopy(project.runs)
            if not any(r.get("id") == record["id"] for r in runs):  # its weights never reached the folder
                runs.append({**record, "weights": None})
            return Outcome(record=runs[-1], runs=runs, error=f"the run could not be saved: {message}")
        return Outcome(record=copy.deepcopy(project.runs[-1]), runs=copy.deepcopy(project.runs), saved=True)

    def _prepare(self, callback: SignalCallback) -> Any:
        from studio.runs import prepare_training
        from studio.train.devices import cpu_count

        kind, index = device_setting(self.device)
        if index is not None:
            import torch

            torch.cuda.set_device(index)  # the trainer resolves "cuda" to this thread's current GPU
        threads = gui_threads(int(self.project.training.get("threads", 0)), cpu_count())
        return prepare_training(self.project, overrides={"device": kind, "threads": threads},
                                callbacks=[callback], progress=self._progress)

    def _progress(self, done: int, total: int) -> None:
        if self._stop:
            raise _Cancelled
        self.loading.emit(done, total)
