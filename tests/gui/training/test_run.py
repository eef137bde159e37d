"""Training a project from the window: live curves, the recorded run, and the run after reopening."""

from __future__ import annotations

from PySide6.QtCore import Qt

from studio.core.project import load_project
from studio.gui.training.panel import LIVE
from studio.train import events

from .conftest import open_project, run_to_end, screenshot


def curve_lengths(win) -> dict[str, int]:
    """Points in each curve of the run in focus, by what it shows."""
    curves = win.training.panel.curves
    run = curves.runs[0]
    names = ["batch", "smoothed", "loss", "val_loss", "metric", "val_metric", "lr"]
    return {name: len(curve.item.getData()[0]) for name, curve in zip(names, run.items, strict=True)}


def test_a_run_draws_every_epoch_and_is_recorded_without_an_undo_step(qtbot, trainer, digits_file, qapp):
    path = digits_file(epochs=3)
    open_project(trainer, path)
    trainer.resize(1440, 900)
    panel = trainer.training.panel
    first_epoch_drawn: list[int] = []  # the curves' redraw count when the first epoch ended
    seen: list[int] = []

    def during(batch):
        # Once the curves show the first epoch, with the next under way: what a user watching sees.
        if any(isinstance(event, events.EpochEnd) and event.epoch == 1 for event in batch):
            first_epoch_drawn.append(panel.plot_redraws)
        if first_epoch_drawn and panel.plot_redraws > first_epoch_drawn[0] and not seen:
            seen.append(curve_lengths(trainer)["loss"])
            screenshot(trainer, "training_during_light")

    trainer.training.controller.updates.connect(during)
    outcome = run_to_end(qtbot, trainer)
    assert outcome.status == "completed" and seen and seen[0] >= 1  # the shot shows an epoch's point

    batches = panel.begin_info["batches"]
    lengths = curve_lengths(trainer)
    # The process sends at most 30 batches a second, and always an epoch's last.
    assert 3 <= lengths.pop("batch") == lengths.pop("smoothed") <= 3 * batches
    assert lengths == {"loss": 3, "val_loss": 3, "metric": 3, "val_metric": 3, "lr": 3}
    assert panel.gradients.series and all(len(s) >= 2 for s in panel.gradients.series.values())
    log = panel.log.toPlainText().splitlines()
    epochs = [line.split(" - ")[0] for line in log if line.startswith("Epoch")]
    assert epochs == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert " - loss: " in log[1] and " - val_accuracy: " in log[2]

    doc = trainer.doc
    assert [r["id"] for r in doc.project.runs] == [outcome.record["id"]]
    assert not doc.modified and doc.undo_stack.count() == 0 and not doc.locked
    saved = load_project(path)
    assert saved.runs == doc.project.runs
    assert (path.parent / saved.runs[0]["weights"]).is_file()
    assert saved.runs[0]["settings"]["threads"] == 1  # the project's own choice wins over the GUI's
    assert panel.runs_list.selected_id() == outcome.record["id"]
    assert panel.live is None and all(run.key != LIVE for run in panel.curves.runs)
    assert "Training" not in trainer.windowTitle()
    screenshot(trainer, "training_after_light")


def test_reopened_runs_are_listed_and_two_ticked_runs_are_overlaid(qtbot, trainer, digits_file):
    path = digits_file(epochs=1)
    open_project(trainer, path)
    ids = [run_to_end(qtbot, trainer).record["id"] for _ in range(2)]
    open_project(trainer, path)
    panel = trainer.training.panel
    runs_list = panel.runs_list
    assert runs_list.topLevelItemCount() == 2
    assert runs_list.selected_id() == ids[-1]  # the newest, on top
    assert [run.key for run in panel.curves.runs] == [ids[-1]]
    assert len(panel.curves.runs[0].series.epochs["val_loss"]) == 1
    for i in range(2):
        runs_list.topLevelItem(i).setCheckState(0, Qt.CheckState.Checked)
    shown = panel.curves.runs
    assert sorted(run.key for run in shown) == sorted(ids)
    assert all(run.colour is not None for run in shown) and shown[0].colour != shown[1].colour


def test_the_recorded_run_keeps_the_live_curves_and_a_palette_change_redraws_them(qtbot, trainer, digits_file,
                                                                                   qapp):
    from studio.gui import theme

    open_project(trainer, digits_file(epochs=1))
    curves = trainer.training.panel.curves
    live_items: list[list[int]] = []
    trainer.training.started.connect(lambda: live_items.append([id(c.item) for c in curves.runs[0].items]))
    outcome = run_to_end(qtbot, trainer)
    (shown,) = curves.runs
    assert shown.key == outcome.record["id"] and [id(c.item) for c in shown.items] == live_items[0]

    def pen_colour() -> str:
        return curves.runs[0].items[-1].item.opts["pen"].color().name()

    light = pen_colour()
    theme.apply_theme(qapp, "dark")
    try:
        qtbot.waitUntil(lambda: pen_colour() != light)
    finally:
        theme.apply_theme(qapp, "light")
    qtbot.waitUntil(lambda: pen_colour() == light)
