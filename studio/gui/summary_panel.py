"""The model summary as a table, like Keras' `model.summary()`, with totals underneath."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from studio.core.summary import BYTES_PER_VALUE, ModelSummary, format_count, format_size, summarize
from studio.gui import icons, theme
from studio.gui.document import Document

HEADERS = ("Layer", "Type", "Output shape", "Param #", "MACs")
Index = QModelIndex | QPersistentModelIndex


class SummaryModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.summary = ModelSummary()
        self.node_ids: list[str] = []

    def set_summary(self, summary: ModelSummary, node_ids: list[str]) -> None:
        self.beginResetModel()
        self.summary, self.node_ids = summary, node_ids
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.summary.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole:
            return _align(section)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.summary.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.name, row.type, row.shape, f"{row.params:,}", format_count(row.macs))[column]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _align(column)
        if role == Qt.ItemDataRole.ForegroundRole and row.error:
            return theme.error_colour()
        if role == Qt.ItemDataRole.DecorationRole and column == 0 and row.error:
            return icons.icon("error", theme.error_colour())
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.error or f"{row.name} ({row.type}): {row.shape}, {row.params:,} parameters, " \
                f"{row.macs:,} multiply-accumulates per sample"
        return None


def _align(column: int) -> Qt.AlignmentFlag:
    side = Qt.AlignmentFlag.AlignRight if column >= 3 else Qt.AlignmentFlag.AlignLeft
    return side | Qt.AlignmentFlag.AlignVCenter


class SummaryPanel(QWidget):
    node_clicked = Signal(str)

    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.model = SummaryModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        for column, mode in enumerate((QHeaderView.ResizeMode.Stretch, QHeaderView.ResizeMode.Interactive,
                                       QHeaderView.ResizeMode.Stretch, QHeaderView.ResizeMode.Interactive,
                                       QHeaderView.ResizeMode.Interactive)):
            header.setSectionResizeMode(column, mode)
        self.table.clicked.connect(self._clicked)
        self.totals = QLabel()
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.totals.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.totals)
        doc.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        graph, analysis = self.doc.graph, self.doc.analysis
        summary = summarize(graph, analysis)
        self.summary = summary
        self.model.set_summary(summary, list(analysis.order or graph.nodes))
        size = BYTES_PER_VALUE
        batch = self.doc.project.training.get("batch_size", 32)
        self.totals.setText(
            f"<b>Total params: {summary.total:,}</b> ({format_size(summary.total * size)})"
            f" &nbsp;·&nbsp; Trainable: {summary.trainable:,} &nbsp;·&nbsp; Non-trainable: "
            f"{summary.non_trainable:,} &nbsp;·&nbsp; MACs: {format_count(summary.macs)}"
            f" &nbsp;·&nbsp; Activations (batch {batch}): {format_size(summary.activation_bytes(batch))}")
        self.totals.setToolTip("MACs: multiply-accumulates per sample. Activations: memory for the values "
                               "the forward pass keeps for one batch (float32).")

    def _clicked(self, index: QModelIndex) -> None:
        if 0 <= index.row() < len(self.model.node_ids):
            self.node_clicked.emit(self.model.node_ids[index.row()])
