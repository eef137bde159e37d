"""The one background worker of the Results views: jobs run one at a time off the GUI thread.

A job is a plain function `work(progress) -> result`; it must return plain data (numpy arrays,
dataclasses of them), never widgets, tensors or the model. Its result, failure and progress arrive on
the GUI thread as queued signals. Submitting a job of a kind that is still waiting or running
supersedes the older one: its result is dropped and it stops at its next progress report.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.errors import StudioError, failure_text

Progress = Callable[[int, int], None]
PROGRESS_INTERVAL_S = 0.05  # a bar needs no more than ~20 updates a second
log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside a job (by its progress callback) once the job was cancelled or superseded."""


@dataclass
class _Job:
    kind: str
    label: str
    on_done: Callable[[Any], None]
    on_failed: Callable[[str], None]
    cancelled: threading.Event = field(default_factory=threading.Event)


class JobRunner(QObject):
    """Runs submitted jobs in submission order on one private thread.

    A Python thread, not a QThreadPool: a QRunnable made from Python is deleted by the pool behind the
    binding's back, and a later object allocated at its address came back from the binding as that
    stale QRunnable."""

    busy_changed = Signal(bool)
    progress = Signal(str, int, int)  # label of the running job, done, total

    _finished = Signal(int, object)
    _failed = Signal(int, str)
    _stepped = Signal(int, int, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # One at a time: jobs share the model and the data, and the machine's few cores.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="results")
        self._jobs: dict[int, _Job] = {}
        self._tokens = itertools.count(1)
        self._busy = False
        self._finished.connect(self._on_finished)
        self._failed.connect(self._on_failed)
        self._stepped.connect(self._on_stepped)

    @property
    def busy(self) -> bool:
        return self._busy

    def submit(self, kind: str, label: str, work: Callable[[Progress], Any], on_done: Callable[[Any], None],
               on_failed: Callable[[str], None]) -> None:
        """Run `work` after the jobs before it; then `on_done(result)` or `on_failed(message)`."""
        self.cancel(kind)
        token = next(self._tokens)
        job = _Job(kind, label, on_done, on_failed)
        self._jobs[token] = job
        self._pool.submit(self._run, token, job.cancelled, work)
        self._set_busy()

    def cancel(self, kind: str | None = None) -> None:
        """Drop the results of waiting and running jobs (of `kind`, or all) and ask them to stop."""
        for token, job in list(self._jobs.items()):
            if kind is None or job.kind == kind:
                job.cancelled.set()
                del self._jobs[token]
        self._set_busy()

    def shutdown(self) -> None:
        """Cancel everything and wait for the running job to stop (the window is closing)."""
        self.cancel()
        # One worker takes jobs in order: once this empty one has run, every earlier one has ended.
        self._pool.submit(lambda: None).result()

    # --- on the worker thread -------------------------------------------------------------------------

    def _run(self, token: int, cancelled: threading.Event, work: Callable[[Progress], Any]) -> None:
        last = 0.0

        def progress(done: int, total: int) -> None:
            nonlocal last
            if cancelled.is_set():
                raise Cancelled
            now = time.monotonic()
            if done >= total or now - last >= PROGRESS_INTERVAL_S:
                last = now
                self._emit(self._stepped, token, int(done), int(total))

        try:
            if cancelled.is_set():
                return
            self._emit(self._stepped, token, 0, 0)  # started: a busy bar until the first step
            result = work(progress)
        except Cancelled:
            return
        except StudioError as exc:
            self._emit(self._failed, token, str(exc))
        except Exception as exc:  # a failed analysis is a message in the view, never a crash
            log.exception("background job failed")
            self._emit(self._failed, token, failure_text(exc))
        else:
            self._emit(self._finished, token, result)

    @staticmethod
    def _emit(signal: Any, *args: Any) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:
            pass  # the views were closed while the job ran: nobody waits for its result

    # --- on the GUI thread ----------------------------------------------------------------------------

    def _on_finished(self, token: int, result: object) -> None:
        job = self._jobs.pop(token, None)
        self._set_busy()
        if job is not None:
            job.on_done(result)

    def _on_failed(self, token: int, message: str) -> None:
        job = self._jobs.pop(token, None)
        self._set_busy()
        if job is not None:
            job.on_failed(message)

    def _on_stepped(self, token: int, done: int, total: int) -> None:
        job = self._jobs.get(token)
        if job is not None:
            self.progress.emit(job.label, done, total)

    def _set_busy(self) -> None:
        busy = bool(self._jobs)
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)
