"""The "Predict an image" panel: the model's answer for image files, with every class's probability."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QComboBox, QFrame, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from studio.analysis.images import Ranking
from studio.gui import theme
from studio.gui.analysis import style
from studio.gui.analysis.gallery_model import pixmap_from_rgb
from studio.gui.analysis.session import ImagePrediction

if TYPE_CHECKING:
    import numpy as np

IMAGE_SIZE = 128
NAME_WIDTH = 90  # at most; names are elided beyond it


class ProbabilityBars(QWidget):
    """Every class with a bar as long as its probability, most probable first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ranking: Ranking = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_ranking(self, ranking: Ranking) -> None:
        self.ranking = list(ranking)
        self.updateGeometry()
        self.update()

    def _row_height(self) -> int:
        return self.fontMetrics().height() + 8

    def sizeHint(self) -> QSize:
        return QSize(240, self._row_height() * len(self.ranking) + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, self.sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = self.fontMetrics()
        row_height = self._row_height()
        widest = max((metrics.horizontalAdvance(name) for name, _ in self.ranking), default=0)
        name_width = min(NAME_WIDTH, widest) + 8
        value_width = metrics.horizontalAdvance("0.000") + 8
        bar_width = max(10, self.width() - name_width - value_width)
        track = theme.mix(style.base(), style.text(), 0.08)
        for i, (name, probability) in enumerate(self.ranking):
            top = i * row_height + 2
            painter.setPen(style.text())
            text_rect = QRectF(0, top, name_width - 8, row_height)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             metrics.elidedText(name, Qt.TextElideMode.ElideRight, name_width - 8))
            bar = QRectF(name_width, top + 4, bar_width, row_height - 8)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(track)
            painter.drawRoundedRect(bar, 3, 3)
            painter.setBrush(style.accent() if i == 0 else theme.mix(style.accent(), style.base(), 0.35))
            filled = QRectF(bar.left(), bar.top(), max(2.0, bar_width * probability), bar.height())
            painter.drawRoundedRect(filled, 3, 3)
            painter.setPen(style.text() if i == 0 else style.muted())
            painter.drawText(QRectF(name_width + bar_width, top, value_width, row_height),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             f"{probability:.3f}")
        painter.end()


class ImagePredictionPanel(QFrame):
    """Shows the results of one "predict" request; several files can be flipped through."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: list[ImagePrediction] = []
        title = self.title = QLabel("Predict an image")
        title.setFont(style.scaled_font(self.font(), 1.1, bold=True))
        self.hint = QLabel("Drop image files on the gallery, or choose them with <b>Predict an image…</b> "
                           "to see what the model makes of them.")
        self.hint.setWordWrap(True)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.files = QComboBox()
        self.files.setToolTip("The files predicted")
        self.files.currentIndexChanged.connect(self._show)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumHeight(IMAGE_SIZE + 8)
        self.answer = QLabel()
        self.answer.setFont(style.scaled_font(self.font(), 1.35, bold=True))
        self.answer.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.bars = ProbabilityBars()
        bars_area = QScrollArea()
        bars_area.setWidget(self.bars)
        bars_area.setWidgetResizable(True)
        bars_area.setFrameShape(QFrame.Shape.NoFrame)
        self.result = QWidget()
        result_layout = QVBoxLayout(self.result)
        result_layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.files, self.image, self.answer, self.caption):
            result_layout.addWidget(widget)
        result_layout.addSpacing(4)
        result_layout.addWidget(bars_area, 1)
        self.result.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 8, 8)
        layout.addWidget(title)
        layout.addWidget(self.hint)
        layout.addWidget(self.error)
        layout.addWidget(self.result, 1)
        layout.addStretch(0)
        self.apply_palette()

    def apply_palette(self) -> None:
        self.hint.setStyleSheet(f"color: {style.muted().name()};")
        self.error.setStyleSheet(f"color: {theme.error_colour().name()};")
        self.caption.setStyleSheet(f"color: {style.muted().name()};")

    def show_sample(self, title: str, pixels: np.ndarray, ranking: Ranking, caption: str) -> None:
        """One validation sample, large, with every class's probability (a sample clicked in the gallery)."""
        self.results = []
        self.title.setText(title)
        self.hint.hide()
        self.error.hide()
        self.files.hide()
        self.image.setPixmap(pixmap_from_rgb(pixels, IMAGE_SIZE))
        self.image.setToolTip("as the model sees it")
        name, probability = ranking[0]
        self.answer.setText(f"{name[:1].upper()}{name[1:]}, prob. {probability:.2f}")
        self.caption.setText(caption)
        self.bars.set_ranking(ranking)
        self.result.show()

    def show_predictions(self, results: list[ImagePrediction]) -> None:
        self.title.setText("Predict an image")
        self.results = list(results)
        self.error.hide()
        self.files.blockSignals(True)
        self.files.clear()
        self.files.addItems([_file_name(r.path) for r in self.results])
        self.files.blockSignals(False)
        self.files.setVisible(len(self.results) > 1)
        self.result.setVisible(bool(self.results))
        self._show(0)

    def show_error(self, message: str) -> None:
        self.error.setText(message[:1].upper() + message[1:])
        self.error.show()
        self.result.hide()

    def _show(self, index: int) -> None:
        if not 0 <= index < len(self.results):
            return
        shown = self.results[index]
        self.image.setPixmap(pixmap_from_rgb(shown.pixels, IMAGE_SIZE))
        self.image.setToolTip(f"{shown.path}\nas the model sees it")
        name, probability = shown.ranking[0]
        self.answer.setText(f"{name[:1].upper()}{name[1:]}, prob. {probability:.2f}")
        self.caption.setText(_file_name(shown.path))
        self.bars.set_ranking(shown.ranking)


def _file_name(path: str) -> str:
    return Path(path).name
