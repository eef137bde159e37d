"""Colours, fonts, plot styling and the small widgets shared by the Results views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QLabel, QToolButton

from studio.gui import theme

if TYPE_CHECKING:
    import pyqtgraph as pg

# Tableau 10: distinguishable, and still distinguishable for most colour-blind eyes.
CLASS_HUES = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
              "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
GOLDEN_ANGLE = 137.508  # hues spaced like this never repeat, for the classes beyond ten


def class_colours(count: int) -> list[QColor]:
    """One colour per class (or cluster), lighter on a dark palette."""
    colours = [QColor(CLASS_HUES[i]) if i < len(CLASS_HUES)
               else QColor.fromHsvF((i * GOLDEN_ANGLE / 360.0) % 1.0, 0.55, 0.85) for i in range(count)]
    return [c.lighter(115) if theme.is_dark() else c for c in colours]


def role(name: QPalette.ColorRole) -> QColor:
    return theme.palette().color(name)


def base() -> QColor:
    return role(QPalette.ColorRole.Base)


def text() -> QColor:
    return role(QPalette.ColorRole.Text)


def muted() -> QColor:
    return theme.mix(text(), base(), 0.45)


def accent() -> QColor:
    return role(QPalette.ColorRole.Highlight)


def heat(share: float, colour: QColor) -> QColor:
    """The base colour moved `share` (0..1) of the way towards `colour`: a heat-map cell."""
    return theme.mix(base(), colour, max(0.0, min(1.0, share)))


def text_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on `background`."""
    luminance = 0.2126 * background.redF() + 0.7152 * background.greenF() + 0.0722 * background.blueF()
    return QColor("#111111") if luminance > 0.55 else QColor("#ffffff")


def scaled_font(font: QFont, factor: float, *, bold: bool = False) -> QFont:
    result = QFont(font)
    result.setPointSizeF(font.pointSizeF() * factor)
    result.setBold(bold)
    return result


def style_plot(plot: pg.PlotWidget) -> None:
    """A plot in the palette's colours: base background, quiet axes and grid."""
    plot.setBackground(base())
    axis_colour, label_colour = theme.mix(text(), base(), 0.6), theme.mix(text(), base(), 0.15)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(axis_colour)
        axis.setTextPen(label_colour)
    plot.showGrid(x=True, y=True, alpha=0.12)


def segment(text: str, tip: str) -> QToolButton:
    """A checkable button, one of a group of exclusive choices ("Counts" | "Share of true class")."""
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setCheckable(True)
    # The chosen one in the accent colour: Fusion's checked state is hard to see on a dark palette.
    button.setStyleSheet("QToolButton { padding: 3px 10px; border: 1px solid palette(mid);"
                         " border-radius: 3px; }"
                         "QToolButton:checked { background: palette(highlight);"
                         " border-color: palette(highlight); color: palette(highlighted-text); }")
    return button


def title(text: str, font: QFont) -> QLabel:
    """A bold heading over a group of controls."""
    label = QLabel(text)
    label.setFont(scaled_font(font, 1.0, bold=True))
    label.setContentsMargins(0, 6, 0, 0)
    return label
