"""What stops the model from being built, one line per problem; clicking one selects its layer."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from studio.gui import icons, theme
from studio.gui.document import Document

NODE_ROLE = Qt.ItemDataRole.UserRole


class ProblemsPanel(QListWidget):
    node_clicked = Signal(str)
    count_changed = Signal(int)

    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)
        self._shown: list[tuple[str, str | None]] = []
        doc.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        problems = [(p.message, p.node) for p in self.doc.analysis.problems]
        if problems == self._shown and self.count():
            return
        self._shown = problems
        self.clear()
        if not problems:
            item = QListWidgetItem(icons.icon("ok", theme.ok_colour()), "No problems: the model is complete.")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.addItem(item)
        for message, node_id in problems:
            item = QListWidgetItem(icons.icon("error", theme.error_colour()), _sentence(message))
            item.setData(NODE_ROLE, node_id or "")  # never None: PySide mis-counts a stored None
            item.setToolTip(message)
            self.addItem(item)
        self.count_changed.emit(len(problems))

    def _clicked(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ROLE)
        if node_id:
            self.node_clicked.emit(node_id)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]
