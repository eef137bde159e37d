"""Training from the window: checks before a run, the read-only model while it trains, the run's end.

Run checks the model and that the project is saved (runs and weights live beside its file), trains a
copy of the project in the worker thread and locks the document: every edit is refused with a reason
until the run ends. The engine saves the run into the project file; the document then shows the new run
without an undo step and without becoming "modified". While it trains, the project file stays where it
is: New, Open, Open Recent and Save As wait (ProjectFiles refuses them with the reason).
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QLabel, QMessageBox

from studio.gui import theme
from studio.gui.param_form import commit_focused_edit
from studio.gui.training.controller import TrainingController
from studio.gui.training.controls import RunControls
from studio.gui.training.panel import TrainingPanel
from studio.gui.training.text import STATUS_TEXT
from studio.gui.training.worker import Outcome

LOCK_REASON = "training is running: stop it to edit the model"
ACTIVITY = {"loading": "Loading data", "running": "Training", "paused": "Training paused",
            "stopping": "Stopping"}
DOCK_SHARE = 0.42  # of the window's height, for the curves while a run trains
Answer = QMessageBox.StandardButton


class TrainingSession(QObject):
    """Everything training adds to a MainWindow: the Training dock, the Run menu and toolbar entries."""

    started = Signal()
    finished = Signal(object)  # the Outcome, once the document shows the run
    activity_changed = Signal()  # `activity` changed: the window title follows it

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window, self.doc = window, window.doc
        self.controller = TrainingController(self)
        self.panel = TrainingPanel()
        self.dock = window._dock("Training", "TrainingDock", self.panel,
                                 Qt.DockWidgetArea.BottomDockWidgetArea)
        window.tabifyDockWidget(window.bottom_dock, self.dock)
        window.bottom_dock.raise_()  # the summary stays in front until a run starts
        window.view_menu.addAction(self.dock.toggleViewAction())
        self.controls = RunControls(window, self.run, self.toggle_pause, self.stop)
        self.state_label = QLabel()
        self.state_label.setContentsMargins(8, 0, 8, 0)
        self.state_label.hide()
        window.statusBar().addPermanentWidget(self.state_label)
        self.controller.updates.connect(self.panel.apply)
        self.controller.loading.connect(self.panel.loading)
        self.controller.state_changed.connect(self._state_changed)
        self.controller.finished.connect(self._finished)
        self.doc.replaced.connect(self._project_shown)
        self.doc.changed.connect(self._follow_device_setting)
        self.doc.runs_changed.connect(self._runs_changed)
        app = QCoreApplication.instance()
        if app is not None:  # quitting without closing the window still joins the worker
            app.aboutToQuit.connect(self.controller.shutdown)
        self._project_shown()

    @property
    def running(self) -> bool:
        return self.controller.busy

    @property
    def activity(self) -> str:
        """What the window title says the studio is doing ("" when not training)."""
        return ACTIVITY.get(self.controller.state, "")

    # --- questions (replaced in tests) ----------------------------------------------------------------

    def ask_save_first(self) -> bool:
        name = self.window.files.display_name()
        answer = QMessageBox.question(
            self.window, "Save before training",
            f"Runs and trained weights are stored beside the project file, so {name} must be saved before "
            "it trains.\n\nSave it now?", Answer.Save | Answer.Cancel, Answer.Save)
        return answer == Answer.Save

    def ask_stop_and_close(self) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running",
                          "Stop the training and close? The run is recorded with the weights it has so far.",
                          parent=self.window)
        stop = box.addButton("Stop and Close", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(Answer.Cancel)
        box.setDefaultButton(stop)
        box.exec()
        return box.clickedButton() is stop

    # --- the actions ----------------------------------------------------------------------------------

    def run(self) -> bool:
        """Start training the open project; returns whether a run started."""
        if self.controller.busy:
            return False
        commit_focused_edit()
        problems = self.doc.analysis.problems
        if problems:
            self._show_problems(len(problems))
            return False
        if (self.doc.project.path is None or self.doc.modified) and not (self.ask_save_first()
                                                                          and self.window.save()):
            self.window.show_message("Training needs the project saved first", error=True)
            return False
        project = copy.deepcopy(self.doc.project)  # the worker's own: the document stays the GUI's
        self.doc.lock(LOCK_REASON)
        self.panel.begin_live(int(project.training.get("epochs", 1)))
        self.show_panel()
        self.controller.start(project, self.controls.device)
        self.started.emit()
        return True

    def show_panel(self) -> None:
        """Bring the Training dock forward, tall enough for its curves."""
        self.dock.show()
        self.dock.raise_()
        height = max(self.dock.height(), int(self.window.height() * DOCK_SHARE))
        self.window.resizeDocks([self.dock], [height], Qt.Orientation.Vertical)

    def toggle_pause(self) -> None:
        if self.controller.state == "paused":
            self.controller.resume()
        else:
            self.controller.pause()

    def stop(self) -> None:
        self.controller.stop()

    def confirm_close(self) -> bool:
        """Whether the window may close: asks while a run trains, then stops it and waits for it."""
        if not self.controller.busy:
            return True
        if not self.ask_stop_and_close():
            return False
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.controller.shutdown()  # the trainer stops within a batch; the run is recorded
        finally:
            QGuiApplication.restoreOverrideCursor()
        return True

    def set_devices(self, choices: list[tuple[str, str]]) -> None:
        self.controls.set_devices(choices)

    # --- following the run and the document ---------------------------------------------------------

    def _show_problems(self, count: int) -> None:
        window = self.window
        window.bottom_dock.show()
        window.bottom_dock.raise_()
        window.bottom_tabs.setCurrentWidget(window.problems)
        window.show_message(f"Cannot train: the model has {count} problem{'s' if count > 1 else ''} "
                            "(see Problems)", error=True)

    def _state_changed(self, state: str) -> None:
        idle = state == "idle"
        self.controls.set_state(state)
        self.panel.set_state(state)
        for action in (self.window.new_action, self.window.open_action, self.window.save_as_action):
            action.setEnabled(idle)
        self.window.recent_menu.setEnabled(idle and not self.window.recent_menu.isEmpty())
        self.state_label.setVisible(not idle)
        self.state_label.setText(f"● {self.activity}" if not idle else "")
        self.state_label.setStyleSheet(f"color: {theme.palette().color(QPalette.ColorRole.Highlight).name()};"
                                       " font-weight: bold;")
        self.activity_changed.emit()

    def _finished(self, outcome: Outcome) -> None:
        self.doc.unlock()
        self.panel.finish(outcome)
        if outcome.record is not None:
            self.doc.set_runs(_merged_runs(self.doc.project.runs, outcome.runs), saved=outcome.saved)
        status = outcome.status
        failed = status == "failed" or bool(outcome.error)
        message = outcome.error or (outcome.record or {}).get("message", "")
        text = f"Training {STATUS_TEXT.get(status, status).lower()}" + (f": {message}" if message else "")
        self.window.show_message(text, error=failed)
        self.finished.emit(outcome)

    def _project_shown(self) -> None:
        self.panel.set_runs(self.doc.project.runs)
        self._follow_device_setting()

    def _runs_changed(self) -> None:
        runs = self.doc.project.runs
        self.panel.set_runs(runs, select=str(runs[-1].get("id")) if runs else None)

    def _follow_device_setting(self) -> None:
        self.controls.follow_setting(str(self.doc.project.training.get("device", "auto")))


def _merged_runs(known: list[dict[str, Any]], recorded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs the engine recorded, after any the window knows that the record lacks (a save during the
    run merged them in from the file), so finishing a run never drops one the window showed."""
    ids = {run.get("id") for run in recorded}
    return [run for run in known if run.get("id") not in ids] + recorded
