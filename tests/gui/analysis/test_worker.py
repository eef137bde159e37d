"""The Results worker: results on the GUI thread, messages instead of exceptions, superseded jobs dropped."""

from __future__ import annotations

import threading

from studio.core.errors import StudioError
from studio.gui.analysis.worker import JobRunner


def run_jobs(qtbot, runner: JobRunner) -> None:
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)


def test_results_and_progress_arrive_on_the_gui_thread(qtbot):
    runner = JobRunner()
    seen, steps = [], []
    runner.progress.connect(lambda label, done, total: steps.append((label, done, total)))

    def work(progress):
        for i in range(1, 4):
            progress(i, 3)
        return threading.get_ident()

    def received(result):
        seen.append((result, threading.get_ident()))

    runner.submit("sum", "Adding", work, received, seen.append)
    run_jobs(qtbot, runner)
    ((worker_thread, receiving_thread),) = seen
    assert worker_thread != receiving_thread == threading.get_ident()
    assert steps[0] == ("Adding", 0, 0) and steps[-1] == ("Adding", 3, 3)


def test_failures_are_messages(qtbot):
    runner = JobRunner()
    messages = []

    def refuse(_progress):
        raise StudioError("k = 9 is more than the 5 samples")

    def crash(_progress):
        raise ValueError("bad shape")

    runner.submit("a", "Refusing", refuse, messages.append, messages.append)
    runner.submit("b", "Crashing", crash, messages.append, messages.append)
    run_jobs(qtbot, runner)
    assert messages == ["k = 9 is more than the 5 samples", "bad shape"]


def test_a_newer_job_of_the_same_kind_supersedes_the_older(qtbot):
    runner = JobRunner()
    started, release = threading.Event(), threading.Event()
    done, stopped = [], []

    def slow(progress):
        started.set()
        release.wait(5)
        try:
            progress(1, 2)  # raises once the job was superseded
        except BaseException:
            stopped.append(True)
            raise
        return "old"

    runner.submit("cluster", "Old", slow, done.append, done.append)
    assert started.wait(5)
    runner.submit("cluster", "New", lambda _progress: "new", done.append, done.append)
    release.set()
    run_jobs(qtbot, runner)
    assert done == ["new"] and stopped == [True]
    runner.shutdown()
