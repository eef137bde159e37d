"""One training run at a time in a QThread, with its events coalesced for the screen.

The worker may report hundreds of batches a second; the controller queues them as they arrive and hands
them over in one list at most REDRAW_HZ times a second, so views redraw at screen pace however fast the
model trains.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal

from studio.core.project import Project
from studio.gui.training.worker import Event, Outcome, TrainingWorker

REDRAW_HZ = 10  # enough for a progress line; every redraw takes the interpreter lock from the trainer


class TrainingController(QObject):
    """Starts, pauses, stops and joins the worker; `state` is idle, loading, running, paused or stopping."""

    updates = Signal(list)  # [(event name, info), ...] since the last update, oldest first
    loading = Signal(int, int)
    state_changed = Signal(str)
    finished = Signal(object)  # the Outcome, after the last `updates`

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = "idle"
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._finished_worker: TrainingWorker | None = None
        self._pending: list[Event] = []
        self._timer = QTimer(self)
        # Precise and rounded up: a coarse timer may fire early, which would exceed REDRAW_HZ.
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(math.ceil(1000 / REDRAW_HZ))
        self._timer.timeout.connect(self.flush)

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def start(self, project: Project, device: str) -> None:
        """Train `project` (a copy nothing else touches) on `device` ("auto", "cpu", "cuda:1", "mps")."""
        if self.busy:
            raise RuntimeError("a run is already in progress")
        thread = QThread(self)
        thread.setObjectName("training")
        worker = TrainingWorker(project, device)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.events.connect(self._queue)
        worker.loading.connect(self._loading)
        worker.finished.connect(self._worker_finished)
        # Direct: the thread must be able to end while the GUI thread is blocked joining it.
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread, self._worker = thread, worker
        self._pending.clear()
        self._set_state("loading")
        self._timer.start()
        thread.start()

    def pause(self) -> None:
        if self._worker is not None and self.state in ("loading", "running"):
            self._worker.pause()
            self._set_state("paused")

    def resume(self) -> None:
        if self._worker is not None and self.state == "paused":
            self._worker.resume()
            self._set_state("running")

    def stop(self) -> None:
        """Ask the run to end before its next batch; it keeps the weights so far and is recorded."""
        if self._worker is not None and self.state != "stopping":
            self._worker.stop()
            self._set_state("stopping")

    def shutdown(self) -> Outcome | None:
        """Stop the run and wait for its thread (the trainer stops within a batch); returns how it ended."""
        if self._thread is None:
            return None
        self.stop()
        self._thread.wait()
        return self._complete()

    # --- from the worker -----------------------------------------------------------------------------

    def _queue(self, events: list[Event]) -> None:
        if self._worker is None:
            return  # late events of a run already completed
        self._pending.extend(events)
        if self.state == "loading" and any(name == "train_begin" for name, _ in events):
            self._set_state("running")

    def _loading(self, done: int, total: int) -> None:
        if self._worker is not None:
            self.loading.emit(done, total)

    def _worker_finished(self, _outcome: Outcome) -> None:
        if self._thread is not None:
            self._thread.wait()  # quit() was called from the worker's last line: this is immediate
            self._complete()

    def flush(self) -> None:
        if self._pending:
            events, self._pending = self._pending, []
            self.updates.emit(events)

    def _complete(self) -> Outcome:
        worker, thread = self._worker, self._thread
        assert worker is not None and thread is not None
        self.flush()
        self._timer.stop()
        self._worker = self._thread = None
        outcome = worker.outcome or Outcome(error="the training thread ended without a result")
        # Kept until the next run: signals it sent may still wait in the queue, and its thread is over.
        self._finished_worker = worker
        thread.deleteLater()
        self._set_state("idle")
        self.finished.emit(outcome)
        return outcome

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)
