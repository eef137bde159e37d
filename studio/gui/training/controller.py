"""One training run at a time, supervised on a worker thread, with its events coalesced for the screen.

The training process sends at most BATCH_HZ batch events a second; the controller queues what arrives
and hands it over in one list at most REDRAW_HZ times a second. The trainer is in another process, so
redrawing costs it nothing: the curves follow at screen pace.

A stop that has not ended the run within STOP_GRACE_S says so (`stop_overdue`): the window then
offers End now, which ends the process at once.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from studio.core.project import Project
from studio.gui.background import Background, Task
from studio.gui.training.worker import Outcome, TrainingWorker, gui_threads, usable_cores
from studio.train import events
from studio.train.process import WarmProcess

REDRAW_HZ = 30
STOP_GRACE_S = 10.0


class TrainingController(QObject):
    """Starts, pauses, stops and joins the run; `state` is idle, loading, running, paused or stopping."""

    updates = Signal(list)  # [events.Event, ...] since the last update, oldest first
    loading = Signal(int, int)
    state_changed = Signal(str)
    stop_overdue = Signal(float)  # a stop asked this many seconds ago has not ended the run: offer End now
    finished = Signal(object)  # the Outcome, after the last `updates`

    def __init__(self, parent: QObject | None = None, *, keep_warm: bool = False) -> None:
        super().__init__(parent)
        self.state = "idle"
        self.keep_warm = keep_warm  # keep a process with torch imported ready for the next Run
        self.warm = WarmProcess()
        self._background = Background(self)
        self._task: Task | None = None
        self._worker: TrainingWorker | None = None
        self._pending: list[events.Event] = []
        self._timer = QTimer(self)
        # Precise and rounded up: a coarse timer may fire early, which would exceed REDRAW_HZ.
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(math.ceil(1000 / REDRAW_HZ))
        self._timer.timeout.connect(self.flush)
        self._overdue = QTimer(self)
        self._overdue.setSingleShot(True)
        self._overdue.timeout.connect(self._stop_is_overdue)

    @property
    def busy(self) -> bool:
        return self._worker is not None

    @property
    def worker(self) -> TrainingWorker | None:
        return self._worker

    def prewarm(self) -> None:
        """Have a training process ready (torch imported) so the next Run starts at once."""
        if self.keep_warm and not self.busy:
            self.warm.start()

    def start(self, project: Project, device: str) -> None:
        """Train `project` as saved in its file on `device` ("auto", "cpu", "cuda:1", "mps", "cpu*2")."""
        if self.busy:
            raise RuntimeError("a run is already in progress")
        if project.path is None:
            raise RuntimeError("a project trains from its file: save it first")
        threads = gui_threads(int(project.training.get("threads", 0)), usable_cores())
        worker = TrainingWorker(project.path, device, threads, warm=self.warm if self.keep_warm else None)
        self._worker = worker
        self._pending.clear()
        self._set_state("loading")
        self._timer.start()
        self._task = self._background.start(worker.supervise, report=self._queue,
                                            done=lambda _outcome, w=worker: self._worker_finished(w),
                                            name="training")

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
            self._overdue.start(int(STOP_GRACE_S * 1000))

    def end_now(self) -> None:
        """End the training process at once; the run keeps the weights of its last completed epoch."""
        if self._worker is not None:
            self._worker.end_now()
            self._set_state("stopping")

    def shutdown(self, timeout_s: float = 30.0) -> Outcome | None:
        """Stop the run and wait for it (ending the process if it does not stop in `timeout_s`); let the
        warm process go, and start no other. Returns how the run ended."""
        self.keep_warm = False
        self.warm.close()
        if self._task is None:
            return None
        self.stop()
        if not self._task.join(timeout_s):
            self.end_now()
            self._task.join()
        return self._complete()

    # --- from the worker -----------------------------------------------------------------------------

    def _queue(self, event: events.Event) -> None:
        if self._worker is None:
            return  # late events of a run already completed
        if isinstance(event, events.Loading):
            self.loading.emit(event.done, event.total)
            return
        self._pending.append(event)
        if self.state == "loading" and isinstance(event, events.Begin):
            self._set_state("running")

    def _worker_finished(self, worker: TrainingWorker) -> None:
        if worker is self._worker:  # not a run that shutdown() completed already
            self._complete()

    def _stop_is_overdue(self) -> None:
        if self.busy and self.state == "stopping":
            self.stop_overdue.emit(STOP_GRACE_S)

    def flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self.updates.emit(batch)

    def _complete(self) -> Outcome:
        worker = self._worker
        assert worker is not None
        self.flush()
        self._timer.stop()
        self._overdue.stop()
        self._worker = self._task = None
        outcome = worker.outcome or Outcome(error="the training supervisor ended without a result")
        self._set_state("idle")
        self.finished.emit(outcome)
        if self.keep_warm:
            QTimer.singleShot(0, self.prewarm)
        return outcome

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)
