"""The background helper: outcomes on the GUI thread, one-line failures, cancelling, joining, owners."""

from __future__ import annotations

import threading

import pytest
import shiboken6
from PySide6.QtCore import QObject

from studio.core.errors import StudioError
from studio.gui.background import Background, Cancelled

pytestmark = pytest.mark.timeout(30)
WAIT_MS = 5_000


class Outcome:
    """What a task's callbacks received, and on which thread."""

    def __init__(self) -> None:
        self.done: list = []
        self.failed: list[str] = []
        self.reports: list = []
        self.threads: set[int] = set()
        self.ended = 0

    def callbacks(self) -> dict:
        return {"done": self._on(self.done), "failed": self._on(self.failed),
                "report": self._on(self.reports), "ended": self._end}

    def _on(self, into: list):
        def receive(value) -> None:
            self.threads.add(threading.get_ident())
            into.append(value)
        return receive

    def _end(self) -> None:
        self.threads.add(threading.get_ident())
        self.ended += 1


def test_the_result_arrives_on_the_gui_thread(qtbot):
    background, seen = Background(), Outcome()
    task = background.start(lambda _report: threading.get_ident(), name="ident", **seen.callbacks())
    qtbot.waitUntil(lambda: seen.ended == 1, timeout=WAIT_MS)
    (worker,) = seen.done
    assert worker != threading.get_ident() and seen.threads == {threading.get_ident()}
    assert task.join(1) and not task.running and background.tasks == []


def test_failures_are_one_line(qtbot, caplog):
    background, seen = Background(), Outcome()

    def refuse(_report):
        raise StudioError("k = 9 is more than the 5 samples")

    def crash(_report):
        raise ValueError("bad shape (3, 4)\n  while reading the second line")

    background.start(refuse, **seen.callbacks())
    qtbot.waitUntil(lambda: seen.ended == 1, timeout=WAIT_MS)
    background.start(crash, name="crash", **seen.callbacks())
    qtbot.waitUntil(lambda: seen.ended == 2, timeout=WAIT_MS)
    assert seen.failed == ["k = 9 is more than the 5 samples", "bad shape (3, 4)"] and seen.done == []
    assert "background task 'crash' failed" in caplog.text  # the details go to the log, not the user


def test_reports_arrive_in_order_before_the_result(qtbot):
    background, seen = Background(), Outcome()

    def count(report):
        for i in range(5):
            report({"step": i})
        return "counted"

    background.start(count, **seen.callbacks())
    qtbot.waitUntil(lambda: seen.ended == 1, timeout=WAIT_MS)
    assert seen.reports == [{"step": i} for i in range(5)] and seen.done == ["counted"]
    assert seen.threads == {threading.get_ident()}


def test_a_cancelled_task_stops_at_its_next_report_and_its_result_is_dropped(qtbot):
    background, seen = Background(), Outcome()
    started, release, stopped = threading.Event(), threading.Event(), []

    def slow(report):
        started.set()
        release.wait(WAIT_MS / 1000)
        try:
            report("late")
        except Cancelled:
            stopped.append(True)
            raise
        return "unwanted"

    task = background.start(slow, **seen.callbacks())
    assert started.wait(5)
    task.cancel()
    release.set()
    qtbot.waitUntil(lambda: seen.ended == 1, timeout=WAIT_MS)
    assert stopped == [True] and seen.done == seen.failed == seen.reports == []


def test_a_result_computed_after_cancelling_is_dropped(qtbot):
    background, seen = Background(), Outcome()
    started, release = threading.Event(), threading.Event()

    def ignores_cancelling(report):
        started.set()
        release.wait(WAIT_MS / 1000)
        return "unwanted"

    task = background.start(ignores_cancelling, **seen.callbacks())
    assert started.wait(5)
    task.cancel()
    assert task.cancelled.is_set()
    release.set()
    qtbot.waitUntil(lambda: seen.ended == 1, timeout=WAIT_MS)
    assert seen.done == []


def test_join_gives_up_after_its_timeout(qtbot):
    background, release = Background(), threading.Event()
    task = background.start(lambda report: release.wait(WAIT_MS / 1000))
    assert not task.join(0.05) and task.running
    assert not background.shutdown(timeout=0.05) and task.cancelled.is_set()
    release.set()
    assert background.shutdown(timeout=5) and not task.running


def test_tasks_run_side_by_side(qtbot):
    """Each task has its own thread: a long one (a reader of a child's output) holds up no other."""
    background, seen = Background(), Outcome()
    first_started, second_ran = threading.Event(), threading.Event()

    def long_running(report):
        first_started.set()
        return second_ran.wait(WAIT_MS / 1000)

    background.start(long_running, **seen.callbacks())
    assert first_started.wait(5)
    background.start(lambda report: second_ran.set(), **seen.callbacks())
    qtbot.waitUntil(lambda: seen.ended == 2, timeout=WAIT_MS)
    assert sorted(seen.done, key=repr) == [None, True]  # the long one saw the other one run


def test_no_callback_runs_once_the_owner_is_deleted(qtbot):
    owner = QObject()
    background, seen = Background(owner), Outcome()
    reported, release, finished = threading.Event(), threading.Event(), threading.Event()

    def work(report):
        report("queued before the owner went")
        reported.set()
        release.wait(WAIT_MS / 1000)
        finished.set()
        return "for nobody"

    task = background.start(work, **seen.callbacks())
    assert reported.wait(5)
    shiboken6.delete(owner)  # the window closed; its children (the Background) go with it
    assert not shiboken6.isValid(background) and task.cancelled.is_set()
    release.set()
    assert finished.wait(5) and task.join(5)
    qtbot.wait(100)  # the queued report and result arrive, and are dropped without a word
    assert seen.reports == seen.done == [] and seen.ended == 0 and seen.threads == set()
