"""Fixtures for the window tests: private settings, answered questions, a fresh window."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from studio.gui.app import application
from studio.gui.files import ProjectFiles
from studio.gui.main_window import MainWindow


@pytest.fixture(scope="session")
def qapp():
    """The studio's own application object (name, organisation, theme), shared by the session."""
    return application()


@pytest.fixture(autouse=True)
def private_settings(tmp_path: Path, qapp):
    """Settings, recent files and the recovery file go to a temporary folder, never the user's."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield tmp_path / "settings"


class Answers:
    """What the user would say to each question; tests change these and read what was asked."""

    def __init__(self) -> None:
        self.unsaved = QMessageBox.StandardButton.Discard
        self.restore = True
        self.open_path: str | None = None
        self.save_path: str | None = None
        self.new_project = None
        self.errors: list[str] = []
        self.asked: list[str] = []


@pytest.fixture(autouse=True)
def answers(monkeypatch) -> Answers:
    """No modal dialog ever blocks a test: every question is answered from `Answers`."""
    given = Answers()

    def ask(kind: str, value):
        def method(self, *args):
            given.asked.append(kind)
            return getattr(given, value)
        return method

    monkeypatch.setattr(ProjectFiles, "ask_unsaved_changes", ask("unsaved", "unsaved"))
    monkeypatch.setattr(ProjectFiles, "ask_restore", ask("restore", "restore"))
    monkeypatch.setattr(ProjectFiles, "ask_open_path", ask("open", "open_path"))
    monkeypatch.setattr(ProjectFiles, "ask_save_path", ask("save", "save_path"))
    monkeypatch.setattr(ProjectFiles, "ask_new_project", ask("new", "new_project"))
    monkeypatch.setattr(ProjectFiles, "show_error", lambda self, title, text: given.errors.append(text))
    return given


@pytest.fixture
def window(qtbot) -> MainWindow:
    """An empty studio window, shown off screen."""
    win = MainWindow(probe_device=False)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    return win
