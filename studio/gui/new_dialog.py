"""The New Project gallery: an empty project or a copy of one of the examples, each with a preview."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.project import Project
from studio.core.summary import summarize
from studio.gui.canvas.node_item import compact_count
from studio.gui.canvas.scene import GraphScene
from studio.gui.document import Document
from studio.gui.files import load_template

THUMB = QSize(240, 130)
PROJECT_ROLE = Qt.ItemDataRole.UserRole


def thumbnail(project: Project, size: QSize = THUMB) -> QPixmap:
    """A picture of the project's model, drawn by the canvas itself, with its size underneath."""
    doc = Document(project)
    scene = GraphScene(doc)
    pixmap = QPixmap(size)
    pixmap.fill(scene.colours.background)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    caption = 22.0
    area = QRectF(6, 6, size.width() - 12, size.height() - 12 - caption)
    source = scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
    if not source.isEmpty():
        scale = min(area.width() / source.width(), area.height() / source.height())
        width, height = source.width() * scale, source.height() * scale
        target = QRectF(area.center().x() - width / 2, area.center().y() - height / 2, width, height)
        scene.render(painter, target, source)
    total = sum(info.params + info.buffers for info in doc.analysis.nodes.values())
    painter.setPen(scene.colours.muted)
    label = QRectF(0, size.height() - caption - 4, size.width(), caption)
    painter.drawText(label, Qt.AlignmentFlag.AlignCenter,
                     f"{len(project.graph.nodes)} layers · {compact_count(total)} parameters")
    painter.end()
    return pixmap


def _blank(size: QSize = THUMB) -> QPixmap:
    pixmap = QPixmap(size)
    pixmap.fill(GraphScene(Document()).colours.background)
    painter = QPainter(pixmap)
    painter.setPen(QColor(128, 128, 128))
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "Empty canvas")
    painter.end()
    return pixmap


class NewProjectDialog(QDialog):
    def __init__(self, parent: QWidget | None, examples: list[Path]) -> None:
        super().__init__(parent)
        self.setWindowTitle("New Project")
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(THUMB)
        self.gallery.setGridSize(QSize(THUMB.width() + 24, THUMB.height() + 44))
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setWordWrap(True)
        self.projects: list[Project] = []
        self._add(Project(), _blank(), "Empty project", "Start from an empty canvas.")
        for path in examples:
            try:
                project = load_template(path)
            except StudioError:
                continue  # a broken example is simply not offered
            total = summarize(project.graph).total
            note = f"{project.description}\n\n{total:,} parameters"
            self._add(project, thumbnail(project), project.name, note)
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.about.setMinimumHeight(self.fontMetrics().lineSpacing() * 3)
        button = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(button.Ok | button.Cancel)
        buttons.button(button.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Start from an empty canvas or from a copy of an example:"))
        layout.addWidget(self.gallery, 1)
        layout.addWidget(self.about)
        layout.addWidget(buttons)
        self.gallery.currentRowChanged.connect(self._describe)
        self.gallery.itemDoubleClicked.connect(lambda _item: self.accept())
        self.gallery.setCurrentRow(1 if len(self.projects) > 1 else 0)
        self.resize(3 * (THUMB.width() + 24) + 60, 2 * (THUMB.height() + 44) + 160)

    def _add(self, project: Project, picture: QPixmap, title: str, note: str) -> None:
        icon = QIcon(picture)
        icon.addPixmap(picture, QIcon.Mode.Selected)  # a selected preview stays a preview, not a blue box
        item = QListWidgetItem(icon, title)
        item.setToolTip(note)
        item.setData(PROJECT_ROLE, len(self.projects))
        self.projects.append(project)
        self.gallery.addItem(item)

    def _describe(self, row: int) -> None:
        item = self.gallery.item(row)
        self.about.setText(item.toolTip() if item else "")

    def selected_project(self) -> Project:
        item = self.gallery.currentItem()
        return self.projects[item.data(PROJECT_ROLE) if item else 0]

    @classmethod
    def choose(cls, parent: QWidget | None, examples: list[Path]) -> Project | None:
        dialog = cls(parent, examples)
        return dialog.selected_project() if dialog.exec() == QDialog.DialogCode.Accepted else None
