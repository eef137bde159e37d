"""The Evaluation tab: accuracy, the confusion matrix and per-class precision, recall, F1 and support."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.analysis.evaluation import ClassificationReport, RegressionReport
from studio.gui.analysis import style
from studio.gui.analysis.confusion_view import ConfusionTable

Index = QModelIndex | QPersistentModelIndex
SCORE_HEADERS = ("Class", "Precision", "Recall", "F1", "Support")


class ScoresModel(QAbstractTableModel):
    """One row per class, then the macro and weighted averages."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, float, float, float, int]] = []
        self.classes = 0
        self._bold = QFont()  # the application's font, for the averages
        self._bold.setBold(True)

    def set_report(self, report: ClassificationReport | None) -> None:
        self.beginResetModel()
        self.rows, self.classes = [], 0
        if report is not None:
            self.classes = len(report.class_names)
            self.rows = [(name, float(report.precision[i]), float(report.recall[i]), float(report.f1[i]),
                          int(report.support[i])) for i, name in enumerate(report.class_names)]
            total = int(report.support.sum())
            weights = report.support / max(total, 1)
            self.rows.append(("Macro average", float(report.precision.mean()), float(report.recall.mean()),
                              float(report.f1.mean()), total))
            self.rows.append(("Weighted average", float(report.precision @ weights),
                              float(report.recall @ weights), float(report.f1 @ weights), total))
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(SCORE_HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return SCORE_HEADERS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _align(section)
        if role == Qt.ItemDataRole.ToolTipRole:
            return ("", "Of the samples predicted as this class, the share that are it",
                    "Of the samples of this class, the share predicted as it",
                    "The harmonic mean of precision and recall",
                    "Validation samples of this class")[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row, column = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            value = row[column]
            return value if column == 0 else f"{value:,}" if column == 4 else f"{value:.3f}"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _align(column)
        if role == Qt.ItemDataRole.FontRole and index.row() >= self.classes:
            return self._bold
        return None


class EvaluationView(QWidget):
    """`cell_clicked(true, predicted)` when a cell of the confusion matrix is clicked."""

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.accuracy = QLabel()
        self.accuracy.setFont(style.scaled_font(self.font(), 1.6, bold=True))
        self.detail = QLabel()
        self.counts_button = style.segment("Counts", "Show how many samples fall in each cell")
        self.share_button = style.segment("Share of true class",
                                          "Show each cell as a share of its row (its true class)")
        self.counts_button.setChecked(True)
        group = QButtonGroup(self)
        group.setExclusive(True)
        for button in (self.counts_button, self.share_button):
            group.addButton(button)
        self.share_button.toggled.connect(self._normalised)
        header = QHBoxLayout()
        header.addWidget(self.accuracy)
        header.addSpacing(12)
        header.addWidget(self.detail, 1)
        header.addWidget(self.counts_button)
        header.addWidget(self.share_button)

        self.confusion = ConfusionTable()
        self.confusion.cell_clicked.connect(self.cell_clicked)
        self.hint = QLabel("Click a cell to see its samples in the Predictions tab.")
        left = QVBoxLayout()
        left.addWidget(self.confusion, 1)
        left.addWidget(self.hint)

        self.scores = ScoresModel()
        self.scores_table = QTableView()
        self.scores_table.setModel(self.scores)
        self.scores_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.scores_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.scores_table.setShowGrid(False)
        self.scores_table.verticalHeader().hide()
        self.scores_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        scores_header = self.scores_table.horizontalHeader()
        scores_header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(SCORE_HEADERS)):
            scores_header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.scores_table.setMinimumWidth(360)
        self.scores_table.setAlternatingRowColors(True)
        self.scores_table.setSizeAdjustPolicy(QTableView.SizeAdjustPolicy.AdjustToContents)
        self.scores_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        right = QVBoxLayout()
        right.addWidget(style.title("Per-class scores", self.font()))
        right.addWidget(self.scores_table)
        right.addStretch(1)

        body = QHBoxLayout()
        body.addLayout(left, 3)
        body.addSpacing(16)
        body.addLayout(right, 2)
        classification = QWidget()
        classification_layout = QVBoxLayout(classification)
        classification_layout.setContentsMargins(0, 0, 0, 0)
        classification_layout.addLayout(header)
        classification_layout.addSpacing(6)
        classification_layout.addLayout(body, 1)

        self.regression = QLabel()
        self.regression.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.regression.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pages = QStackedWidget()
        self.pages.addWidget(classification)
        self.pages.addWidget(self.regression)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 8)
        layout.addWidget(self.pages)
        self.apply_palette()

    def apply_palette(self) -> None:
        for label in (self.detail, self.hint):
            label.setStyleSheet(f"color: {style.muted().name()};")
        self.confusion.table.viewport().update()

    def set_report(self, report: ClassificationReport | None,
                   regression: RegressionReport | None = None) -> None:
        self.confusion.set_report(report)
        self.scores.set_report(report)
        if report is None:
            self.pages.setCurrentWidget(self.regression)
            self.regression.setText(_regression_text(regression))
            return
        self.pages.setCurrentWidget(self.pages.widget(0))
        correct, total = int(report.confusion.trace()), int(report.confusion.sum())
        self.accuracy.setText(f"Accuracy {report.accuracy * 100:.1f} %")
        self.detail.setText(f"{correct:,} of {total:,} validation samples predicted correctly")

    def _normalised(self, normalised: bool) -> None:
        self.confusion.set_normalised(normalised)


def _regression_text(report: RegressionReport | None) -> str:
    if report is None:
        return ""
    return (f"<h3>This model predicts values</h3><p>On the validation samples:</p><table cellpadding='4'>"
            f"<tr><td>Mean squared error</td><td align='right'><b>{report.mse:.6g}</b></td></tr>"
            f"<tr><td>Mean absolute error</td><td align='right'><b>{report.mae:.6g}</b></td></tr>"
            f"<tr><td>R²</td><td align='right'><b>{report.r2:.4f}</b></td></tr></table>"
            "<p>The Predictions tab lists every sample with its error.</p>")


def _align(column: int) -> Qt.AlignmentFlag:
    side = Qt.AlignmentFlag.AlignLeft if column == 0 else Qt.AlignmentFlag.AlignRight
    return side | Qt.AlignmentFlag.AlignVCenter
