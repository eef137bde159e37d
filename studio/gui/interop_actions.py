"""File > Export and File > Import: the command line's export and Keras import, from the window."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from studio.core.errors import StudioError
from studio.core.project import Project
from studio.gui.document import Document
from studio.gui.files import ProjectFiles

# (format, menu text, file filter) in menu order; the formats are those of `model-studio export`.
EXPORTS = (
    ("pytorch", "PyTorch Source (.py)…", "Python files (*.py)"),
    ("torchscript", "TorchScript (.pt)…", "TorchScript files (*.pt)"),
    ("onnx", "ONNX (.onnx)…", "ONNX files (*.onnx)"),
    ("safetensors", "Weights (.safetensors)…", "Safetensors files (*.safetensors)"),
)


class InteropActions(QObject):
    def __init__(self, doc: Document, files: ProjectFiles, window: QWidget) -> None:
        super().__init__(window)
        self.doc, self.files, self.window = doc, files, window
        self.export_menu = QMenu("&Export", window)
        for format_name, text, _filter in EXPORTS:
            action = QAction(text, self)
            action.triggered.connect(lambda _checked=False, f=format_name: self.export(f))
            self.export_menu.addAction(action)
        self.import_action = QAction("&Import Keras Model…", self)
        self.import_action.setStatusTip("A new project from a Keras model.to_json() file")
        self.import_action.triggered.connect(lambda _checked=False: self.import_keras())

    def add_to(self, menu: QMenu, before: QAction) -> None:
        menu.insertMenu(before, self.export_menu)
        menu.insertAction(before, self.import_action)
        menu.insertSeparator(before)

    # --- questions (replaced in tests) ------------------------------------------------------------------

    def ask_export_path(self, format_name: str) -> str | None:
        from studio.interop.export import FORMATS

        project = self.doc.project
        folder = project.path.parent if project.path else Path.home()
        suggested = folder / f"{project.name}{FORMATS[format_name].suffix}"
        name_filter = next(f for name, _text, f in EXPORTS if name == format_name)
        path, _ = QFileDialog.getSaveFileName(self.window, "Export model", str(suggested), name_filter)
        return path or None

    def ask_import_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import Keras model", str(Path.home()),
                                              "Keras model JSON (*.json);;All files (*)")
        return path or None

    def show_done(self, text: str) -> None:
        QMessageBox.information(self.window, "Export", text)

    # --- actions ----------------------------------------------------------------------------------------

    def export(self, format_name: str) -> Path | None:
        """Write the model (with the latest run's weights) in `format_name`; None when cancelled or failed."""
        path = self.ask_export_path(format_name)
        if not path:
            return None
        from studio.interop.export import export_project

        result = self._busy(lambda: export_project(self.doc.project, format_name, path), "Cannot export")
        if result is None:
            return None
        weights = f"\nWeights: {result.weights}" if result.weights else ""
        self.show_done(f"Wrote {result.path}: {result.description}{weights}")
        return result.path

    def import_keras(self, path: str | None = None) -> bool:
        """Open a Keras model.to_json() file as a new, unsaved project."""
        if not self.files.maybe_save():
            return False
        path = path or self.ask_import_path()
        if not path:
            return False
        from studio.interop.keras_import import import_keras

        result = self._busy(lambda: import_keras(path), "Cannot import")
        if result is None:
            return False
        notes = "\n".join(f"- {note}" for note in result.notes)
        replaced = self.doc.replace(Project(graph=result.graph, name=Path(path).stem,
                                            description=f"Imported from {Path(path).name}.\n{notes}".strip()),
                                    modified=True)
        if replaced:
            self.files.path_changed.emit()
        return replaced

    def _busy(self, work: Callable[[], object], title: str) -> object | None:
        """Run a short blocking job (seconds at most) under a wait cursor; errors become a message."""
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return work()
        except StudioError as exc:
            self.files.show_error(title, str(exc))
            return None
        finally:
            QGuiApplication.restoreOverrideCursor()
