"""The one background worker of the Results views: jobs run one at a time off the GUI thread.

A job is a plain function `work(progress) -> result`; it must return plain data (numpy arrays,
dataclasses of them), never widgets, tensors or the model. Its result, failure and progress arrive on
the GUI thread (through `studio.gui.background`). Submitting a job of a kind that is still waiting or
running supersedes the older one: its result is dropped and it stops at its next progress report.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.gui.background import Background, Cancelled, Report, Task

__all__ = ["PROGRESS_INTERVAL_S", "Cancelled", "JobRunner", "Progress"]

Progress = Callable[[int, int], None]
PROGRESS_INTERVAL_S = 0.05  # a bar needs no more than ~20 updates a second


@dataclass
class _Job:
    kind: str
    label: str
    work: Callable[[Progress], Any]
    on_done: Callable[[Any], None]
    on_failed: Callable[[str], None]
    task: Task | None = None  # once started
    answered: bool = False  # its result or failure was handed over

    @property
    def wanted(self) -> bool:
        return not self.answered and not (self.task is not None and self.task.cancelled.is_set())


class JobRunner(QObject):
    """Runs submitted jobs in submission order, one at a time: they share the model and the data, and
    the machine's few cores. The next job starts once the one before has returned, even when that one
    was cancelled and is only finishing its current step."""

    busy_changed = Signal(bool)
    progress = Signal(str, int, int)  # label of the running job, done, total

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._background = Background(self)
        self._waiting: deque[_Job] = deque()
        self._running: _Job | None = None  # whose work has not returned yet
        self._busy = False

    @property
    def busy(self) -> bool:
        return self._busy

    def submit(self, kind: str, label: str, work: Callable[[Progress], Any], on_done: Callable[[Any], None],
               on_failed: Callable[[str], None]) -> None:
        """Run `work` after the jobs before it; then `on_done(result)` or `on_failed(message)`."""
        self.cancel(kind)
        self._waiting.append(_Job(kind, label, work, on_done, on_failed))
        self._set_busy()
        self._start_next()

    def cancel(self, kind: str | None = None) -> None:
        """Drop the results of waiting and running jobs (of `kind`, or all) and ask them to stop."""
        self._waiting = deque(job for job in self._waiting if kind is not None and job.kind != kind)
        running = self._running
        if running is not None and running.task is not None and kind in (None, running.kind):
            running.task.cancel()
        self._set_busy()

    def shutdown(self, timeout: float | None = None) -> bool:
        """Cancel everything and wait (up to `timeout` seconds) for the running job to stop (the window is
        closing); True if it has."""
        self.cancel()
        return self._background.shutdown(timeout)

    def _start_next(self) -> None:
        if self._running is not None or not self._waiting:
            return
        job = self._running = self._waiting.popleft()
        job.task = self._background.start(partial(_run_job, job.work), done=partial(self._answer, job, True),
                                          failed=partial(self._answer, job, False),
                                          report=partial(self._stepped, job),
                                          ended=partial(self._ended, job), name="results")

    def _answer(self, job: _Job, succeeded: bool, value: Any) -> None:
        job.answered = True
        self._set_busy()  # before the answer, which may well submit the next job
        (job.on_done if succeeded else job.on_failed)(value)

    def _stepped(self, job: _Job, step: tuple[int, int]) -> None:
        self.progress.emit(job.label, *step)

    def _ended(self, job: _Job) -> None:
        if self._running is job:
            self._running = None
        self._set_busy()
        self._start_next()

    def _set_busy(self) -> None:
        running = self._running is not None and self._running.wanted
        busy = running or bool(self._waiting)
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)


def _run_job(work: Callable[[Progress], Any], report: Report) -> Any:
    """On the job's thread: `work` with a progress callback that is throttled and stops a cancelled job."""
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        if report.cancelled.is_set():
            raise Cancelled
        now = time.monotonic()
        if done >= total or now - last >= PROGRESS_INTERVAL_S:
            last = now
            report((int(done), int(total)))

    report((0, 0))  # started: a busy bar until the first step (and a job cancelled while waiting stops)
    return work(progress)
