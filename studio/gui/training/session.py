"""Training as a feature of the window: checks before a run, the read-only model while it trains, the
run's end.

Run checks the model and that the project is saved (runs and weights live beside its file), trains a
copy of the project in the worker thread and locks the document: every edit is refused with a reason
until the run ends. The engine saves the run into the project file; the document then shows the new run
without an undo step and without becoming "modified". While it trains, the project file stays where it
is: New, Open, Open Recent and Save As wait (ProjectFiles refuses them with the reason, and the window
disables them on `busy_changed`).

The session offers its parts (the actions, the device picker, the Training dock, the status widget) and
says through signals what the window should show; the window decides where each part goes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QPalette
from PySide6.QtWidgets import QComboBox, QDockWidget, QLabel, QMessageBox, QWidget

from studio.gui import theme
from studio.gui.document import Document
from studio.gui.param_form import commit_focused_edit
from studio.gui.training.controller import TrainingController
from studio.gui.training.controls import RunControls
from studio.gui.training.panel import TrainingPanel
from studio.gui.training.text import STATUS_TEXT
from studio.gui.training.worker import Outcome

LOCK_REASON = "training is running: stop it to edit the model"
ACTIVITY = {"loading": "Loading data", "running": "Training", "paused": "Training paused",
            "stopping": "Stopping"}
WARM_DELAY_MS = 3000  # after the window is shown: its own start and the device check come first
DOCK_SHARE = 0.42  # of the window's height, for the curves while a run trains
Answer = QMessageBox.StandardButton


class TrainingSession(QObject):
    """Training's parts for a window: `actions` (Run, Pause, Stop), `device_picker`, `dock` (the Training
    dock) and `status_widget`; what it needs from the window comes in as plain arguments.

    `save` saves the project and returns whether it did (called when Run finds it unsaved: Run needs the
    answer at once, so it is a callable and not a signal); `display_name` names the project in questions;
    `parent` owns the session and parents its question boxes.
    """

    started = Signal()
    finished = Signal(object)  # the Outcome, once the document shows the run
    busy_changed = Signal(bool)  # a run began (True) or ended: file actions that move the project wait
    activity_changed = Signal()  # `activity` changed: the window title follows it
    message = Signal(str, bool)  # a transient status text, and whether it reports a failure
    problems_wanted = Signal()  # Run refused a model with problems: show the list of them
    panel_wanted = Signal(float)  # bring `dock` forward, at least this share of the window's height

    def __init__(self, doc: Document, *, save: Callable[[], bool], display_name: Callable[[], str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self._save, self._display_name, self._dialog_parent = save, display_name, parent
        self._busy = False
        self.controller = TrainingController(self)
        self.panel = TrainingPanel()
        self.dock = QDockWidget("Training", parent)
        self.dock.setObjectName("TrainingDock")  # saved window states name the dock by it
        self.dock.setWidget(self.panel)
        self.controls = RunControls(self.run, self.toggle_pause, self.stop, self)
        self.status_widget = QLabel()
        self.status_widget.setContentsMargins(8, 0, 8, 0)
        self.status_widget.hide()
        self.controller.updates.connect(self.panel.apply)
        self.controller.loading.connect(self.panel.loading)
        self.controller.state_changed.connect(self._state_changed)
        self.controller.finished.connect(self._finished)
        self.controller.stop_overdue.connect(self.panel.offer_end_now)  # a stuck stop: offer End Now
        self.panel.end_now_button.clicked.connect(lambda _checked=False: self.controller.end_now())
        self.doc.replaced.connect(self._project_shown)
        self.doc.changed.connect(self._follow_device_setting)
        self.doc.runs_changed.connect(self._runs_changed)
        app = QCoreApplication.instance()
        if app is not None:  # quitting without closing the window still joins the worker
            app.aboutToQuit.connect(self.controller.shutdown)
        self._project_shown()

    @property
    def actions(self) -> list[QAction]:
        """Run, Pause/Resume and Stop, for a Run menu and the toolbar."""
        return self.controls.actions

    @property
    def device_picker(self) -> QComboBox:
        """Where runs started here train; it belongs beside the actions on the toolbar."""
        return self.controls.device_picker

    @property
    def running(self) -> bool:
        return self.controller.busy

    @property
    def activity(self) -> str:
        """What the window title says the studio is doing ("" when not training)."""
        return ACTIVITY.get(self.controller.state, "")

    # --- questions (replaced in tests) ----------------------------------------------------------------

    def ask_save_first(self) -> bool:
        name = self._display_name()
        answer = QMessageBox.question(
            self._dialog_parent, "Save before training",
            f"Runs and trained weights are stored beside the project file, so {name} must be saved before "
            "it trains.\n\nSave it now?", Answer.Save | Answer.Cancel, Answer.Save)
        return answer == Answer.Save

    def ask_stop_and_close(self) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running",
                          "Stop the training and close? The run is recorded with the weights it has so far.",
                          parent=self._dialog_parent)
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
                                                                          and self._save()):
            self.message.emit("Training needs the project saved first", True)
            return False
        project = copy.deepcopy(self.doc.project)  # the worker's own: the document stays the GUI's
        self.doc.lock(LOCK_REASON)
        self.panel.begin_live(int(project.training.get("epochs", 1)))
        self.show_panel()
        self.controller.start(project, self.controls.device)
        self.started.emit()
        return True

    def show_panel(self) -> None:
        """Ask for the Training dock in front, tall enough for its curves (the window sizes its docks)."""
        self.panel_wanted.emit(DOCK_SHARE)

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

    def keep_warm(self, delay_ms: int = WARM_DELAY_MS) -> None:
        """From now on keep a training process ready (torch imported), so Run starts at once; the first
        is started `delay_ms` after this call, once the window has settled."""
        self.controller.keep_warm = True
        QTimer.singleShot(delay_ms, self.controller.prewarm)

    def shutdown(self) -> None:
        """The window is closing: let the warm process go (a run was stopped by confirm_close)."""
        self.controller.shutdown()

    # --- following the run and the document ---------------------------------------------------------

    def _show_problems(self, count: int) -> None:
        self.problems_wanted.emit()
        self.message.emit(f"Cannot train: the model has {count} problem{'s' if count > 1 else ''} "
                          "(see Problems)", True)

    def _state_changed(self, state: str) -> None:
        idle = state == "idle"
        self.controls.set_state(state)
        self.panel.set_state(state)
        label = self.status_widget
        label.setVisible(not idle)
        label.setText(f"● {self.activity}" if not idle else "")
        label.setStyleSheet(f"color: {theme.palette().color(QPalette.ColorRole.Highlight).name()};"
                            " font-weight: bold;")
        if self._busy == idle:
            self._busy = not idle
            self.busy_changed.emit(self._busy)
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
        self.message.emit(text, failed)
        self.finished.emit(outcome)

    def _project_shown(self) -> None:
        """Another project is open: the dock shows its runs and nothing of the last one."""
        self.panel.show_project(self.doc.project.runs)
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
