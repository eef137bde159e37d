"""The Results panel: what the project's trained run learned, in tabs (evaluation, predictions,
decision regions, k-means), or a clear message when there is nothing to show yet.

It loads the chosen run (default: the latest trained) when it is first shown and whenever the project
gains a new trained run; loading, clustering and predicting images run in one background worker. The
tabs are built on first use, so the window starts without importing the plotting library.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.gui import icons, theme
from studio.gui.analysis import style
from studio.gui.analysis.session import ClusterRequest, RunResults, Session, describe_run, trained_runs
from studio.gui.analysis.worker import JobRunner
from studio.gui.document import Document

if TYPE_CHECKING:
    from studio.gui.analysis.clusters_view import ClustersView
    from studio.gui.analysis.evaluation_view import EvaluationView
    from studio.gui.analysis.gallery_view import GalleryView
    from studio.gui.analysis.regions_view import RegionsView

EMPTY_TITLE = "Train the model to see results"
EMPTY_DETAIL = ("Once the project has a trained run, this panel shows its confusion matrix, the prediction "
                "for every validation sample and how the samples cluster in the model's layers.")
UNSAVED_DETAIL = "Save the project and train it: runs and their weights are stored beside the project file."


class MessagePage(QWidget):
    """A large, centred message: nothing to show yet, loading, or what went wrong."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon = QLabel()
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel()
        self.title.setFont(style.scaled_font(self.font(), 1.4, bold=True))
        self.detail = QLabel()
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for label in (self.title, self.detail):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
        self.detail.setMaximumWidth(640)
        # Centred between stretches (an aligned label would not wrap to its full height).
        detail_row = QHBoxLayout()
        detail_row.addStretch(1)
        detail_row.addWidget(self.detail, 10)
        detail_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.icon)
        layout.addWidget(self.title)
        layout.addLayout(detail_row)
        layout.addStretch(2)
        self._error = False
        self._icon_name = "results"

    def show_message(self, title: str, detail: str, *, icon: str = "results", error: bool = False) -> None:
        self._error = error
        self.title.setText(title)
        self.detail.setText(detail[:1].upper() + detail[1:])
        self._icon_name = icon
        self.apply_palette()

    def apply_palette(self) -> None:
        colour = theme.error_colour() if self._error else style.muted()
        self.icon.setPixmap(icons.icon(self._icon_name, colour).pixmap(QSize(56, 56)))
        self.detail.setStyleSheet(f"color: {colour.name()};")


class ResultsPanel(QWidget):
    """The content of the Results dock for one Document."""

    loaded = Signal()  # a run's results are on screen

    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.runner = JobRunner(self)
        self.session = Session()  # touched only by jobs, on the worker thread
        self.results: RunResults | None = None
        self._loaded_key: tuple[str, str] | None = None  # (project file, run id) shown or being loaded
        self._shown_key: tuple[str, str] | None = None  # the run whose results are on screen
        self.tabs: QTabWidget | None = None
        self.evaluation: EvaluationView | None = None
        self.gallery: GalleryView | None = None
        self.regions: RegionsView | None = None
        self.clusters: ClustersView | None = None
        self._make_header()
        self.message = MessagePage()
        self.pages = QStackedWidget()
        self.pages.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)
        layout.addLayout(self.header)
        layout.addWidget(self.pages, 1)
        doc.replaced.connect(self._project_replaced)
        doc.changed.connect(self._project_changed)
        doc.runs_changed.connect(self._project_changed)  # a training run finished and was recorded
        self.runner.busy_changed.connect(self._busy_changed)
        self.runner.progress.connect(self._progress)
        self._fill_runs()
        self._show_empty_state()

    def _make_header(self) -> None:
        self.run_box = QComboBox()
        self.run_box.setToolTip("The trained run whose model is analysed")
        self.run_box.setPlaceholderText("No trained run yet")
        self.run_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.run_box.activated.connect(lambda _index: self.load())
        self.refresh_button = QToolButton()
        self.refresh_button.setIcon(icons.icon("refresh"))
        self.refresh_button.setToolTip("Load the run again (after training, or after the data changed)")
        self.refresh_button.setAutoRaise(True)
        self.refresh_button.clicked.connect(lambda: self.load(force=True))
        self.status = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the work in progress")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.header = QHBoxLayout()
        self.header.addWidget(QLabel("Run"))
        self.header.addWidget(self.run_box)
        self.header.addWidget(self.refresh_button)
        self.header.addStretch(1)
        self.header.addWidget(self.status)
        self.header.addWidget(self.progress)
        self.header.addWidget(self.cancel_button)

    # --- which run -------------------------------------------------------------------------------------

    def _project_file(self) -> str | None:
        path = self.doc.project.path
        return str(path) if path is not None else None

    def _fill_runs(self) -> None:
        """List the trained runs, keeping the chosen one (or the newest, when the choice was the newest)."""
        chosen = self.run_box.currentData()
        was_newest = self.run_box.currentIndex() <= 0
        runs = trained_runs(self.doc.project) if self._project_file() else []
        self.run_box.blockSignals(True)
        self.run_box.clear()
        for record in runs:
            self.run_box.addItem(describe_run(record), str(record["id"]))
        index = self.run_box.findData(chosen)
        self.run_box.setCurrentIndex(0 if was_newest or index < 0 else index)
        self.run_box.blockSignals(False)
        self.run_box.setEnabled(bool(runs))
        self.refresh_button.setEnabled(bool(runs))

    def _run_ids(self) -> list[str]:
        return [self.run_box.itemData(i) for i in range(self.run_box.count())]

    def _project_replaced(self) -> None:
        self.runner.cancel()
        self._loaded_key = self._shown_key = None
        self.results = None
        self._fill_runs()
        self.load()

    def _project_changed(self) -> None:
        trained = [str(r["id"]) for r in trained_runs(self.doc.project)] if self._project_file() else []
        if trained != self._run_ids():
            self._fill_runs()
            self.load()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.load()  # nothing is loaded while the dock is hidden

    def load(self, *, force: bool = False) -> None:
        """Show the chosen run's results, loading them in the background if they are not on screen yet."""
        project_file, run_id = self._project_file(), self.run_box.currentData()
        if project_file is None or run_id is None:
            self.runner.cancel()
            self._loaded_key = self._shown_key = None
            self.results = None
            self._show_empty_state()
            return
        key = (project_file, run_id)
        if not self.isVisible() or (key == self._loaded_key and not force):
            return
        self._loaded_key = key
        self.runner.cancel()  # clustering or predicting for the previous run is no longer wanted
        project = copy.deepcopy(self.doc.project)  # the worker gets its own copy of the project as it is now
        if self.results is None:
            self.message.show_message("Loading the trained model…", describe_run(self._record(run_id)))
            self.pages.setCurrentWidget(self.message)
        self.runner.submit("load", "Loading the model and predicting the validation samples",
                           lambda progress: self.session.load(project, run_id, progress),
                           lambda results: self._show_results(results, key), self._load_failed)

    def _record(self, run_id: str) -> dict[str, Any]:
        return next((r for r in self.doc.project.runs if str(r.get("id")) == run_id), {"id": run_id})

    def cancel(self) -> None:
        loading = self._loaded_key != self._shown_key
        self.runner.cancel()
        self._loaded_key = self._shown_key  # what is on screen stays, and a later load starts afresh
        if loading and self.results is None:
            self.message.show_message("Loading cancelled", "Press the refresh button to load the run again.")

    def shutdown(self) -> None:
        """Stop the background work and wait for it (the window is closing)."""
        self.runner.shutdown()

    def _show_empty_state(self) -> None:
        detail = EMPTY_DETAIL if self._project_file() else UNSAVED_DETAIL
        self.message.show_message(EMPTY_TITLE, detail)
        self.pages.setCurrentWidget(self.message)

    def _load_failed(self, message: str) -> None:
        self.results, self._shown_key = None, None
        self.message.show_message("Cannot show the results of this run", message, icon="error", error=True)
        self.pages.setCurrentWidget(self.message)

    # --- the tabs --------------------------------------------------------------------------------------

    def _build_tabs(self) -> QTabWidget:
        # Imported here: the plots need pyqtgraph, which the window does not need to start.
        from studio.gui.analysis.clusters_view import ClustersView
        from studio.gui.analysis.evaluation_view import EvaluationView
        from studio.gui.analysis.gallery_view import GalleryView
        from studio.gui.analysis.regions_view import RegionsView

        tabs = QTabWidget()
        tabs.setDocumentMode(True)
        self.evaluation, self.gallery = EvaluationView(), GalleryView()
        self.regions, self.clusters = RegionsView(), ClustersView()
        tabs.addTab(self.evaluation, "Evaluation")
        tabs.addTab(self.gallery, "Predictions")
        tabs.addTab(self.regions, "Decision regions")
        tabs.addTab(self.clusters, "k-means")
        self.evaluation.cell_clicked.connect(self._show_cell)
        self.gallery.predict_requested.connect(self.predict_images)
        self.clusters.cluster_requested.connect(self.cluster)
        self.clusters.compare_requested.connect(self.compare_layers)
        self.clusters.rows_chosen.connect(self._show_rows)
        self.pages.addWidget(tabs)
        return tabs

    def _show_results(self, results: RunResults, key: tuple[str, str]) -> None:
        if self.tabs is None:
            self.tabs = self._build_tabs()
        self.results, self._shown_key = results, key
        p = results.predictions
        self.evaluation.set_report(results.report, results.regression)
        self.gallery.set_results(p, results.info, results.samples)
        self.regions.set_regions(results.regions, p.class_names, results.regions_note)
        index = self.tabs.indexOf(self.regions)
        self.tabs.setTabEnabled(index, results.regions is not None)
        self.tabs.setTabToolTip(index, results.regions_note or "The model's prediction all over the plane")
        self.clusters.set_results(results.layers, results.default_layer, p, results.info, results.samples)
        self.pages.setCurrentWidget(self.tabs)
        self.loaded.emit()

    def _show_cell(self, true_class: int, predicted_class: int) -> None:
        self.gallery.show_cell(true_class, predicted_class)
        self.tabs.setCurrentWidget(self.gallery)

    def _show_rows(self, rows: np.ndarray, label: str) -> None:
        self.gallery.show_rows(rows, label)
        self.tabs.setCurrentWidget(self.gallery)

    # --- background work asked for by the tabs ---------------------------------------------------------

    def cluster(self, request: ClusterRequest) -> None:
        self.runner.submit("cluster", f"Clustering the features of '{request.layer}'",
                           lambda progress: self.session.cluster(request, progress),
                           self.clusters.set_analysis, self._clusters_failed)

    def compare_layers(self, k: int, standardize: bool) -> None:
        self.runner.submit("compare", "Clustering every layer",
                           lambda progress: self.session.compare(k, standardize, progress),
                           lambda table: self.clusters.set_comparison(table, k), self._clusters_failed)

    def _clusters_failed(self, message: str) -> None:
        self.clusters.show_message(message, error=True)

    def predict_images(self, paths: list[str]) -> None:
        self.tabs.setCurrentWidget(self.gallery)
        self.runner.submit("predict", "Predicting the images",
                           lambda _progress: self.session.predict_files(list(paths)),
                           self.gallery.image_panel.show_predictions, self.gallery.image_panel.show_error)

    # --- progress and palette --------------------------------------------------------------------------

    def _busy_changed(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if not busy:
            self.status.setText("")

    def _progress(self, label: str, done: int, total: int) -> None:
        self.status.setText(label + "…")
        self.progress.setRange(0, total)  # 0..0: a busy bar until the job reports its first step
        self.progress.setValue(done)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.message.apply_palette()
            for view in (self.regions, self.clusters, self.gallery, self.evaluation):
                if view is not None:
                    view.apply_palette()
        super().changeEvent(event)
