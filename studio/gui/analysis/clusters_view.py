"""The k-means tab: cluster the features of a chosen layer and see how well clusters match classes.

Controls above; the 2-D projection in the middle (coloured by cluster or by true class, the list beside
it is its legend); scores, the elbow curve and the clicked sample on the right. The work itself runs in
the Results worker: this view asks for it (`cluster_requested`, `compare_requested`) and shows what
comes back.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.analysis import AnalysisError
from studio.analysis.clustering import ClusterAnalysis, LayerScores, check_k, write_assignments_csv
from studio.analysis.predictions import Predictions
from studio.data import DatasetInfo
from studio.gui import icons, theme
from studio.gui.analysis import style
from studio.gui.analysis.gallery_model import pixmap_from_rgb
from studio.gui.analysis.layers_table import LayersTable
from studio.gui.analysis.session import ClusterRequest

ROWS_ROLE = Qt.ItemDataRole.UserRole  # the sample rows of a legend entry
LABEL_ROLE = Qt.ItemDataRole.UserRole + 1  # how the gallery names them
PREVIEW_SIZE = 96
PROJECTIONS = (("pca", "PCA"), ("tsne", "t-SNE"))


class ClustersView(QWidget):
    """Asks for clusterings and layer comparisons, and shows them; the panel runs the work."""

    cluster_requested = Signal(object)  # ClusterRequest
    compare_requested = Signal(int, bool)  # k, standardise
    rows_chosen = Signal(object, str)  # sample rows, their name: show them in the gallery

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.analysis: ClusterAnalysis | None = None
        self.predictions: Predictions | None = None
        self.info: DatasetInfo | None = None
        self.samples: np.ndarray | None = None
        self.class_names: list[str] = []
        self.by_class = False
        self._make_controls()
        self._make_plot()
        self._make_side()
        self.layers_table = LayersTable()
        self.layers_table.layer_activated.connect(self._cluster_layer)
        self.centre = QTabWidget()
        self.centre.setDocumentMode(True)
        self.centre.addTab(self.plot_pages, "Clusters")
        self.centre.addTab(self.layers_table, "Compare layers")
        splitter = QSplitter()
        splitter.addWidget(self.centre)
        splitter.addWidget(self.side)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([800, 320])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(self.controls)
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)
        self.apply_palette()

    # --- construction ----------------------------------------------------------------------------------

    def _make_controls(self) -> None:
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("The layer whose outputs (one row of features per sample) are clustered")
        self.layer_box.setMinimumContentsLength(14)
        self.k_box = QSpinBox()
        self.k_box.setRange(2, 100_000)
        self.k_box.setToolTip("The number of clusters")
        self.standardize_box = QCheckBox("Standardise")
        self.standardize_box.setChecked(True)
        self.standardize_box.setToolTip("Scale every feature to mean 0 and standard deviation 1 before "
                                        "clustering")
        self.projection_box = QComboBox()
        for key, text in PROJECTIONS:
            self.projection_box.addItem(text, key)
        self.projection_box.setToolTip("How the features are drawn in 2-D: PCA (fast, linear) or t-SNE "
                                       "(slower, keeps neighbours together)")
        self.cluster_button = QPushButton("Cluster")
        self.cluster_button.setDefault(True)
        self.cluster_button.clicked.connect(self.request_cluster)
        self.compare_button = QPushButton("Compare layers")
        self.compare_button.setToolTip("Cluster every layer's features with this k and compare the scores")
        self.compare_button.clicked.connect(self.request_compare)
        self.export_button = QPushButton(icons.icon("export"), "Export CSV…")
        self.export_button.setToolTip("Save each sample's index, true label, cluster and position as CSV")
        self.export_button.clicked.connect(self.export_csv)
        self.export_button.setEnabled(False)
        self.controls = QHBoxLayout()
        for widget in (QLabel("Layer"), self.layer_box, QLabel("k"), self.k_box, self.standardize_box,
                       QLabel("Projection"), self.projection_box, self.cluster_button, self.compare_button):
            self.controls.addWidget(widget)
        self.controls.addStretch(1)
        self.controls.addWidget(self.export_button)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()

    def _make_plot(self) -> None:
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.scatter = pg.ScatterPlotItem(size=8, antialias=True, hoverable=True)
        self.scatter.sigClicked.connect(self._point_clicked)
        self.plot.addItem(self.scatter)
        self.marker = pg.ScatterPlotItem(size=18, brush=None, antialias=True)
        self.plot.addItem(self.marker)
        self.colour_group = QButtonGroup(self)
        self.by_cluster_button = style.segment("Clusters", "Colour the points by their cluster")
        self.by_class_button = style.segment("True classes", "Colour the points by their true class")
        self.by_cluster_button.setChecked(True)
        for button in (self.by_cluster_button, self.by_class_button):
            self.colour_group.addButton(button)
        self.by_class_button.toggled.connect(self.set_colour_by_class)
        self.projection_label = QLabel()
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Colour by"))
        bar.addWidget(self.by_cluster_button)
        bar.addWidget(self.by_class_button)
        bar.addStretch(1)
        bar.addWidget(self.projection_label)
        plot_page = QWidget()
        plot_layout = QVBoxLayout(plot_page)
        plot_layout.setContentsMargins(0, 4, 0, 0)
        plot_layout.addLayout(bar)
        plot_layout.addWidget(self.plot, 1)
        self.placeholder = QLabel("Choose a layer and k, then press <b>Cluster</b>.<br><br>K-means groups "
                                  "the samples by the features the model computes in that layer; the scores "
                                  "say how well those groups match the true classes.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.plot_pages = QStackedWidget()
        self.plot_pages.addWidget(self.placeholder)
        self.plot_pages.addWidget(plot_page)

    def _make_side(self) -> None:
        self.score_labels: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        tips = {"ARI": "Adjusted Rand index: 1 = the clusters are the classes, about 0 = chance",
                "NMI": "Normalised mutual information between clusters and classes (0..1)",
                "Purity": "Share of samples in their cluster's most common class",
                "Silhouette": "How compact and separate the clusters are (-1..1)",
                "Features": "Values per sample in the clustered layer"}
        for name, tip in tips.items():
            value = QLabel("—")
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            value.setToolTip(tip)
            caption = QLabel(name)
            caption.setToolTip(tip)
            form.addRow(caption, value)
            self.score_labels[name] = value
        for name in ("ARI", "NMI", "Purity", "Silhouette"):
            self.score_labels[name].setFont(style.scaled_font(self.font(), 1.15, bold=True))
        self.elbow = pg.PlotWidget()
        self.elbow.setMenuEnabled(False)
        self.elbow.hideButtons()
        self.elbow.setMouseEnabled(False, False)
        self.elbow.setFixedHeight(140)
        self.elbow_curve = self.elbow.plot([], [], symbol="o", symbolSize=5, antialias=True)
        self.elbow_marker = pg.InfiniteLine(angle=90, movable=False)
        self.elbow.addItem(self.elbow_marker)
        self.legend = QListWidget()
        self.legend.setToolTip("Click an entry to see its samples in the Predictions tab")
        self.legend.itemClicked.connect(self._legend_clicked)
        self.preview_image = QLabel()
        self.preview_image.setFixedSize(PREVIEW_SIZE, PREVIEW_SIZE)
        self.preview_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_text = QLabel("Click a point to see its sample.")
        self.preview_text.setWordWrap(True)
        self.preview_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        preview = QHBoxLayout()
        preview.addWidget(self.preview_image)
        preview.addWidget(self.preview_text, 1)
        self.side = QFrame()
        side = QVBoxLayout(self.side)
        side.setContentsMargins(8, 0, 0, 0)
        side.addWidget(style.title("Scores", self.font()))
        side.addLayout(form)
        side.addWidget(style.title("Elbow: inertia for each k", self.font()))
        side.addWidget(self.elbow)
        self.legend_title = style.title("Clusters", self.font())
        side.addWidget(self.legend_title)
        side.addWidget(self.legend, 1)
        side.addWidget(style.title("Sample", self.font()))
        side.addLayout(preview)

    # --- inputs ------------------------------------------------------------------------------------------

    def set_results(self, layers: list[str], default_layer: str, predictions: Predictions | None,
                    info: DatasetInfo | None, samples: np.ndarray | None) -> None:
        """A freshly loaded run: offer its layers, forget the previous clustering."""
        self.predictions, self.info, self.samples = predictions, info, samples
        self.class_names = list(predictions.class_names) if predictions is not None else []
        self.layer_box.clear()
        for name in layers:
            self.layer_box.addItem(f"{name} (raw input)" if name == layers[0] else name, name)
        self.layer_box.setCurrentIndex(max(0, self.layer_box.findData(default_layer)))
        self.k_box.setValue(max(2, len(self.class_names) or 3))
        self.by_class_button.setEnabled(bool(self.class_names))
        self.set_analysis(None)
        self.layers_table.set_scores([])
        self.show_message("")

    def request(self) -> ClusterRequest:
        return ClusterRequest(self.layer_box.currentData(), self.k_box.value(),
                              self.standardize_box.isChecked(), self.projection_box.currentData())

    def request_cluster(self) -> None:
        if self._k_fits():
            self.show_message("")
            self.cluster_requested.emit(self.request())

    def request_compare(self) -> None:
        if self._k_fits():
            self.show_message("")
            self.compare_requested.emit(self.k_box.value(), self.standardize_box.isChecked())

    def _k_fits(self) -> bool:
        samples = len(self.predictions) if self.predictions is not None else 0
        try:
            check_k(self.k_box.value(), samples)
        except AnalysisError as exc:
            self.show_message(str(exc), error=True)
            return False
        return True

    def _cluster_layer(self, layer: str) -> None:
        self.layer_box.setCurrentIndex(max(0, self.layer_box.findData(layer)))
        self.centre.setCurrentIndex(0)
        self.request_cluster()

    # --- results -----------------------------------------------------------------------------------------

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text[:1].upper() + text[1:])
        colour = theme.error_colour() if error else style.muted()
        self.message.setStyleSheet(f"color: {colour.name()};")
        self.message.setVisible(bool(text))

    def set_analysis(self, analysis: ClusterAnalysis | None) -> None:
        self.analysis = analysis
        self.export_button.setEnabled(analysis is not None)
        self.plot_pages.setCurrentIndex(0 if analysis is None else 1)
        self.marker.setData([], [])
        self._show_scores()
        self._draw()
        if analysis is not None:
            self.centre.setCurrentIndex(0)

    def set_comparison(self, scores: list[LayerScores], k: int) -> None:
        self.layers_table.set_scores(scores, k)
        self.centre.setCurrentWidget(self.layers_table)

    def set_colour_by_class(self, by_class: bool) -> None:
        self.by_class = by_class and bool(self.class_names)
        button = self.by_class_button if self.by_class else self.by_cluster_button
        self.by_class_button.blockSignals(True)  # this is its slot
        button.setChecked(True)
        self.by_class_button.blockSignals(False)
        self._draw()

    def apply_palette(self) -> None:
        self.layers_table.apply_palette()
        for plot in (self.plot, self.elbow):
            style.style_plot(plot)
        self.elbow.setLabel("bottom", "k")
        self.elbow_curve.setPen(pg.mkPen(style.accent(), width=2))
        self.elbow_curve.setSymbolBrush(style.accent())
        self.elbow_curve.setSymbolPen(style.base())
        self.elbow_marker.setPen(pg.mkPen(theme.mix(style.text(), style.base(), 0.5),
                                          style=Qt.PenStyle.DashLine))
        self.marker.setPen(pg.mkPen(style.text(), width=2))
        self.placeholder.setStyleSheet(f"color: {style.muted().name()};")
        self.projection_label.setStyleSheet(f"color: {style.muted().name()};")
        self._draw()

    def _show_scores(self) -> None:
        a = self.analysis
        values = {name: "—" for name in self.score_labels}
        if a is not None:
            s = a.scores
            values.update(ARI=_score(s.ari), NMI=_score(s.nmi), Purity=_score(s.purity),
                          Silhouette=_score(s.silhouette),
                          Features=f"{a.features:,}{' (standardised)' if a.standardized else ''}")
            self.score_labels["Silhouette"].setToolTip(
                f"How compact and separate the clusters are (-1..1), on {s.silhouette_samples:,} samples")
        for name, text in values.items():
            self.score_labels[name].setText(text)
        if a is None:
            self.elbow_curve.setData([], [])
            self.elbow_marker.hide()
            return
        ks, inertia = zip(*a.inertia_by_k, strict=True) if a.inertia_by_k else ((), ())
        self.elbow_curve.setData(list(ks), list(inertia))
        self.elbow_marker.setValue(a.k)
        self.elbow_marker.show()

    def _draw(self) -> None:
        self.legend.clear()
        a = self.analysis
        if a is None or a.projection is None:
            self.scatter.setData([], [])
            return
        view = a.projection
        rows = view.rows
        by_class = self.by_class and a.true is not None
        groups = a.true[rows] if by_class else a.clusters.labels[rows]
        names = self.class_names if by_class else [f"Cluster {c}" for c in range(a.k)]
        colours = style.class_colours(len(names))
        brushes = [pg.mkBrush(colours[g]) for g in range(len(names))]
        outline = pg.mkPen(theme.mix(style.base(), style.text(), 0.35), width=0.6)
        self.scatter.setData(x=view.coords[:, 0], y=view.coords[:, 1], data=rows,
                             brush=[brushes[g] for g in groups], pen=outline)
        method = "PCA" if view.method == "pca" else "t-SNE"
        self.plot.setLabel("bottom", f"{method} 1")
        self.plot.setLabel("left", f"{method} 2")
        total = len(a.clusters.labels)
        shown = f"{len(rows):,} samples" + (f" of {total:,}" if len(rows) < total else "")
        explained = (f", {sum(view.explained) * 100:.0f} % of the variance" if view.explained else "")
        self.projection_label.setText(f"{method} of layer '{a.layer}' · {shown}{explained}")
        self.legend_title.setText("True classes" if by_class else "Clusters")
        all_groups = a.true if by_class else a.clusters.labels
        for g, name in enumerate(names):
            members = np.flatnonzero(all_groups == g)
            item = QListWidgetItem(QIcon(_swatch(colours[g])), self._legend_text(name, members, by_class))
            item.setData(ROWS_ROLE, members)
            item.setData(LABEL_ROLE, f"{name} ({'true class' if by_class else f'k-means on {a.layer}'}, "
                                     f"{len(members):,} samples)")
            self.legend.addItem(item)

    def _legend_text(self, name: str, members: np.ndarray, by_class: bool) -> str:
        a = self.analysis
        text = f"{name} · {len(members):,} samples"
        if by_class or a.true is None or not len(members):
            return text
        counts = np.bincount(a.true[members], minlength=len(self.class_names))
        top = int(counts.argmax())
        return f"{text} · mostly {self.class_names[top]} ({counts[top] / len(members) * 100:.0f} %)"

    def _legend_clicked(self, item: QListWidgetItem) -> None:
        self.rows_chosen.emit(np.asarray(item.data(ROWS_ROLE), dtype=np.int64), str(item.data(LABEL_ROLE)))

    def _point_clicked(self, _item: object, points: list, _event: object) -> None:
        if points:
            self.show_sample(int(points[0].data()))

    def show_sample(self, row: int) -> None:
        """Show one sample beside the plot and ring its point."""
        a, p, info = self.analysis, self.predictions, self.info
        if a is None or p is None or info is None or self.samples is None:
            return
        view = a.projection
        where = np.flatnonzero(view.rows == row) if view is not None else []
        if len(where):
            self.marker.setData([view.coords[where[0], 0]], [view.coords[where[0], 1]])
        lines = [f"<b>Sample {row}</b>"]
        if p.is_classification:
            lines.append(f"True: {p.class_names[int(p.true[row])]}")
        lines += [f"Predicted: {p.describe(row)}", f"Cluster {int(a.clusters.labels[row])}"]
        if info.sample_kind == "image":
            self.preview_image.setPixmap(pixmap_from_rgb(info.sample_image(self.samples[row]), PREVIEW_SIZE))
            self.preview_image.show()
        else:
            self.preview_image.hide()
            lines.append(info.sample_text(self.samples[row]))
        self.preview_text.setText("<br>".join(lines))

    # --- export ------------------------------------------------------------------------------------------

    def ask_csv_path(self) -> str | None:
        a = self.analysis
        suggested = f"clusters_{a.layer}_k{a.k}.csv" if a is not None else "clusters.csv"
        path, _ = QFileDialog.getSaveFileName(self, "Export cluster assignments", suggested,
                                              "CSV files (*.csv);;All files (*)")
        return path or None

    def export_csv(self) -> Path | None:
        if self.analysis is None:
            return None
        path = self.ask_csv_path()
        if not path:
            return None
        try:
            written = write_assignments_csv(path, self.analysis, self.class_names)
        except AnalysisError as exc:
            self.show_message(str(exc), error=True)
            return None
        samples = len(self.analysis.clusters.labels)
        self.show_message(f"Saved the cluster of each of {samples:,} samples to {written}")
        return written


def _score(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.3f}"


def _swatch(colour: QColor) -> QPixmap:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return pixmap
