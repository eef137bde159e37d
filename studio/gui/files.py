"""New, open, save, recent files, unsaved-change questions and the recovery file.

Every question to the user is one small method (`ask_*`, `show_error`), so tests can answer it.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from studio.core.atomic import write_atomic
from studio.core.errors import StudioError
from studio.core.project import SUFFIX, Project, load_project, save_project, to_json_text
from studio.gui.document import Document
from studio.paths import data_dir

EXAMPLES_DIR = data_dir("projects")
DEFAULT_EXAMPLE = "digits_cnn"
MAX_RECENT = 10
AUTOSAVE_MS = 60_000
FILE_FILTER = f"Model Studio projects (*{SUFFIX});;All files (*)"
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


def recovery_path() -> Path:
    """Beside the settings file, so each settings location (and each test) has its own."""
    return Path(QSettings().fileName()).parent / f"recovery{SUFFIX}"


class ProjectFiles(QObject):
    path_changed = Signal()
    recent_changed = Signal()

    def __init__(self, doc: Document, window: QWidget) -> None:
        super().__init__(window)
        self.doc, self.window = doc, window
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

    # --- questions (replaced in tests) ------------------------------------------------------------------

    def ask_unsaved_changes(self) -> Answer:
        return QMessageBox.question(
            self.window, "Unsaved changes", f"Save the changes to {self.display_name()} first?",
            Answer.Save | Answer.Discard | Answer.Cancel, Answer.Save)

    def ask_restore(self, saved_at: str) -> bool:
        answer = QMessageBox.question(
            self.window, "Restore unsaved work?",
            f"Model Studio closed with unsaved changes (last saved for recovery {saved_at}). Restore them?",
            Answer.Yes | Answer.No, Answer.Yes)
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
        """True when it is fine to drop the current project (saved, or the user said so)."""
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
        self._show(project)
        return True

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
        self._show(project)
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
        path = self.ask_save_path()
        return bool(path) and self._write(Path(path))

    def _write(self, path: Path) -> bool:
        try:
            save_project(self.doc.project, path)
        except (OSError, StudioError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.show_error("Cannot save project", f"{path}: {reason}")
            return False
        self.doc.undo_stack.setClean()
        self.discard_recovery()
        self._add_recent(path)
        self.path_changed.emit()
        return True

    def _show(self, project: Project, *, modified: bool = False) -> None:
        self.doc.replace(project, modified=modified)
        self.path_changed.emit()

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
        """Write the unsaved project to the recovery file (and forget it once there is nothing unsaved)."""
        if not self.doc.modified:
            self.discard_recovery()
            return False
        target = recovery_path()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            source = self.doc.project.path
            # Written directly rather than with save_project, which would re-point the project here.
            write_atomic(target, (to_json_text(self.doc.project.to_dict()) + "\n").encode("utf-8"))
        except (OSError, StudioError):
            return False  # best effort: the next tick tries again; the user's file is untouched
        QSettings().setValue("recovery/source", str(source) if source else "")
        return True

    def discard_recovery(self) -> None:
        path = recovery_path()
        if path.exists():
            path.unlink(missing_ok=True)
        QSettings().remove("recovery/source")

    def offer_recovery(self) -> bool:
        """If the last session left unsaved work, offer it back; returns whether it was restored."""
        path = recovery_path()
        if not path.is_file():
            return False
        saved_at = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
        if not self.ask_restore(saved_at):
            self.discard_recovery()
            return False
        try:
            project = load_project(path)
        except StudioError as exc:
            self.show_error("Cannot restore unsaved work", str(exc))
            self.discard_recovery()
            return False
        source = str(QSettings().value("recovery/source", "") or "")
        project.path = Path(source) if source else None
        self._show(project, modified=True)
        return True

