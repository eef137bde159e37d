"""While a run trains, the model is read-only: every edit is refused with the reason, none is lost."""

from __future__ import annotations

from PySide6.QtCore import QPointF

from studio.gui import commands
from studio.gui.training.session import LOCK_REASON

from .conftest import RUN_TIMEOUT_MS, open_project, wait_for_batches


def test_edits_are_refused_while_training_and_allowed_after(qtbot, trainer, digits_file):
    open_project(trainer, digits_file(epochs=50))
    doc = trainer.doc
    # Something to undo, something to redo, something for auto layout to do.
    commands.move(doc, {"n2": (200.0, 160.0)})
    commands.rename(doc, "n6", "hidden")
    doc.undo()
    assert trainer.save()
    assert trainer.training.run()
    wait_for_batches(qtbot, trainer)
    before = doc.project.to_dict()
    refusals: list[str] = []
    doc.refused.connect(refusals.append)

    assert trainer.scene.drop_layer("Dense", QPointF(0, 300)) is None
    trainer.scene.select_nodes(["n7"])
    trainer.delete()
    commands.set_params(doc, "n6", {"units": 64})
    trainer.auto_layout()
    trainer.duplicate()
    trainer.undo_action.trigger()
    trainer.redo_action.trigger()
    commands.set_field(doc, "training", {**doc.project.training, "epochs": 3}, "Set epochs")
    trainer.scene.node_items["n2"].setPos(500, 500)  # a drag on the canvas...
    trainer.scene.commit_moves()  # ...ends in a refused move, and the layer goes back
    doc.replace(doc.project.__class__())  # opening another project

    assert refusals == [LOCK_REASON] * 10
    assert doc.project.to_dict() == before and not doc.modified
    assert (doc.undo_stack.count(), doc.undo_stack.index()) == (2, 1)
    assert tuple(trainer.scene.node_items["n2"].pos().toTuple()) == doc.graph.node("n2").pos
    assert trainer.statusBar().currentMessage() == LOCK_REASON
    assert "Training" in trainer.windowTitle() and trainer.training.status_widget.isVisible()
    assert not trainer.training.device_picker.isEnabled()
    assert not trainer.open_action.isEnabled() and not trainer.new_action.isEnabled()

    with qtbot.waitSignal(trainer.training.finished, timeout=RUN_TIMEOUT_MS):
        trainer.training.stop()
    trainer.redo_action.trigger()
    assert doc.graph.node("n6").name == "hidden"
    assert commands.set_params(doc, "n6", {"units": 64})
    trainer.undo_action.trigger()
    assert doc.graph.node("n6").params["units"] == 128
    assert trainer.open_action.isEnabled() and trainer.training.device_picker.isEnabled()
