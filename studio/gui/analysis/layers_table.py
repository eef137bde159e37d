"""The layer comparison: k-means scores of every layer's features, so the user sees where classes separate."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.analysis.clustering import LayerScores
from studio.gui.analysis import style

CHART_SCORES = (("ARI", "ari"), ("NMI", "nmi"), ("Purity", "purity"))
HEADERS = ("Layer", "Features", "ARI", "NMI", "Purity", "Silhouette")
TIPS = ("", "Values per sample", "Adjusted Rand index: 1 = clusters are the classes, 0 = chance",
        "Normalised mutual information between clusters and classes (0..1)",
        "Share of samples in their cluster's most common class",
        "How compact and separate the clusters are (-1..1), regardless of the classes")


class LayersTable(QWidget):
    """`layer_activated(name)` when a row is double-clicked (to cluster that layer)."""

    layer_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scores: list[LayerScores] = []
        self.caption = QLabel("<b>Compare layers</b> clusters the features of every layer with the same k. "
                              "Where ARI, NMI and purity rise, the classes separate.")
        self.caption.setWordWrap(True)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        for column, tip in enumerate(TIPS):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.table.setShowGrid(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(column, 96)
        self.table.cellDoubleClicked.connect(self._activated)
        self.table.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.chart = pg.PlotWidget()
        self.chart.setMenuEnabled(False)
        self.chart.hideButtons()
        self.chart.setMouseEnabled(False, False)
        self.chart.setMinimumHeight(180)
        self.chart_legend = self.chart.addLegend(offset=(-10, -10))  # bottom right: scores rise to the top
        self.curves = {key: self.chart.plot([], [], name=name, symbol="o", symbolSize=7, antialias=True)
                       for name, key in CHART_SCORES}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.table)
        self.apply_palette()

    def apply_palette(self) -> None:
        style.style_plot(self.chart)
        self.chart.showGrid(x=False, y=True, alpha=0.15)
        self.chart_legend.setLabelTextColor(style.text())
        for colour, curve in zip(style.class_colours(len(self.curves)), self.curves.values(), strict=True):
            curve.setPen(pg.mkPen(colour, width=2))
            curve.setSymbolBrush(colour)
            curve.setSymbolPen(style.base())

    def set_scores(self, scores: list[LayerScores], k: int | None = None) -> None:
        self.scores = list(scores)
        if k is not None:
            self.caption.setText(f"<b>k-means with k = {k}</b> on the features of every layer. Where ARI, "
                                 "NMI and purity rise, the classes separate. Double-click a layer to cluster "
                                 "it.")
        aris = [s.scores.ari for s in scores if s.scores is not None and s.scores.ari is not None]
        best = max(aris) if aris else None
        self.table.setRowCount(len(scores))
        bold = QFont(self.font())
        bold.setBold(True)
        for row, entry in enumerate(scores):
            values = _values(entry)
            is_best = best is not None and entry.scores is not None and entry.scores.ari == best
            for column, value in enumerate(values):
                item = QTableWidgetItem(_format(value, column))
                side = Qt.AlignmentFlag.AlignLeft if column == 0 else Qt.AlignmentFlag.AlignRight
                item.setTextAlignment(side | Qt.AlignmentFlag.AlignVCenter)
                if is_best:
                    item.setFont(bold)
                item.setToolTip(entry.skipped or ("The best separation of the classes" if is_best else ""))
                self.table.setItem(row, column, item)
        self._draw_chart()

    def _draw_chart(self) -> None:
        scored = [(i, entry.scores) for i, entry in enumerate(self.scores) if entry.scores is not None]
        for key, curve in self.curves.items():
            points = [(i, getattr(s, key)) for i, s in scored if getattr(s, key) is not None]
            curve.setData([x for x, _ in points], [y for _, y in points])
        self.chart.getAxis("bottom").setTicks([[(i, entry.layer) for i, entry in enumerate(self.scores)]])
        if self.scores:
            self.chart.setXRange(-0.3, len(self.scores) - 0.7, padding=0)
            self.chart.setYRange(0, 1.05, padding=0)

    def _activated(self, row: int, _column: int) -> None:
        if 0 <= row < len(self.scores) and self.scores[row].scores is not None:
            self.layer_activated.emit(self.scores[row].layer)


def _values(entry: LayerScores) -> list[object]:
    s = entry.scores
    if s is None:
        return [entry.layer, entry.features, None, None, None, None]
    return [entry.layer, entry.features, s.ari, s.nmi, s.purity, s.silhouette]


def _format(value: object, column: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if column == 1:
        return f"{value:,}"
    return value if isinstance(value, str) else f"{value:.3f}"
