"""Training plugs into the window: it offers its parts and says what it needs; the window places them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow

from studio.core.project import Project, load_project
from studio.gui.document import Document
from studio.gui.training.session import DOCK_SHARE, TrainingSession

from ..helpers import PROJECTS

GUI = Path(__file__).resolve().parents[3] / "studio" / "gui"
FEATURES = ("training", "analysis", "canvas")


def test_the_window_places_the_training_parts(qtbot, window):
    training = window.training
    run, pause, stop = training.actions
    assert [a.text() for a in training.actions] == ["&Run", "&Pause", "&Stop"]
    assert run.toolTip() == "Train the model on its dataset (F5)" and pause.isCheckable()
    assert stop.shortcut().toString() == "Shift+F5" and not stop.isEnabled()
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    assert list(menus) == ["&File", "&Edit", "&View", "&Run"]
    assert menus["&Run"].actions() == training.actions
    assert all(a in window.toolbar.actions() for a in training.actions)
    assert window.toolbar.widgetForAction(window.toolbar.actions()[-1]) is training.device_picker
    assert training.dock.toggleViewAction() in menus["&View"].actions()
    assert training.dock.objectName() == "TrainingDock" and training.dock.widget() is training.panel
    assert window.dockWidgetArea(training.dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert training.dock in window.tabifiedDockWidgets(window.bottom_dock)
    assert training.dock.visibleRegion().isEmpty()  # the summary is in front until a run starts
    assert training.status_widget.parent() is window.statusBar() and training.status_widget.isHidden()

    before = training.dock.height()
    training.show_panel()  # as Run does: the window brings the dock forward, tall enough for the curves
    assert not training.dock.visibleRegion().isEmpty()
    # About DOCK_SHARE of the window's height: its title bar and the splitter take a little of it.
    tall = int(window.height() * DOCK_SHARE * 0.85)
    assert before < tall
    qtbot.waitUntil(lambda: training.dock.height() >= tall, timeout=2000)


def test_the_session_needs_only_the_document_and_two_callables(qtbot, training_answers):
    host = QMainWindow()  # any widget may own it: nothing of a window is read
    qtbot.addWidget(host)
    doc = Document(Project(), parent=host)
    saves: list[str] = []

    def save() -> bool:
        saves.append("save")
        return False  # as if the user cancelled the save dialog

    session = TrainingSession(doc, save=save, display_name=lambda: "untitled", parent=host)
    messages: list[tuple[str, bool]] = []
    wanted: list[str] = []
    session.message.connect(lambda text, error: messages.append((text, error)))
    session.problems_wanted.connect(lambda: wanted.append("problems"))

    assert not session.run()  # an empty model has problems: the window is asked to show them
    assert wanted == ["problems"]
    assert messages == [("Cannot train: the model has 1 problem (see Problems)", True)]
    assert saves == [] and training_answers.asked == []

    project = load_project(PROJECTS / "digits_cnn.studio")
    project.path = None  # valid, but nowhere to put its runs yet
    assert doc.replace(project)
    assert not session.run()
    assert training_answers.asked == ["save_first"] and saves == ["save"]
    assert messages[-1] == ("Training needs the project saved first", True) and wanted == ["problems"]
    assert not session.running and not doc.locked


def test_no_feature_imports_the_window_or_reaches_into_it():
    offenders = []
    for folder in FEATURES:
        for path in sorted((GUI / folder).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            for node in ast.walk(ast.parse(source)):
                names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                offenders += [f"{path.name} imports {name}" for name in names if "main_window" in name]
            offenders += [f"{path.name}: {m.group()}" for m in re.finditer(r"\bwindow\._\w+", source)]
    assert offenders == []
