"""The window's one way to run work off the GUI thread and hear back on it.

    task = Background(owner).start(work, done=show, failed=say, report=step)

runs `work(report)` on a Python thread of its own and calls `done(result)`, `failed(message)` and
`report(value)` on the GUI thread, through queued signals. Work gets plain data in and hands plain data
out (numbers, strings, numpy copies); it never touches a widget. A failure arrives as one line: a
StudioError's own message, or the words of an unexpected exception (logged with its traceback).

Each task has a thread of its own, so a task may take a second or the life of the window (a reader of a
child process's output) without holding up the others; callers that need tasks one after another chain
them with `ended`. Cancelling is cooperative: `task.cancel()` sets `task.cancelled`, which the work may
poll, and `report(...)` raises `Cancelled` once it is set, so work that reports stops at its next report.
A cancelled task's result, failure and reports are dropped. When the owner (the Background's parent) is
destroyed, every task is cancelled and no callback runs again.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot

from studio.core.errors import StudioError, failure_text

T = TypeVar("T")
log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised in a task's work by its report once the task was cancelled: the work stops there."""


class Report:
    """What the work calls with a plain value to show progress; `cancelled` tells it to stop."""

    def __init__(self, cancelled: threading.Event, send: Callable[[Any], None]) -> None:
        self.cancelled = cancelled
        self._send = send

    def __call__(self, value: Any) -> None:
        if self.cancelled.is_set():
            raise Cancelled
        self._send(value)


class Task:
    """The handle of one background function."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cancelled = threading.Event()
        self._thread: threading.Thread | None = None

    def cancel(self) -> None:
        """Ask the work to stop and drop whatever it still hands back."""
        self.cancelled.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds (None: as long as it takes) for the work to return; True if it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


@dataclass
class _Callbacks:
    done: Callable[[Any], None] | None
    failed: Callable[[str], None] | None
    report: Callable[[Any], None] | None
    ended: Callable[[], None] | None


class Background(QObject):
    """Starts background tasks for its parent; their callbacks run on the GUI thread while it lives."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._relay = _relay()
        self._tasks: dict[Task, _Callbacks] = {}
        # A plain function, not a method: it runs while the C++ side is being torn down.
        self.destroyed.connect(partial(_cancel_all, self._tasks))

    def start(self, work: Callable[[Report], T], *, done: Callable[[T], None] | None = None,
              failed: Callable[[str], None] | None = None, report: Callable[[Any], None] | None = None,
              ended: Callable[[], None] | None = None, name: str = "background") -> Task:
        """Run `work(report)` on a new thread; later, on the GUI thread, `done(result)` or
        `failed(message)` unless it was cancelled, then `ended()` whatever happened."""
        task = Task(name)
        self._tasks[task] = _Callbacks(done, failed, report, ended)
        # The thread holds no strong reference to this object or to the callbacks: what the GUI
        # thread owns is let go there, never at the end of a worker thread.
        owner = weakref.ref(self)
        report_back = Report(task.cancelled, partial(_post, self._relay, owner, task, "report"))
        # A daemon thread: a task stuck in a driver call must not keep the closed studio running.
        task._thread = threading.Thread(target=_run, args=(work, report_back, task, owner, self._relay),
                                        name=name, daemon=True)
        task._thread.start()
        return task

    @property
    def tasks(self) -> list[Task]:
        """The tasks whose outcome has not been delivered yet (cancelled ones included)."""
        return list(self._tasks)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Cancel every task and wait up to `timeout` seconds in all for their work to return (the window
        is closing); True if every one has."""
        tasks = self.tasks
        _cancel_all(self._tasks)
        return _join_all(tasks, timeout)

    def _deliver(self, task: Task, kind: str, value: Any) -> None:
        calls = self._tasks.get(task)
        if calls is None:
            return
        if kind == "report":
            if calls.report is not None and not task.cancelled.is_set():
                calls.report(value)
            return
        del self._tasks[task]
        try:
            callback = calls.done if kind == "done" else calls.failed if kind == "failed" else None
            if callback is not None and not task.cancelled.is_set():
                callback(value)
        finally:
            if calls.ended is not None:
                calls.ended()


def _run(work: Callable[[Report], Any], report: Report, task: Task, owner: weakref.ref[Background],
         relay: _Relay) -> None:
    """The body of a task's thread."""
    kind, value = "failed", "stopped unexpectedly"
    try:
        kind, value = "done", work(report)
    except Cancelled:
        kind, value = "cancelled", None
    except StudioError as exc:
        kind, value = "failed", str(exc)
    except Exception as exc:  # a failed task is a message for the window, never a crash of it
        log.exception("background task %r failed", task.name)
        kind, value = "failed", failure_text(exc)
    finally:
        _post(relay, owner, task, kind, value)


def _post(relay: _Relay, owner: weakref.ref[Background], task: Task, kind: str, value: Any) -> None:
    """Hand `value` to the GUI thread, where the owner decides whether anyone still wants it."""
    try:
        relay.call.emit(partial(_arrive, owner, task, kind, value))
    except RuntimeError:
        pass  # the application is gone (the interpreter is exiting): nobody waits for anything


def _arrive(owner: weakref.ref[Background], task: Task, kind: str, value: Any) -> None:
    background = owner()
    if background is not None and shiboken6.isValid(background):
        background._deliver(task, kind, value)


def _cancel_all(tasks: dict[Task, Any]) -> None:
    for task in list(tasks):
        task.cancel()


def _join_all(tasks: list[Task], timeout: float | None) -> bool:
    deadline = None if timeout is None else time.monotonic() + timeout
    for task in tasks:
        if not task.join(None if deadline is None else max(0.0, deadline - time.monotonic())):
            return False
    return True


class _Relay(QObject):
    """Carries calls from worker threads to the GUI thread.

    One for the process, living in the GUI thread and never deleted while the application runs: a
    worker may emit at any moment, and emitting on a QObject that another thread is deleting is
    undefined behaviour. Whether a call still matters is decided when it arrives (`_arrive`)."""

    call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.call.connect(self._call, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _call(self, call: Callable[[], None]) -> None:
        call()


_the_relay: _Relay | None = None


def _relay() -> _Relay:
    global _the_relay
    if _the_relay is None:
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError("background tasks need a QApplication")
        _the_relay = _Relay()
        if _the_relay.thread() != app.thread():
            _the_relay.moveToThread(app.thread())
    return _the_relay
