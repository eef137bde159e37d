"""The confusion matrix as a table of coloured cells: counts or row shares, class names on both axes.

Cells are coloured by the share of their true class (the row), so a weak class stands out however many
samples it has: the diagonal in the accent colour, mistakes in the error colour. Clicking a cell asks
for its samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QGridLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from studio.analysis.evaluation import ClassificationReport
from studio.gui import theme
from studio.gui.analysis import style

Index = QModelIndex | QPersistentModelIndex
SHARE_ROLE = Qt.ItemDataRole.UserRole  # the cell's share of its row, 0..1
MAX_COLUMN_WIDTH = 140
MAX_CELL = 84  # pixels; a two-class matrix would otherwise fill the tab


class ConfusionModel(QAbstractTableModel):
    """Rows: true class; columns: predicted class."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = np.zeros((0, 0), dtype=np.int64)
        self.shares = np.zeros((0, 0))
        self.names: list[str] = []
        self.normalised = False

    def set_report(self, report: ClassificationReport | None) -> None:
        self.beginResetModel()
        if report is None:
            self.counts, self.shares, self.names = np.zeros((0, 0), dtype=np.int64), np.zeros((0, 0)), []
        else:
            self.counts, self.shares = report.confusion, report.normalised_confusion()
            self.names = list(report.class_names)
        self.endResetModel()

    def set_normalised(self, normalised: bool) -> None:
        self.normalised = normalised
        if self.names:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.names) - 1, len(self.names) - 1))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.names)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.names)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return self.names[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            side = "True" if orientation == Qt.Orientation.Vertical else "Predicted"
            return f"{side} class: {self.names[section]}"
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        i, j = index.row(), index.column()
        count, share = int(self.counts[i, j]), float(self.shares[i, j])
        if role == Qt.ItemDataRole.DisplayRole:
            return _percent(share) if self.normalised else str(count)
        if role == SHARE_ROLE:
            return share
        if role == Qt.ItemDataRole.ToolTipRole:
            what = "correct" if i == j else "mistaken"
            return (f"True {self.names[i]}, predicted {self.names[j]}: {count} {what} sample"
                    f"{'s' if count != 1 else ''} ({_percent(share)} of true {self.names[i]})"
                    + ("\nClick to show them in the predictions gallery" if count else ""))
        return None


class ConfusionDelegate(QStyledItemDelegate):
    """A rounded cell in a heat colour with its value centred; mistakes use the error colour."""

    font_scale = 1.0  # larger cells get larger numbers

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        share = float(index.data(SHARE_ROLE))
        diagonal = index.row() == index.column()
        background = cell_colour(share, diagonal)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        cell = QRectF(option.rect).adjusted(1.5, 1.5, -1.5, -1.5)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(background)
        painter.drawRoundedRect(cell, 3, 3)
        text = str(index.data(Qt.ItemDataRole.DisplayRole))
        empty = share == 0.0
        painter.setPen(theme.mix(style.text(), style.base(), 0.6) if empty else style.text_on(background))
        painter.setFont(style.scaled_font(option.font, self.font_scale, bold=diagonal and not empty))
        painter.drawText(option.rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


class VerticalLabel(QWidget):
    """A label written bottom to top, for the left axis of the matrix."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = text
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        return QSize(metrics.height() + 6, metrics.horizontalAdvance(self._text) + 12)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.setFont(self.font())
        painter.translate(0, self.height())
        painter.rotate(-90)
        painter.drawText(QRect(0, 0, self.height(), self.width()), Qt.AlignmentFlag.AlignCenter, self._text)
        painter.end()


class ConfusionTable(QWidget):
    """The matrix with "Predicted" above and "True" beside it; `cell_clicked(true, predicted)`."""

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ConfusionModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.delegate = ConfusionDelegate(self.table)
        self.table.setItemDelegate(self.delegate)
        self.table.setShowGrid(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setFrameShape(QTableView.Shape.NoFrame)
        self.table.setCornerButtonEnabled(False)
        self.table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        self.table.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
        for header in (self.table.horizontalHeader(), self.table.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setHighlightSections(False)
        self.table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignCenter)
        self.table.verticalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignRight
                                                        | Qt.AlignmentFlag.AlignVCenter)
        self.table.clicked.connect(lambda index: self.cell_clicked.emit(index.row(), index.column()))
        self.predicted_label, self.true_label = QLabel("Predicted class"), VerticalLabel("True class")
        for label in (self.predicted_label, self.true_label):
            label.setFont(style.scaled_font(self.font(), 1.0, bold=True))
        self.predicted_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        # Centred: stretchable empty columns on both sides, an empty row below.
        layout.addWidget(self.predicted_label, 0, 2)
        layout.addWidget(self.true_label, 1, 1)
        layout.addWidget(self.table, 1, 2)
        layout.setRowStretch(2, 1)
        layout.setColumnStretch(0, 1)
        layout.setColumnStretch(3, 1)

    def set_report(self, report: ClassificationReport | None) -> None:
        self.model.set_report(report)
        self._size_cells()

    def set_normalised(self, normalised: bool) -> None:
        self.model.set_normalised(normalised)

    def cell_rect(self, true: int, predicted: int) -> QRect:
        """Where a cell is, in the table's viewport (for tests and tooltips)."""
        return self.table.visualRect(self.model.index(true, predicted))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._size_cells()

    def _size_cells(self) -> None:
        """Cells as large as the space allows (within limits), wide enough for the class names."""
        n = len(self.model.names)
        if not n:
            return
        metrics = self.table.fontMetrics()
        horizontal, vertical = self.table.horizontalHeader(), self.table.verticalHeader()
        margin = 12
        free_width = self.width() - self.true_label.sizeHint().width() - vertical.sizeHint().width() - margin
        free_height = (self.height() - self.predicted_label.sizeHint().height()
                       - horizontal.sizeHint().height() - margin)
        smallest = max(int(metrics.height() * 1.7), metrics.horizontalAdvance("100%") + 8)
        side = max(smallest, min(MAX_CELL, free_width // n, free_height // n))
        widest_name = max(metrics.horizontalAdvance(name) for name in self.model.names) + 16
        width = max(side, min(widest_name, MAX_COLUMN_WIDTH))
        self.delegate.font_scale = max(1.0, min(1.5, side / (metrics.height() * 2.6)))
        horizontal.setDefaultSectionSize(width)
        vertical.setDefaultSectionSize(side)
        self.table.updateGeometry()


def _percent(share: float) -> str:
    if share == 0:
        return "0"
    return f"{share * 100:.0f}%" if share >= 0.1 or share == 1 else f"{share * 100:.1f}%"


def cell_colour(share: float, diagonal: bool) -> QColor:
    """The fill of a cell: the accent on the diagonal, the error colour for mistakes."""
    hue = style.accent() if diagonal else theme.error_colour()
    # Off the diagonal a few percent already matter, so their colour rises faster.
    return style.heat(share if diagonal else min(1.0, share ** 0.5 * 0.9), hue)
