"""Pausing, resuming, stopping and closing the window while a run trains."""

from __future__ import annotations

from studio.core.project import load_project

from .conftest import RUN_TIMEOUT_MS, open_project, wait_for_batches

QUIET_MS = 400  # long enough for several batches of the digits CNN, had the run not been paused


def test_pause_holds_the_batches_until_resume(qtbot, trainer, digits_file):
    open_project(trainer, digits_file(epochs=1))
    session, panel = trainer.training, trainer.training.panel
    assert session.run()
    wait_for_batches(qtbot, trainer)
    trainer.training.controls.pause_action.trigger()
    assert session.controller.state == "paused" and "paused" in trainer.windowTitle().lower()
    assert panel.progress.text().startswith("Paused at epoch 1/1, batch ")
    assert "samples/s" not in panel.progress.text() and "ETA" not in panel.progress.text()
    assert panel.log.toPlainText().splitlines()[-1].startswith("Paused at epoch 1/1, batch ")
    qtbot.wait(150)  # a batch under way when Pause was pressed still finishes
    held = len(panel.live.batch_loss)
    qtbot.wait(QUIET_MS)
    assert len(panel.live.batch_loss) == held
    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        trainer.training.controls.pause_action.trigger()  # Resume
        assert session.controller.state == "running"
    assert blocker.args[0].status == "completed"
    assert len(trainer.doc.project.runs[-1]["epochs"]) == 1


def test_stop_mid_epoch_keeps_the_weights_and_records_the_run(qtbot, trainer, digits_file):
    path = digits_file(epochs=50)
    open_project(trainer, path)
    session = trainer.training
    assert session.run()
    wait_for_batches(qtbot, trainer, 3)
    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        trainer.training.controls.stop_action.trigger()
        assert trainer.training.controls.stop_action.isEnabled() is False
    outcome = blocker.args[0]
    assert outcome.status == "stopped" and "stopped at epoch 1 after" in outcome.record["message"]
    run = load_project(path).runs[-1]
    assert run["status"] == "stopped" and (path.parent / run["weights"]).is_file()
    panel = trainer.training.panel
    assert panel.banner.isVisible() and "The run keeps the weights of its last batch (epoch 1/50, batch " \
        in panel.banner.text()
    assert trainer.training.controls.run_action.isEnabled() and not trainer.doc.locked


def test_closing_the_window_mid_run_stops_and_joins_the_worker(qtbot, trainer, digits_file, training_answers):
    path = digits_file(epochs=50)
    open_project(trainer, path)
    session = trainer.training
    assert session.run()
    wait_for_batches(qtbot, trainer, 2)
    task = session.controller._task

    training_answers.stop_and_close = False
    assert not trainer.close()  # Cancel: the window stays and the run goes on
    assert trainer.isVisible() and session.running and task.running

    training_answers.stop_and_close = True
    assert trainer.close()
    assert training_answers.asked == ["stop_and_close", "stop_and_close"]
    assert not session.running and not task.running
    saved = load_project(path)
    assert saved.runs[-1]["status"] == "stopped"
    assert saved.runs == trainer.doc.project.runs and not trainer.doc.modified


def test_stop_while_the_data_loads_records_nothing(qtbot, trainer, digits_file):
    path = digits_file()
    open_project(trainer, path)
    session = trainer.training
    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert session.run()
        session.stop()  # before the worker has even loaded the data
    assert blocker.args[0].status in ("cancelled", "stopped")
    if blocker.args[0].status == "cancelled":
        assert load_project(path).runs == [] and "no run was recorded" in session.panel.banner.text()
    assert not trainer.doc.locked
