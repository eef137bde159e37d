"""The predictions gallery's data: which rows it shows (filter, order, page) and what each item says.

Thumbnails are made on demand: `data(DecorationRole)` draws a sample's pixmap the first time a view
paints it and keeps the most recent ones in a bounded cache, so a page of a large set costs only the
items that are actually on screen.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QImage, QPixmap

from studio.analysis.predictions import Predictions
from studio.data import DatasetInfo

Index = QModelIndex | QPersistentModelIndex
FilterKind = Literal["all", "mistakes", "true", "predicted", "cell", "rows"]
SortKey = Literal["sample", "descending", "ascending"]
THUMBNAIL = 72  # pixels on the longer side
MAX_THUMBNAILS = 400  # pixmaps kept; a page needs at most PAGE_SIZE of them

TRUE_ROLE = Qt.ItemDataRole.UserRole  # "True: dog"
MISTAKE_ROLE = Qt.ItemDataRole.UserRole + 1  # the prediction is wrong
ROW_ROLE = Qt.ItemDataRole.UserRole + 2  # the sample's row in the predictions
SAMPLE_TEXT_ROLE = Qt.ItemDataRole.UserRole + 3  # a row, point or sequence sample as text


@dataclass
class GalleryFilter:
    """Which samples the gallery shows."""

    kind: FilterKind = "all"
    true_class: int | None = None
    predicted_class: int | None = None
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # kind "rows"
    label: str = ""  # how a chosen set of rows is named ("cluster 3 of layer dense")

    def select(self, predictions: Predictions) -> np.ndarray:
        """The rows passing this filter, in sample order."""
        if self.kind == "mistakes":
            return predictions.select(mistakes=True)
        if self.kind == "true":
            return predictions.select(true_class=self.true_class)
        if self.kind == "predicted":
            return predictions.select(predicted_class=self.predicted_class)
        if self.kind == "cell":
            return predictions.cell(self.true_class, self.predicted_class)
        if self.kind == "rows":
            return np.sort(np.asarray(self.rows, dtype=np.int64))
        return np.arange(len(predictions))

    def describe(self, class_names: list[str]) -> str:
        """The filter in words, for the gallery's filter box."""
        if self.kind == "cell":
            return f"True {class_names[self.true_class]}, predicted {class_names[self.predicted_class]}"
        return self.label or "Chosen samples"


def ordered(predictions: Predictions, rows: np.ndarray, key: SortKey) -> np.ndarray:
    """`rows` in sample order or by confidence (classifiers) or error (regression)."""
    if key == "sample":
        return rows
    descending = key == "descending"
    if predictions.is_classification:
        return predictions.by_confidence(rows, descending=descending)
    return predictions.by_error(rows, descending=descending)


def pixmap_from_rgb(pixels: np.ndarray, size: int = THUMBNAIL) -> QPixmap:
    """An H x W x 3 uint8 image as a pixmap whose longer side is `size`.

    Small images (8 x 8 digits) are enlarged by whole factors without smoothing, so their pixels stay
    crisp; large ones are shrunk smoothly.
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    image = QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    longest = max(height, width)
    if longest < size:
        factor = max(1, size // longest)
        return QPixmap.fromImage(image.scaled(width * factor, height * factor,
                                              mode=Qt.TransformationMode.FastTransformation))
    return QPixmap.fromImage(image.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))


class GalleryModel(QAbstractListModel):
    """The items of the current page; thumbnails are drawn when a view first asks for them."""

    def __init__(self) -> None:
        super().__init__()
        self.predictions: Predictions | None = None
        self.info: DatasetInfo | None = None
        self.samples: np.ndarray | None = None
        self.rows = np.zeros(0, dtype=np.int64)
        self.thumbnail_size = THUMBNAIL
        self.thumbnails_made = 0  # how many pixmaps were drawn so far (they should be few)
        self._thumbnails: OrderedDict[int, QPixmap] = OrderedDict()

    @property
    def cached_rows(self) -> list[int]:
        """The rows whose thumbnails are kept, least recently shown first."""
        return list(self._thumbnails)

    @property
    def images(self) -> bool:
        return self.info is not None and self.info.sample_kind == "image"

    def set_source(self, predictions: Predictions | None, info: DatasetInfo | None,
                   samples: np.ndarray | None) -> None:
        self.beginResetModel()
        self.predictions, self.info, self.samples = predictions, info, samples
        self.rows = np.zeros(0, dtype=np.int64)
        self._thumbnails.clear()
        self.endResetModel()

    def set_rows(self, rows: np.ndarray) -> None:
        """Show these rows of the predictions (one page)."""
        self.beginResetModel()
        self.rows = np.asarray(rows, dtype=np.int64)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self.predictions is None or not 0 <= index.row() < len(self.rows):
            return None
        row = int(self.rows[index.row()])
        p = self.predictions
        if role == Qt.ItemDataRole.DisplayRole:
            return p.describe(row)
        if role == TRUE_ROLE:
            return f"True: {self._true_text(row)}"
        if role == MISTAKE_ROLE:
            return p.is_classification and int(p.true[row]) != int(p.predicted[row])
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.DecorationRole and self.images:
            return self._thumbnail(row)
        if role == SAMPLE_TEXT_ROLE and not self.images:
            return self.info.sample_text(self.samples[row])
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row)
        return None

    def _true_text(self, row: int) -> str:
        p = self.predictions
        if p.is_classification:
            return p.class_names[int(p.true[row])]
        return ", ".join(f"{v:.4g}" for v in p.true[row])

    def _thumbnail(self, row: int) -> QPixmap:
        cached = self._thumbnails.get(row)
        if cached is not None:
            self._thumbnails.move_to_end(row)
            return cached
        pixmap = pixmap_from_rgb(self.info.sample_image(self.samples[row]), self.thumbnail_size)
        self.thumbnails_made += 1
        self._thumbnails[row] = pixmap
        while len(self._thumbnails) > MAX_THUMBNAILS:
            self._thumbnails.popitem(last=False)
        return pixmap

    def _tooltip(self, row: int) -> str:
        p = self.predictions
        lines = [f"Validation sample {row}", f"True: {self._true_text(row)}", f"Predicted: {p.describe(row)}"]
        if p.is_classification and p.probabilities is not None:
            top = np.argsort(-p.probabilities[row], kind="stable")[:3]
            lines.append("Most probable: " + ", ".join(
                f"{p.class_names[i]} {p.probabilities[row, i]:.2f}" for i in top))
        return "\n".join(lines)
