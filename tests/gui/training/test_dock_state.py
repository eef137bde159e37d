"""The Training dock shows the open project only, its gradient verdict follows the figures it draws, and
its log and progress line tell pauses, resumes and which weights a stopped run keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QPlainTextEdit

from studio.core.project import Project
from studio.gui.training.gradients_view import EMPTY_NOTE, EMPTY_X, EMPTY_Y
from studio.gui.training.panel import TrainingPanel
from studio.gui.training.runs_list import ID_ROLE
from studio.gui.training.text import kept_weights, paused_text, ready_text
from studio.gui.training.worker import Outcome
from studio.train import events

from ..helpers import PROJECTS
from .conftest import RUN_TIMEOUT_MS, open_project, wait_for_batches

BATCHES = 10
STEPS = 30
SETTINGS = {"grad_norm_every": 1, "threads": 1}


def begin(epochs: int = 2) -> events.Begin:
    return events.Begin(run_id="r1", epochs=epochs, start_epoch=1, batches=BATCHES, samples=320,
                        val_samples=80, device="cpu", metric="accuracy", loss_name="cross_entropy",
                        settings=SETTINGS)


def batch(epoch: int, number: int, epochs: int = 2) -> events.Batch:
    return events.Batch(epoch=epoch, epochs=epochs, batch=number, batches=BATCHES, step=number, loss=1.2,
                        metrics={"accuracy": 0.3}, lr=0.003, samples_per_s=2500.0, elapsed=1.0, eta=9.0)


@pytest.fixture
def panel(qtbot) -> TrainingPanel:
    """The dock's panel on its own, shown, with a run begun."""
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.resize(900, 420)
    widget.show()
    widget.begin_live(2)
    widget.apply([begin()])
    return widget


# --- the gradient verdict -------------------------------------------------------------------------------

def through_time(first: float, last: float) -> list[float]:
    """Norms from `first` at step 1 to `last` at the last step, evenly on a log scale."""
    return [first * (last / first) ** (i / (STEPS - 1)) for i in range(STEPS)]


VERDICTS = {
    # the plain RNN of the memory project after a few epochs: its first step gets about 1/7,000
    "vanishing": (4e-6, 0.028, "⚠ Gradient vanishing through time in rnn (step 1 gets 1/7,000 of step 30's; "
                  "warned beyond 1,000x either way): the start of each sequence barely teaches it"),
    "exploding": (50.0, 0.01, "⚠ Gradient exploding through time in rnn (step 1 gets 5,000x step 30's; "
                  "warned beyond 1,000x either way): clip gradients"),
    # an LSTM on the same task: a hundredfold fall, within the rule
    "healthy": (2.5e-4, 0.025, "✓ Healthy: no layer's gradient vanished or exploded. Through time: rnn "
                "step 1 gets 1/100 of step 30's (warned beyond 1,000x either way)."),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", sorted(VERDICTS))
def test_the_verdict_follows_the_through_time_figures_it_draws(qtbot, panel, case):
    first, last, verdict = VERDICTS[case]
    norms = {"rnn": 0.2, "dense": 0.25}  # every layer's own norm is ordinary
    panel.apply([batch(1, 1), events.GradNorms(epoch=1, batch=1, step=1, norms=norms)])
    view = panel.gradients
    qtbot.waitUntil(lambda: view.status.text().startswith("✓ Healthy"), timeout=2000)
    # The through-time report comes in the next frame, with no new norms: it is judged all the same.
    panel.apply([events.GradThroughTime(epoch=1, batch=1, step=1, layers={"rnn": through_time(first, last)})])
    qtbot.waitUntil(lambda: view.status.text().startswith(verdict), timeout=2000)
    assert [w.kind for w in view.warnings] == ([] if case == "healthy" else [f"{case}_through_time"])
    tab = panel.tabs.indexOf(panel.gradients_stack)
    assert panel.tabs.tabToolTip(tab) == view.status.text()
    panel.tabs.setCurrentIndex(tab)  # the figures drawn are the ones judged
    qtbot.waitUntil(lambda: "rnn" in view.time_items, timeout=2000)
    _steps, drawn = view.time_items["rnn"].getData()  # log10 of the norms: the axis is logarithmic
    assert 10 ** (drawn[0] - drawn[-1]) == pytest.approx(first / last)


# --- pause, resume, stop --------------------------------------------------------------------------------

@pytest.mark.timeout(30)
def test_a_pause_is_told_where_the_run_holds_and_logged_with_its_resume(panel):
    panel.apply([batch(1, 3)])
    assert "samples/s" in panel.progress.text()
    panel.set_state("paused")
    assert panel.progress.text() == "Paused at epoch 1/2, batch 3/10 · Resume (F6) continues"
    panel.apply([batch(1, 4)])  # the batch under way when Pause was pressed
    assert panel.progress.text() == "Paused at epoch 1/2, batch 4/10 · Resume (F6) continues"
    panel.set_state("running")
    assert panel.progress.text().startswith("Epoch 1/2 · batch 4/10 · 2,500 samples/s")
    assert panel.log.toPlainText().splitlines()[-2:] == [
        "Paused at epoch 1/2, batch 3/10 (a batch under way finishes first)",
        "Resumed at epoch 1/2, batch 4/10"]
    assert paused_text({}) == "Paused before the first batch · Resume (F6) continues"


def stopped_record(epochs: int, message: str) -> dict:
    return {"id": "r1", "status": "stopped", "message": message, "duration_s": 12.0,
            "settings": {"epochs": 2}, "weights": "p.r1.safetensors", "best_epoch": 1 if epochs else None,
            "epochs": [{"epoch": e, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.1,
                        "val_accuracy": 0.4 + e / 10} for e in range(1, epochs + 1)]}


@pytest.mark.timeout(30)
def test_a_stopped_run_says_it_keeps_its_last_batchs_weights(panel):
    record = stopped_record(1, "stopped at epoch 2 after 3 of 10 batches")
    panel.apply([batch(1, BATCHES), batch(2, 3), events.End(status="stopped", run_id="r1", record=record)])
    panel.finish(Outcome(record=record, runs=[record], saved=True))
    assert panel.progress.text() == ("Stopped after 00:12 · keeps the weights of epoch 2/2, batch 3/10 · "
                                     "last full epoch 1: val_accuracy 0.5000")
    kept = ("The run keeps the weights of its last batch (epoch 2/2, batch 3/10); the figures of epoch 1, "
            "its last full epoch, were measured on earlier weights.")
    assert panel.log.toPlainText().splitlines()[-1] == (
        f"Stopped after 00:12: stopped at epoch 2 after 3 of 10 batches. {kept}")
    assert panel.banner.text() == f"Training stopped (stopped at epoch 2 after 3 of 10 batches). {kept}"


def test_the_words_for_the_weights_a_stopped_run_keeps():
    at_epoch_end = kept_weights(stopped_record(2, ""), {"epoch": 2, "epochs": 2, "batch": 10, "batches": 10})
    assert at_epoch_end[1] == ("The run keeps the weights of the end of epoch 2, the weights its figures "
                               "were measured on.")
    first = kept_weights(stopped_record(0, ""), {"epoch": 1, "epochs": 2, "batch": 4, "batches": 10})
    assert first[1].endswith("(epoch 1/2, batch 4/10); no epoch finished, so it has no epoch figures.")
    assert kept_weights({**stopped_record(1, ""), "weights": None}, {})[1] == "No weights were kept."


@pytest.mark.timeout(30)
def test_the_log_wraps_its_lines(qtbot, panel):
    assert panel.log.lineWrapMode() == QPlainTextEdit.LineWrapMode.WidgetWidth
    panel.tabs.setCurrentWidget(panel.log)
    panel.resize(520, 300)
    panel.log.appendPlainText("Epoch 1/2 - 10/10 - 1s 9ms/step - loss: 1.3830 - accuracy: 0.2787 - "
                              "val_loss: 1.3995 - val_accuracy: 0.2150")
    block = panel.log.document().lastBlock()
    qtbot.waitUntil(lambda: block.layout().lineCount() > 1, timeout=2000)
    assert panel.log.horizontalScrollBar().maximum() == 0  # nothing to scroll to: all of it is in view


# --- the open project, and nothing else -----------------------------------------------------------------

def small_project(folder: Path, name: str, source: str, epochs: int, runs: list | None = None) -> Path:
    data = json.loads((PROJECTS / source).read_text(encoding="utf-8"))
    data["training"].update({"epochs": epochs, "threads": 1, "grad_norm_every": 5})
    data["runs"] = runs or []
    path = folder / f"{name}.studio"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


B_RUN = {"id": "brun00000001", "status": "completed", "started": "2024-03-03T14:05:00+00:00",
         "duration_s": 5.0, "device": "cpu", "message": "", "settings": {"epochs": 1}, "best_epoch": 1,
         "batch_loss": [1.3, 1.2, 1.1], "weights": None,
         "epochs": [{"epoch": 1, "loss": 1.1, "accuracy": 0.41, "val_loss": 1.2, "val_accuracy": 0.3125,
                     "lr": 0.003}]}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_opening_another_project_shows_its_own_state_only(qtbot, trainer, tmp_path, answers):
    a = small_project(tmp_path, "a", "moons_mlp.studio", epochs=500)  # stopped long before its end
    b = small_project(tmp_path, "b", "sequence_lstm.studio", epochs=1, runs=[B_RUN])
    open_project(trainer, a)
    session, panel = trainer.training, trainer.training.panel

    # While A trains, B cannot be opened (the run is recorded into A's file): the dock stays A's.
    assert session.run()
    wait_for_batches(qtbot, trainer, 2)
    assert not trainer.files.open(str(b)) and "is training" in answers.errors[-1]
    assert panel.live is not None and trainer.doc.project.path == a
    qtbot.waitUntil(lambda: panel.gradients.series and panel.live.epochs_done >= 1, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        session.stop()
    a_run = blocker.args[0].record["id"]
    assert "val_accuracy" in panel.progress.text() and panel.banner.isVisible()
    assert panel.log.toPlainText() and panel.gradients.series

    open_project(trainer, b)
    assert_shows_only(panel, [B_RUN], a_run)
    assert panel.progress.text() == ("Ready to train · last run #1: Completed after 00:05 · "
                                     "best val_accuracy 0.3125 (epoch 1)")
    assert [run.key for run in panel.curves.runs] == ["brun00000001"]
    assert panel.curves_stack.currentWidget() is panel.curves

    answers.new_project = Project()
    assert trainer.files.new()
    assert_shows_only(panel, [], a_run)
    assert panel.progress.text() == "Ready to train"
    assert panel.curves.runs == [] and panel.curves_stack.currentWidget() is panel.placeholder


def assert_shows_only(panel: TrainingPanel, runs: list[dict], other_run: str) -> None:
    """Every part of the dock shows `runs` and nothing of another project (whose run was `other_run`)."""
    items = panel.runs_list
    listed = [items.topLevelItem(i).data(0, ID_ROLE) for i in range(items.topLevelItemCount())]
    assert listed == [run["id"] for run in reversed(runs)]
    assert panel.progress.text() == ready_text(runs) and panel.progress.fraction() == 0
    assert panel.live is None and all(run.key != other_run for run in panel.curves.runs)
    gradients = panel.gradients
    assert not gradients.series and not gradients.through_time and not gradients.warnings
    assert gradients.plot.listDataItems() == [] and gradients.time_plot.listDataItems() == []
    assert gradients.plot.viewRange() == [list(EMPTY_X), list(EMPTY_Y)]  # not the last run's axes
    assert gradients.status.text() == EMPTY_NOTE
    tab = panel.tabs.indexOf(panel.gradients_stack)
    assert panel.tabs.tabToolTip(tab) == EMPTY_NOTE
    assert panel.log.toPlainText() == ""
    assert not panel.banner.isVisible() and not panel.end_now_button.isVisible()
