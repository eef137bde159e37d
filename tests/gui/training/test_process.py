"""The window supervises a training process: it survives the process' death, ends a stuck one, trains on
two processes, and starts a first Run in a process that is already warm."""

from __future__ import annotations

import os
import signal

import pytest

from studio.core.project import load_project
from studio.gui.training import controller as controller_module

from .conftest import RUN_TIMEOUT_MS, open_project, run_to_end, wait_for_batches


def wait_for_epochs(qtbot, win, count: int) -> None:
    panel = win.training.panel
    qtbot.waitUntil(lambda: panel.live is not None and panel.live.epochs_done >= count,
                    timeout=RUN_TIMEOUT_MS)


def training_pid(win) -> int:
    worker = win.training.controller.worker
    assert worker is not None and worker.process is not None
    return worker.process.pid


@pytest.mark.timeout(180)
def test_a_killed_training_process_leaves_the_window_working_and_the_run_recorded(qtbot, trainer,
                                                                                   digits_file):
    path = digits_file(epochs=500)
    open_project(trainer, path)
    with qtbot.waitSignal(trainer.training.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert trainer.training.run()
        wait_for_epochs(qtbot, trainer, 1)
        wait_for_batches(qtbot, trainer, 5)
        os.kill(training_pid(trainer), signal.SIGKILL)
    outcome = blocker.args[0]
    assert outcome.status == "failed"
    assert "killed by signal 9 (SIGKILL)" in outcome.error and "epoch" in outcome.error
    (run,) = load_project(path).runs
    assert run["status"] == "failed" and run["epochs"] and run["weights"]
    assert (path.parent / run["weights"]).is_file()  # the weights of the last completed epoch
    panel = trainer.training.panel
    assert "killed by signal 9" in panel.banner.text()
    assert trainer.doc.project.runs[-1]["id"] == run["id"] and not trainer.doc.locked
    assert trainer.training.controls.run_action.isEnabled()


@pytest.mark.timeout(180)
def test_a_stop_that_does_not_end_the_run_offers_end_now(qtbot, trainer, digits_file, monkeypatch):
    monkeypatch.setattr(controller_module, "STOP_GRACE_S", 1.0)
    path = digits_file(epochs=500)
    open_project(trainer, path)
    session = trainer.training
    assert session.run()
    wait_for_epochs(qtbot, trainer, 1)
    pid = training_pid(trainer)
    os.kill(pid, signal.SIGSTOP)  # a batch that never ends
    try:
        session.stop()
        qtbot.waitUntil(lambda: session.panel.end_now_button.isVisible(), timeout=10_000)
        with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS) as blocker:
            session.panel.end_now_button.click()
    finally:
        if session.running:
            os.kill(pid, signal.SIGCONT)
    outcome = blocker.args[0]
    assert outcome.status == "stopped" and "ended by End Now" in outcome.record["message"]
    (run,) = load_project(path).runs
    assert run["status"] == "stopped" and (path.parent / run["weights"]).is_file()
    assert not session.panel.end_now_button.isVisible()


@pytest.mark.timeout(300)
def test_two_cpu_processes_train_from_the_window_and_end_with_identical_weights(qtbot, trainer, digits_file):
    path = digits_file(epochs=2)
    open_project(trainer, path)
    picker = trainer.training.controls.device_picker
    index = picker.findData("cpu*2")
    assert index >= 0, [picker.itemData(i) for i in range(picker.count())]
    picker.setCurrentIndex(index)
    picker.activated.emit(index)
    outcome = run_to_end(qtbot, trainer)
    assert outcome.status == "completed" and outcome.weights_agree is True
    assert trainer.training.panel.begin_info["processes"] == 2
    assert "All 2 processes ended with identical weights" in trainer.training.panel.log.toPlainText()
    (run,) = load_project(path).runs
    assert (path.parent / run["weights"]).is_file()


@pytest.mark.timeout(180)
def test_the_first_run_goes_to_the_warm_process(qtbot, trainer, digits_file):
    controller = trainer.training.controller
    controller.keep_warm = True
    controller.prewarm()
    qtbot.waitUntil(controller.warm.ready.is_set, timeout=120_000)
    warm_pid = controller.warm._popen.pid
    path = digits_file(epochs=1)
    open_project(trainer, path)
    outcome = run_to_end(qtbot, trainer)
    assert outcome.status == "completed"
    assert trainer.training.panel.begin_info["pid"] == warm_pid
    qtbot.waitUntil(lambda: controller.warm.alive, timeout=10_000)  # the next one is on its way
    controller.shutdown()
    assert not controller.warm.alive


def test_the_window_process_never_imports_torch_for_training():
    import subprocess
    import sys

    code = ("import sys; from studio.gui.training import session, worker, controller; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.stdout.strip() == "False", out.stderr
