"""While a run trains, the project file stays where it is, and no run recorded meanwhile is lost."""

from __future__ import annotations

import pytest

from studio.core.project import load_project, save_project
from studio.gui import commands

from .conftest import RUN_TIMEOUT_MS, open_project, wait_for_batches


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_save_as_waits_for_the_run_and_every_run_is_kept(qtbot, trainer, digits_file, answers, tmp_path):
    path = digits_file(epochs=50)
    open_project(trainer, path)
    assert trainer.training.run()
    wait_for_batches(qtbot, trainer)
    assert not trainer.save_as_action.isEnabled() and not trainer.recent_menu.isEnabled()
    answers.save_path = str(tmp_path / "moved.studio")
    assert not trainer.save_as()  # the shortcut's and the menu's own path, called directly
    assert "save" not in answers.asked and "is training" in answers.errors[-1]
    assert not trainer.files.open(str(path))
    assert trainer.doc.project.path == path

    # Meanwhile a run is recorded from a terminal into the same file.
    elsewhere = load_project(path)
    elsewhere.runs.append({"id": "terminal-run", "status": "completed", "weights": None})
    save_project(elsewhere)

    with qtbot.waitSignal(trainer.training.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        trainer.training.stop()
    ours = blocker.args[0].record["id"]
    doc = trainer.doc
    assert [r["id"] for r in doc.project.runs] == ["terminal-run", ours] and not doc.modified
    assert [r["id"] for r in load_project(path).runs] == ["terminal-run", ours]
    assert trainer.save_as_action.isEnabled() and trainer.recent_menu.isEnabled()

    commands.rename(doc, "n6", "hidden")  # an edit, saved later under a new name: the runs come along
    assert trainer.save_as()
    moved = load_project(tmp_path / "moved.studio")
    assert [r["id"] for r in moved.runs] == ["terminal-run", ours] and moved.graph.node("n6").name == "hidden"
    weights = moved.runs[1]["weights"]
    assert weights == f"moved.{ours}.safetensors" and (tmp_path / weights).is_file()
    assert not doc.modified and doc.project.path == tmp_path / "moved.studio"
