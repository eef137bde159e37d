"""New, open, save, recent files, unsaved-change questions and the window's recovery file.

Every question to the user is one small method (`ask_*`, `show_error`), so tests can answer it.
While a run trains, the project stays where it is: the run is recorded into its file when it ends, so
neither another project nor Save As may take its place until then.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from studio.core.errors import StudioError
from studio.core.project import SUFFIX, Project, load_project, save_project
from studio.core.safe_io import reason
from studio.gui import recovery
from studio.gui.document import Document
from studio.paths import data_dir

EXAMPLES_DIR = data_dir("projects")
DEFAULT_EXAMPLE = "digits_cnn"
MAX_RECENT = 10
AUTOSAVE_MS = 60_000
FILE_FILTER = f"Model Studio projects (*{SUFFIX});;All files (*)"
TRAINING_TITLE = "Training is running"
Answer = QMessageBox.StandardButton


def example_paths() -> list[Path]:
    """The example projects shipped in projects/, the default one first."""
    if not EXAMPLES_DIR.is_dir():
        return []
    paths = sorted(EXAMPLES_DIR.glob(f"*{SUFFIX}"))
    return sorted(paths, key=lambda p: p.stem != DEFAULT_EXAMPLE)


def load_template(path: Path) -> Project:
    """An example as a new, untitled project, so saving never overwrites the example."""
    project = load_project(path)
    project.path = None
    return project


def recovery_dir() -> Path:
    """Beside the settings file, so each settings location (and each test) has its own."""
    return Path(QSettings().fileName()).parent / "recovery"


class ProjectFiles(QObject):
    path_changed = Signal()
    recent_changed = Signal()

    def __init__(self, doc: Document, window: QWidget) -> None:
        super().__init__(window)
        self.doc, self.window = doc, window
        self.recovery = recovery.RecoveryFile(recovery_dir())  # this window's own, never another's
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

    # --- questions (replaced in tests) ------------------------------------------------------------------

    def ask_unsaved_changes(self) -> Answer:
        return QMessageBox.question(
            self.window, "Unsaved changes", f"Save the changes to {self.display_name()} first?",
            Answer.Save | Answer.Discard | Answer.Cancel, Answer.Save)

    def ask_restore(self, saved_at: str, name: str, others: int) -> bool:
        later = (f"\n\n{others} more unsaved project{'s are' if others > 1 else ' is'} kept and offered "
                 "at the next start.") if others else ""
        answer = QMessageBox.question(
            self.window, "Restore unsaved work?",
            f"Model Studio closed with unsaved changes to {name} (last saved for recovery {saved_at}). "
            f"Restore them?\n\nNo deletes them.{later}", Answer.Yes | Answer.No, Answer.Yes)
        return answer == Answer.Yes

    def ask_open_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open project", self._folder(), FILE_FILTER)
        return path or None

    def ask_save_path(self) -> str | None:
        suggested = str(Path(self._folder()) / f"{self.doc.project.name}{SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project as", suggested, FILE_FILTER)
        if path and not path.endswith(SUFFIX):
            path += SUFFIX
        return path or None

    def ask_new_project(self) -> Project | None:
        from studio.gui.new_dialog import NewProjectDialog

        return NewProjectDialog.choose(self.window, example_paths())

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self.window, title, text)

    # --- names ------------------------------------------------------------------------------------------

    def display_name(self) -> str:
        path = self.doc.project.path
        return path.name if path else f"{self.doc.project.name}{SUFFIX}"

    def _folder(self) -> str:
        path = self.doc.project.path
        if path is not None:
            return str(path.parent)
        recent = self.recent_files()
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    # --- actions ----------------------------------------------------------------------------------------

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current project (saved, or the user said so); never while
        it trains, since the run is recorded into this project's file when it ends."""
        if self._training("open another project"):
            return False
        if not self.doc.modified:
            return True
        answer = self.ask_unsaved_changes()
        if answer == Answer.Save:
            return self.save()
        return answer == Answer.Discard

    def new(self) -> bool:
        if not self.maybe_save():
            return False
        project = self.ask_new_project()
        if project is None:
            return False
        return self._show(project)

    def open(self, path: str | None = None) -> bool:
        if not self.maybe_save():
            return False
        path = path or self.ask_open_path()
        return bool(path) and self.load(path)

    def load(self, path: str | Path) -> bool:
        """Show the project in `path`; a file that cannot be read leaves the current one untouched."""
        try:
            project = load_project(path)
        except StudioError as exc:
            self.show_error("Cannot open project", str(exc))
            return False
        if not self._show(project):
            return False
        self._add_recent(Path(path))
        return True

    def show_template(self, path: Path | None) -> None:
        """Start from an example (or an empty project when there is none)."""
        project = Project()
        if path is not None:
            try:
                project = load_template(path)
            except StudioError as exc:
                self.show_error("Cannot open example", str(exc))
        self._show(project)

    def save(self) -> bool:
        if self.doc.project.path is None:
            return self.save_as()
        return self._write(self.doc.project.path)

    def save_as(self) -> bool:
        # The run being trained is recorded into the current file, its weights beside it: refused
        # rather than leaving the run behind in the old place.
        if self._training("save it under a new name"):
            return False
        path = self.ask_save_path()
        return bool(path) and self._write(Path(path))

    def _write(self, path: Path) -> bool:
        """Save to `path`. Only a write that reached the disk marks the document saved."""
        # Saved through a copy, so the document changes only once the file is written. save_project
        # merges in the runs others recorded in the file meanwhile (a `model-studio train` in a terminal),
        # and under a new name copies the trained weights beside the new file: the copy's runs say so.
        project = dataclasses.replace(self.doc.project, runs=copy.deepcopy(self.doc.project.runs),
                                      name=_saved_name(self.doc.project, path))
        try:
            save_project(project, path)
        except StudioError as exc:  # the message names the file and the reason
            self.show_error("Cannot save project", str(exc))
            return False
        except OSError as exc:
            self.show_error("Cannot save project", f"cannot write '{path}': {reason(exc)}")
            return False
        self.doc.project.path, self.doc.project.name = project.path, project.name
        if project.runs != self.doc.project.runs:
            self.doc.set_runs(project.runs)
        self.doc.undo_stack.setClean()
        self.discard_recovery()
        self._add_recent(path)
        self.path_changed.emit()
        return True

    def _training(self, doing: str) -> bool:
        """Whether a run trains the project now; if so, says that `doing` must wait for it."""
        if not self.doc.locked:
            return False
        self.show_error(TRAINING_TITLE, f"{self.display_name()} is training: the run is recorded into it "
                        f"when it ends. Stop the training or let it finish, then {doing}.")
        return True

    def _show(self, project: Project, *, modified: bool = False) -> bool:
        """Show `project` in place of the current one; False when the document refused (a run trains)."""
        if not self.doc.replace(project, modified=modified):
            return False
        self.discard_recovery()  # the work it held was saved or given up before this was asked
        self.path_changed.emit()
        return True

    # --- recent files -----------------------------------------------------------------------------------

    def recent_files(self) -> list[str]:
        value = QSettings().value("recent_files", [])
        if isinstance(value, str):  # QSettings gives a lone string for a one-item list
            value = [value]
        return [str(v) for v in value or []]

    def _add_recent(self, path: Path) -> None:
        text = str(path.resolve())
        files = [text] + [f for f in self.recent_files() if f != text]
        QSettings().setValue("recent_files", files[:MAX_RECENT])
        self.recent_changed.emit()

    def clear_recent(self) -> None:
        QSettings().setValue("recent_files", [])
        self.recent_changed.emit()

    # --- recovery ---------------------------------------------------------------------------------------

    def autosave(self) -> bool:
        """Write the unsaved project to this window's recovery file (removed once nothing is unsaved)."""
        if not self.doc.modified:
            self.discard_recovery()
            return False
        try:
            self.recovery.write(self.doc.project)
        except (OSError, StudioError):
            return False  # best effort: the next tick tries again; the user's file is untouched
        return True

    def discard_recovery(self) -> None:
        """Remove this window's recovery file (only its own: other windows keep theirs)."""
        self.recovery.discard()

    def offer_recovery(self) -> bool:
        """Offer back the unsaved work of windows whose process ended without saving it; returns whether
        some was restored. One question per recovery file, newest first, until one is restored: a window
        shows one project, so the rest stay on disk for the next start (the question says how many)."""
        found = recovery.orphans(recovery_dir())
        for i, item in enumerate(found):
            saved_at = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.saved_at))
            name = item.source.name if item.source else "an untitled project"
            if self.ask_restore(saved_at, name, len(found) - i - 1):
                return self._restore(item)
            item.remove()
        return False

    def _restore(self, item: recovery.Recovery) -> bool:
        try:
            project = item.load()
        except StudioError as exc:
            self.show_error("Cannot restore unsaved work", str(exc))
            item.remove()
            return False
        if not self.maybe_save() or not self._show(project, modified=True):
            return False  # kept for the next start
        if self.autosave():  # the work is this window's own recovery file now, before the old one goes
            item.remove()
        return True


def _saved_name(project: Project, path: Path) -> str:
    """The project's name in the file: an untitled project takes the name of the file it is first saved
    as (so its exports are not "untitled" either); a named one keeps its name."""
    if project.path is None and project.name == Project.name:
        return path.stem
    return project.name
