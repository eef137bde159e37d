"""The Predictions tab: every validation sample with its true label and the model's prediction.

Images are shown as thumbnails, other samples as rows of values. The user filters (all, mistakes, a
class, a confusion cell, a cluster), sorts by confidence and pages through the result; image files
dropped on the tab (or chosen with "Predict an image…") are predicted by the model.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFontMetrics, QPainter, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.analysis.predictions import Predictions, page, page_count
from studio.data import DatasetInfo
from studio.gui import icons, theme
from studio.gui.analysis import style
from studio.gui.analysis.gallery_model import (
    MISTAKE_ROLE,
    ROW_ROLE,
    SAMPLE_TEXT_ROLE,
    TRUE_ROLE,
    GalleryFilter,
    GalleryModel,
    SortKey,
    ordered,
)
from studio.gui.analysis.image_prediction import ImagePredictionPanel

Index = QModelIndex | QPersistentModelIndex
PAGE_SIZE = 100
IMAGE_FILES = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"
# The entries of the "Show" box; "selection" (a confusion cell or a cluster) appears when one is chosen.
FILTERS = (("all", "All samples"), ("mistakes", "Mistakes only"), ("true", "True class"),
           ("predicted", "Predicted class"))
SORTS: tuple[tuple[SortKey, str], ...] = (("sample", "Sample order"), ("descending", "Most confident first"),
                                          ("ascending", "Least confident first"))
REGRESSION_SORTS: tuple[tuple[SortKey, str], ...] = (("sample", "Sample order"),
                                                     ("descending", "Largest error first"),
                                                     ("ascending", "Smallest error first"))


class GalleryDelegate(QStyledItemDelegate):
    """A tile (thumbnail over two lines of text) for images, a one-line row for other samples."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles = True
        self.thumbnail = 72

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return self.item_size(option.fontMetrics)

    def item_size(self, metrics: QFontMetrics) -> QSize:
        line = metrics.height()
        if self.tiles:
            return QSize(max(self.thumbnail + 20, 118), self.thumbnail + 2 * line + 24)
        return QSize(400, line + 14)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        mistake = bool(index.data(MISTAKE_ROLE))
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        error = theme.error_colour()
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        box = QRectF(option.rect).adjusted(2.5, 2.5, -2.5, -2.5)
        fill = theme.mix(style.base(), error if mistake else style.text(), 0.10 if mistake else 0.03)
        edge = error if mistake else theme.mix(style.base(), style.text(), 0.15)
        border = style.accent() if selected else edge
        painter.setBrush(fill)
        painter.setPen(border)
        painter.drawRoundedRect(box, 5, 5)
        if self.tiles:
            self._paint_tile(painter, option, index, box, mistake)
        else:
            self._paint_row(painter, option, index, box, mistake)
        painter.restore()

    def _paint_tile(self, painter: QPainter, option: QStyleOptionViewItem, index: Index, box: QRectF,
                    mistake: bool) -> None:
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        line = option.fontMetrics.height()
        area = QRect(int(box.left()), int(box.top()) + 6, int(box.width()), self.thumbnail)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            target = pixmap.rect()
            target.moveCenter(area.center())
            painter.drawPixmap(target, pixmap)
        text_top = area.bottom() + 6
        width = int(box.width()) - 8
        left = int(box.left()) + 4
        painter.setPen(style.muted())
        painter.setFont(option.font)
        truth = option.fontMetrics.elidedText(str(index.data(TRUE_ROLE)), Qt.TextElideMode.ElideRight, width)
        painter.drawText(QRect(left, text_top, width, line), Qt.AlignmentFlag.AlignHCenter, truth)
        painter.setPen(theme.error_colour() if mistake else style.text())
        bold = style.scaled_font(option.font, 1.0, bold=True)
        painter.setFont(bold)
        caption = str(index.data(Qt.ItemDataRole.DisplayRole))
        painter.drawText(QRect(left, text_top + line, width, line + 2), Qt.AlignmentFlag.AlignHCenter,
                         painter.fontMetrics().elidedText(caption, Qt.TextElideMode.ElideRight, width))

    def _paint_row(self, painter: QPainter, option: QStyleOptionViewItem, index: Index, box: QRectF,
                   mistake: bool) -> None:
        metrics = option.fontMetrics
        inner = box.toRect().adjusted(10, 0, -10, 0)
        flags = Qt.AlignmentFlag.AlignVCenter
        bold = style.scaled_font(option.font, 1.0, bold=True)
        caption = str(index.data(Qt.ItemDataRole.DisplayRole))
        truth = str(index.data(TRUE_ROLE))
        caption_width = max(painter.fontMetrics().horizontalAdvance(caption) + 30, 200)
        truth_width = max(metrics.horizontalAdvance(truth) + 24, 150)
        right = QRect(inner.right() - caption_width, inner.top(), caption_width, inner.height())
        middle = QRect(right.left() - truth_width, inner.top(), truth_width, inner.height())
        painter.setFont(bold)
        painter.setPen(theme.error_colour() if mistake else style.text())
        painter.drawText(right, flags | Qt.AlignmentFlag.AlignRight, caption)
        painter.setFont(option.font)
        painter.setPen(style.muted())
        painter.drawText(middle, flags | Qt.AlignmentFlag.AlignRight, truth)
        row = f"#{index.data(ROW_ROLE)}"
        row_width = metrics.horizontalAdvance("#00000") + 8
        painter.drawText(QRect(inner.left(), inner.top(), row_width, inner.height()), flags, row)
        painter.setPen(style.text())
        text_rect = QRect(inner.left() + row_width, inner.top(), middle.left() - inner.left() - row_width - 8,
                          inner.height())
        painter.drawText(text_rect, flags, metrics.elidedText(str(index.data(SAMPLE_TEXT_ROLE)),
                                                              Qt.TextElideMode.ElideRight, text_rect.width()))


class GalleryList(QListView):
    """A list whose tiles spread evenly over its width, leaving no empty strip at the right."""

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.spread()

    def spread(self) -> None:
        delegate = self.itemDelegate()
        if self.viewMode() != QListView.ViewMode.IconMode or not isinstance(delegate, GalleryDelegate):
            self.setGridSize(QSize())
            return
        tile = delegate.item_size(self.fontMetrics())
        width = self.viewport().width() - 2
        columns = max(1, width // tile.width())
        self.setGridSize(QSize(max(tile.width(), width // columns), tile.height()))


class GalleryView(QWidget):
    """`predict_requested(paths)` when image files are dropped or chosen."""

    predict_requested = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.predictions: Predictions | None = None
        self.info: DatasetInfo | None = None
        self.filter = GalleryFilter()
        self.sort: SortKey = "sample"
        self.page_number = 0
        self.rows = np.zeros(0, dtype=np.int64)  # every row the filter passes, in the chosen order
        self.model = GalleryModel()
        self.delegate = GalleryDelegate()
        self._make_toolbar()
        self.view = GalleryList()
        self.view.setModel(self.model)
        self.view.setItemDelegate(self.delegate)
        self.view.setUniformItemSizes(True)  # sizes from the first item only: never a thumbnail per item
        self.view.setMovement(QListView.Movement.Static)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setDragEnabled(False)
        self.view.setAcceptDrops(False)  # drops reach this widget, which predicts them
        self.view.clicked.connect(self._sample_clicked)
        self.image_panel = ImagePredictionPanel()
        self.image_panel.setMinimumWidth(240)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.image_panel)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setSizes([900, 280])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(self.toolbar)
        layout.addWidget(self.splitter, 1)
        self.setAcceptDrops(True)

    def apply_palette(self) -> None:
        self.image_panel.apply_palette()
        self.view.viewport().update()

    def _make_toolbar(self) -> None:
        self.filter_box = QComboBox()
        self.filter_box.setToolTip("Which samples to show")
        self.filter_box.activated.connect(self._filter_chosen)
        self.class_box = QComboBox()
        self.class_box.setToolTip("The class to show")
        self.class_box.activated.connect(self._filter_chosen)
        self.sort_box = QComboBox()
        self.sort_box.setToolTip("The order of the samples")
        self.sort_box.activated.connect(lambda i: self.set_sort(self.sort_box.itemData(i)))
        self.count_label = QLabel()
        self.previous_button = _arrow(Qt.ArrowType.LeftArrow, "Previous page")
        self.previous_button.clicked.connect(lambda: self.show_page(self.page_number - 1))
        self.next_button = _arrow(Qt.ArrowType.RightArrow, "Next page")
        self.next_button.clicked.connect(lambda: self.show_page(self.page_number + 1))
        self.page_label = QLabel()
        self.predict_button = QPushButton(icons.icon("image"), "Predict an image…")
        self.predict_button.setToolTip("Choose image files and see what the model predicts for them "
                                       "(you can also drop them on the gallery)")
        self.predict_button.clicked.connect(self._choose_images)
        self.toolbar = QHBoxLayout()
        for widget in (QLabel("Show"), self.filter_box, self.class_box, QLabel("Sort"), self.sort_box):
            self.toolbar.addWidget(widget)
        self.toolbar.addSpacing(12)
        self.toolbar.addWidget(self.count_label, 1)
        for widget in (self.previous_button, self.page_label, self.next_button):
            self.toolbar.addWidget(widget)
        self.toolbar.addSpacing(12)
        self.toolbar.addWidget(self.predict_button)

    # --- what is shown ---------------------------------------------------------------------------------

    def set_results(self, predictions: Predictions | None, info: DatasetInfo | None,
                    samples: np.ndarray | None) -> None:
        self.predictions, self.info = predictions, info
        self.model.set_source(predictions, info, samples)
        images = self.model.images
        self.delegate.tiles = images
        self.view.setViewMode(QListView.ViewMode.IconMode if images else QListView.ViewMode.ListMode)
        self.view.setFlow(QListView.Flow.LeftToRight if images else QListView.Flow.TopToBottom)
        self.view.setWrapping(images)
        self.view.spread()
        self.image_panel.setVisible(images)
        self.predict_button.setVisible(images)
        classify = predictions is not None and predictions.is_classification
        self.filter_box.setEnabled(classify)
        self.sort_box.clear()
        for key, text in SORTS if classify or predictions is None else REGRESSION_SORTS:
            self.sort_box.addItem(text, key)
        self.class_box.clear()
        if classify:
            self.class_box.addItems(predictions.class_names)
        # Classifiers' samples sorted by confidence, most confident first; regression in sample order.
        self.sort = "descending" if classify else "sample"
        self.sort_box.setCurrentIndex(max(0, self.sort_box.findData(self.sort)))
        self.set_filter(GalleryFilter())

    def set_filter(self, chosen: GalleryFilter) -> None:
        """Show the samples `chosen` passes, from the first page."""
        self.filter = chosen
        self._sync_filter_boxes()
        self._refresh(0)

    def show_cell(self, true_class: int, predicted_class: int) -> None:
        self.set_filter(GalleryFilter("cell", true_class, predicted_class))

    def show_rows(self, rows: np.ndarray, label: str) -> None:
        self.set_filter(GalleryFilter("rows", rows=np.asarray(rows, dtype=np.int64), label=label))

    def set_sort(self, key: SortKey) -> None:
        self.sort = key
        self.sort_box.setCurrentIndex(max(0, self.sort_box.findData(key)))
        self._refresh(0)

    def show_page(self, number: int) -> None:
        self._refresh(number)

    @property
    def page_rows(self) -> np.ndarray:
        """The rows of the page on screen."""
        return self.model.rows

    @property
    def pages(self) -> int:
        return page_count(len(self.rows), PAGE_SIZE)

    def _refresh(self, number: int) -> None:
        if self.predictions is None:
            self.rows = np.zeros(0, dtype=np.int64)
        else:
            self.rows = ordered(self.predictions, self.filter.select(self.predictions), self.sort)
        self.page_number = max(0, min(number, self.pages - 1))
        self.model.set_rows(page(self.rows, self.page_number, PAGE_SIZE))
        self.view.scrollToTop()
        self.page_label.setText(f"Page {self.page_number + 1} of {self.pages}")
        self.previous_button.setEnabled(self.page_number > 0)
        self.next_button.setEnabled(self.page_number < self.pages - 1)
        total = len(self.predictions) if self.predictions is not None else 0
        shown = len(self.rows)
        mistakes = ""
        if self.predictions is not None and self.predictions.is_classification and shown:
            wrong = int((self.predictions.true[self.rows] != self.predictions.predicted[self.rows]).sum())
            mistakes = f" · {wrong:,} mistaken"
        self.count_label.setText(f"{shown:,} of {total:,} samples{mistakes}")

    def _sample_clicked(self, index: QModelIndex) -> None:
        """A clicked image sample, large beside the gallery, with every class's probability."""
        p, info, samples = self.predictions, self.info, self.model.samples
        if p is None or info is None or samples is None or not self.model.images or not p.is_classification:
            return
        row = int(index.data(ROW_ROLE))
        probabilities = p.probabilities[row]
        ranking = [(p.class_names[c], float(probabilities[c]))
                   for c in np.argsort(-probabilities, kind="stable")]
        verdict = "right" if int(p.true[row]) == int(p.predicted[row]) else "wrong"
        self.image_panel.show_sample(f"Validation sample {row}", info.sample_image(samples[row]), ranking,
                                     f"true class: {p.class_names[int(p.true[row])]} ({verdict})")

    def _sync_filter_boxes(self) -> None:
        box = self.filter_box
        box.clear()
        for key, text in FILTERS:
            box.addItem(text, key)
        if self.filter.kind in ("cell", "rows") and self.predictions is not None:
            box.insertSeparator(box.count())
            box.addItem(self.filter.describe(self.predictions.class_names), "selection")
        current = "selection" if self.filter.kind in ("cell", "rows") else self.filter.kind
        box.setCurrentIndex(box.findData(current))
        by_class = self.filter.kind in ("true", "predicted")
        self.class_box.setVisible(by_class)
        if by_class:
            chosen = self.filter.true_class if self.filter.kind == "true" else self.filter.predicted_class
            self.class_box.setCurrentIndex(chosen or 0)

    def _filter_chosen(self) -> None:
        key = self.filter_box.currentData()
        if key == "selection":
            return  # the chosen cell or cluster stays as it is
        chosen = max(0, self.class_box.currentIndex())
        if key == "true":
            self.set_filter(GalleryFilter("true", true_class=chosen))
        elif key == "predicted":
            self.set_filter(GalleryFilter("predicted", predicted_class=chosen))
        else:
            self.set_filter(GalleryFilter(key))

    # --- predicting image files ------------------------------------------------------------------------

    def ask_image_paths(self) -> list[str]:
        paths, _ = QFileDialog.getOpenFileNames(self, "Predict images", "", IMAGE_FILES)
        return paths

    def _choose_images(self) -> None:
        paths = self.ask_image_paths()
        if paths:
            self.predict_requested.emit(paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _local_files(event) and self.model.images:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragEnterEvent) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = _local_files(event)
        if paths:
            event.acceptProposedAction()
            self.predict_requested.emit(paths)


def _local_files(event: QDropEvent) -> list[str]:
    mime = event.mimeData()
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


def _arrow(arrow: Qt.ArrowType, tip: str) -> QToolButton:
    button = QToolButton()
    button.setArrowType(arrow)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    return button
