"""Opening, saving, unsaved-change questions, recent files, the recovery file, the title, and what waits
while a run trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from studio.core.project import Project, load_project, save_project
from studio.gui import commands
from studio.gui.files import TRAINING_TITLE, example_paths, recovery_dir
from studio.gui.main_window import MainWindow
from studio.gui.new_dialog import NewProjectDialog
from studio.gui.training.session import LOCK_REASON

from .helpers import PROJECTS, cats_vs_dogs_core

ROOT = Path(__file__).resolve().parents[2]


def saved_project(folder: Path, name: str = "pets") -> Path:
    return save_project(Project(graph=cats_vs_dogs_core(), name=name), folder / f"{name}.studio")


def modify(win: MainWindow) -> None:
    commands.add_layer(win.doc, "Dense", (0.0, 300.0))
    assert win.isWindowModified()


def test_title_shows_the_file_and_whether_it_changed(window, tmp_path):
    assert window.files.load(saved_project(tmp_path))
    assert window.windowTitle() == "pets.studio[*] — Model Studio"
    assert not window.isWindowModified()
    modify(window)
    window.doc.undo_stack.undo()
    assert not window.isWindowModified()


def test_a_bad_file_keeps_the_current_project(window, answers, tmp_path):
    window.files.load(saved_project(tmp_path))
    before = window.doc.project.to_dict()
    broken = tmp_path / "broken.studio"
    broken.write_text("{ not json")
    assert not window.files.open(str(broken))
    newer = tmp_path / "newer.studio"
    data = json.loads((tmp_path / "pets.studio").read_text())
    data["format_version"] = 99
    newer.write_text(json.dumps(data))
    assert not window.files.open(str(newer))
    assert window.doc.project.to_dict() == before
    assert "not valid JSON" in answers.errors[0] and "broken.studio" in answers.errors[0]
    assert "format_version" in answers.errors[1] and "newer Model Studio" in answers.errors[1]


def test_closing_with_unsaved_changes_asks_first(window, answers, tmp_path):
    modify(window)
    answers.unsaved = QMessageBox.StandardButton.Cancel
    assert not window.close()
    assert window.isVisible() and answers.asked == ["unsaved"]
    answers.unsaved = QMessageBox.StandardButton.Save
    answers.save_path = str(tmp_path / "kept.studio")
    assert window.close()
    assert load_project(tmp_path / "kept.studio").to_dict() == window.doc.project.to_dict()


def test_discarding_closes_without_saving(window, answers, tmp_path):
    modify(window)
    answers.unsaved = QMessageBox.StandardButton.Discard
    assert window.close()
    assert not window.isVisible()
    assert not any(tmp_path.glob("*.studio"))


def test_opening_another_file_with_unsaved_changes_asks_too(window, answers, tmp_path):
    modify(window)
    answers.unsaved = QMessageBox.StandardButton.Cancel
    assert not window.files.open(str(saved_project(tmp_path)))
    assert len(window.doc.graph.nodes) == 1
    answers.unsaved = QMessageBox.StandardButton.Discard
    answers.open_path = str(tmp_path / "pets.studio")
    window.open_action.trigger()
    assert window.doc.project.name == "pets"


def test_new_project_from_the_gallery(window, answers):
    modify(window)
    answers.new_project = Project(name="fresh")
    window.new_action.trigger()
    assert window.doc.project.name == "fresh" and not window.doc.graph.nodes
    assert not window.doc.undo_stack.count() and not window.isWindowModified()


def test_gallery_offers_empty_and_the_examples(qtbot):
    examples = example_paths()
    dialog = NewProjectDialog(None, examples)
    qtbot.addWidget(dialog)
    assert dialog.gallery.count() == 1 + len(examples)
    dialog.gallery.setCurrentRow(0)
    assert not dialog.selected_project().graph.nodes
    if examples:
        assert examples[0].stem == "digits_cnn"
        dialog.gallery.setCurrentRow(1)
        chosen = dialog.selected_project()
        assert chosen.path is None and chosen.graph.nodes  # a copy: saving never overwrites the example
        assert not dialog.gallery.item(1).icon().isNull()


def test_recent_files_are_remembered(window, tmp_path):
    first, second = saved_project(tmp_path, "first"), saved_project(tmp_path, "second")
    window.files.load(first)
    window.files.load(second)
    assert window.files.recent_files() == [str(second), str(first)]
    titles = [a.text() for a in window.recent_menu.actions()]
    assert titles[:2] == ["&1  second.studio", "&2  first.studio"]
    window.recent_menu.actions()[1].trigger()
    assert window.doc.project.name == "first"


def test_a_project_file_dropped_on_the_window_opens(window, tmp_path, qtbot):
    path = saved_project(tmp_path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.doc.project.name == "pets")


def test_start_opens_the_file_or_the_default_example(qtbot, tmp_path):
    win = MainWindow(probe_device=False)
    qtbot.addWidget(win)
    win.start(str(saved_project(tmp_path)))
    assert win.doc.project.path == tmp_path / "pets.studio"
    win.start(None)
    if (PROJECTS / "digits_cnn.studio").is_file():
        assert win.doc.project.name == "digits_cnn" and win.doc.project.path is None


def test_window_layout_is_remembered(window):
    window.bottom_dock.hide()
    assert window.close()
    again = MainWindow(probe_device=False)
    assert again.bottom_dock.isHidden()
    again.doc.undo_stack.setClean()
    again.close()


def test_run_shows_the_window_without_importing_torch(tmp_path):
    """The real start-up path, in a fresh process: the window is up before torch is imported."""
    code = ("import sys; from studio.gui.app import run; code = run(sys.argv[1]); "
            "print('torch' in sys.modules); sys.exit(code)")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MODEL_STUDIO_EXIT_WHEN_SHOWN": "1",
           "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code, str(saved_project(tmp_path))], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[0] == "shown" and float(lines[1]) < 5 and lines[2] == "False"


def test_the_recovery_file_is_the_windows_own(window):
    modify(window)
    assert window.files.autosave()
    own = window.files.recovery.path
    assert own.parent == recovery_dir() == Path(QSettings().fileName()).parent / "recovery"
    assert own.is_file() and own.with_suffix(".json").is_file()
    assert not QSettings().contains("recovery/source")  # nothing shared between windows


def test_while_a_run_trains_the_project_stays_where_it_is(window, answers, tmp_path, qtbot):
    path, other = saved_project(tmp_path), saved_project(tmp_path, "other")
    window.files.load(other)
    window.files.load(path)
    recent = window.files.recent_files()
    window.doc.lock(LOCK_REASON)  # what Run does while it trains
    answers.save_path = str(tmp_path / "elsewhere.studio")
    answers.open_path = str(other)
    answers.new_project = Project(name="fresh")

    assert not window.files.save_as()
    assert not window.files.new() and not window.files.open() and not window.files.open(str(other))
    window.recent_menu.actions()[1].trigger()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: len(answers.errors) == 6)
    assert not window.files.load(other)  # the document itself refuses another project
    assert answers.asked == []  # no file was asked for: the reason was given instead
    assert all("pets.studio is training" in e and "Stop the training or let it finish" in e
               for e in answers.errors)
    assert "then save it under a new name" in answers.errors[0]
    assert window.doc.project.path == path and window.files.recent_files() == recent
    assert not (tmp_path / "elsewhere.studio").exists() and window.windowTitle().startswith("pets.studio")
    assert window.files.save()  # saving in place is fine: the file stays where the run records

    window.doc.unlock()
    assert window.files.save_as() and window.doc.project.path == tmp_path / "elsewhere.studio"
    assert TRAINING_TITLE == "Training is running"


def project_with_runs(folder: Path) -> Path:
    project = Project(graph=cats_vs_dogs_core(), name="pets", runs=[
        {"id": "r1", "status": "completed", "weights": "pets.r1.safetensors"},
        {"id": "r3", "status": "failed", "weights": None}])
    (folder / "pets.r1.safetensors").write_bytes(b"trained weights")
    return save_project(project, folder / "pets.studio")


def test_save_as_takes_the_trained_weights_along(window, answers, tmp_path):
    window.files.load(project_with_runs(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    answers.save_path = str(elsewhere / "copy.studio")
    assert window.save_as()
    saved = load_project(elsewhere / "copy.studio")
    assert [r["weights"] for r in saved.runs] == ["copy.r1.safetensors", None]
    assert (elsewhere / "copy.r1.safetensors").read_bytes() == b"trained weights"
    assert sorted(p.name for p in elsewhere.glob("[!.]*")) == ["copy.r1.safetensors", "copy.studio"]
    assert window.doc.project.runs == saved.runs and not window.doc.modified
    assert load_project(tmp_path / "pets.studio").runs[0]["weights"] == "pets.r1.safetensors"  # untouched


def test_a_recorded_run_keeps_unsaved_edits_unsaved(window, tmp_path):
    path = saved_project(tmp_path)
    window.files.load(path)
    modify(window)
    run = {"id": "r1", "status": "completed", "weights": None}
    window.doc.set_runs([run], saved=True)
    assert window.doc.modified and window.isWindowModified() and window.doc.project.runs == [run]
    assert window.files.save()
    saved = load_project(path)
    assert saved.runs == [run] and saved.to_dict() == window.doc.project.to_dict()


def test_an_untitled_project_is_named_after_the_file_it_is_first_saved_as(window, answers, tmp_path):
    answers.new_project = Project()
    window.files.new()
    assert window.doc.project.name == "untitled"
    answers.save_path = str(tmp_path / "my net.studio")
    assert window.save_as()
    assert load_project(tmp_path / "my net.studio").name == "my net" == window.doc.project.name
    answers.save_path = str(tmp_path / "copy.studio")
    assert window.save_as()  # a named project keeps its name under another file name
    assert load_project(tmp_path / "copy.studio").name == "my net"
