"""A line of progress text over a thin bar, redrawn without re-laying out anything around it.

A QLabel asks its parents for a new layout whenever its text changes, and a QProgressBar repaints at
once on every new value; at thirty updates a second both showed up as work for the whole dock. The line
paints its own background, so an update repaints it alone and not the dock and window behind it.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.gui import theme

BAR_HEIGHT = 4
GAP = 3


class ProgressLine(QWidget):
    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = text
        self._fraction = 0.0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def text(self) -> str:
        return self._text

    def fraction(self) -> float:
        return self._fraction

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.setToolTip(text)
            self.update()

    def set_fraction(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        if fraction != self._fraction:
            self._fraction = fraction
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(300, self.fontMetrics().height() + GAP + BAR_HEIGHT + 2)

    def minimumSizeHint(self) -> QSize:
        return QSize(60, self.sizeHint().height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        pal = self.palette()
        role = QPalette.ColorRole
        painter = QPainter(self)
        painter.fillRect(self.rect(), pal.color(self.backgroundRole()))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text_height = self.fontMetrics().height()
        painter.setPen(pal.color(role.WindowText))
        shown = self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, self.width())
        painter.drawText(0, 0, self.width(), text_height, Qt.AlignmentFlag.AlignVCenter, shown)
        track = QRectF(0, text_height + GAP, self.width(), BAR_HEIGHT)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.mix(pal.color(role.Base), pal.color(role.Text), 0.12))
        painter.drawRoundedRect(track, BAR_HEIGHT / 2, BAR_HEIGHT / 2)
        if self._fraction > 0:
            painter.setBrush(pal.color(role.Highlight))
            painter.drawRoundedRect(QRectF(track.x(), track.y(), track.width() * self._fraction, BAR_HEIGHT),
                                    BAR_HEIGHT / 2, BAR_HEIGHT / 2)
        painter.end()
