"""The layer palette: the whole catalog by category, searchable; drag a layer onto the canvas."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from studio.core.layers import CATEGORIES, all_specs
from studio.gui import icons
from studio.gui.clipboard import LAYER_MIME, layer_mime

TYPE_ROLE = Qt.ItemDataRole.UserRole
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1


class _LayerTree(QTreeWidget):
    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:
        type_name = next((i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)), "")
        return layer_mime(type_name)


class LayerPalette(QWidget):
    activated = Signal(str)  # a layer was double-clicked (or Enter pressed): append it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search layers")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icons.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.textChanged.connect(self.filter)
        self.tree = _LayerTree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setIndentation(14)
        self.tree.setAnimated(True)
        self.tree.itemActivated.connect(self._activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        self.categories: dict[str, QTreeWidgetItem] = {}
        self._fill()

    def _fill(self) -> None:
        specs = all_specs()
        for category in CATEGORIES:
            members = [s for s in specs if s.category == category]
            if not members:
                continue
            top = QTreeWidgetItem([category])
            top.setIcon(0, icons.category_icon(category))
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(top)
            self.categories[category] = top
            for spec in members:
                item = QTreeWidgetItem([spec.type])
                item.setIcon(0, icons.category_icon(category))
                item.setData(0, TYPE_ROLE, spec.type)
                item.setData(0, SEARCH_ROLE, f"{spec.type} {category} {spec.help}".lower())
                item.setToolTip(0, f"<b>{spec.type}</b><br>{spec.help}<br><i>Drag onto the canvas, or "
                                   "double-click to add it after the selected layer.</i>")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsDragEnabled)
                top.addChild(item)
        self.tree.expandAll()

    def refresh_icons(self) -> None:
        for category, top in self.categories.items():
            top.setIcon(0, icons.category_icon(category))
            for i in range(top.childCount()):
                top.child(i).setIcon(0, icons.category_icon(category))

    def filter(self, text: str) -> None:
        """Show layers whose name, category or help mentions every word of `text`."""
        words = text.lower().split()
        for top in self.categories.values():
            shown = 0
            for i in range(top.childCount()):
                item = top.child(i)
                haystack = item.data(0, SEARCH_ROLE)
                visible = all(w in haystack for w in words)
                item.setHidden(not visible)
                shown += visible
            top.setHidden(shown == 0)
        if words:
            self.tree.expandAll()

    def visible_types(self) -> list[str]:
        return [top.child(i).data(0, TYPE_ROLE) for top in self.categories.values() if not top.isHidden()
                for i in range(top.childCount()) if not top.child(i).isHidden()]

    def _activated(self, item: QTreeWidgetItem) -> None:
        type_name = item.data(0, TYPE_ROLE)
        if type_name:
            self.activated.emit(type_name)
