"""The Decision regions tab: for a classifier of 2-D points, its prediction everywhere in the plane.

The background is the predicted class at every grid point, stronger where the model is more sure;
the samples are drawn over it in their true class's colour (validation samples larger, mistakes ringed
in the error colour).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from studio.gui import theme
from studio.gui.analysis import style
from studio.gui.analysis.session import RegionsData

# The shading of a region: from this much of the class colour where the model hesitates (p = 1/classes)
# to the full amount where it is certain.
FAINTEST, STRONGEST = 0.10, 0.55


def region_image(data: RegionsData, colours: list[QColor], background: QColor) -> np.ndarray:
    """The grid as an RGB image (rows: y, columns: x): each class colour over `background` by confidence."""
    grid = data.grid
    classes = grid.probabilities.shape[-1]
    confidence = grid.probabilities.max(axis=-1)
    certainty = np.clip((confidence - 1.0 / classes) / (1.0 - 1.0 / classes), 0.0, 1.0)
    # On a dark background full colours drown the samples drawn over them.
    strongest = STRONGEST * (0.7 if theme.is_dark() else 1.0)
    strength = (FAINTEST + (strongest - FAINTEST) * certainty)[..., None]
    palette = np.array([[c.red(), c.green(), c.blue()] for c in colours], dtype=np.float32)
    back = np.array([background.red(), background.green(), background.blue()], dtype=np.float32)
    rgb = back + (palette[grid.classes] - back) * strength
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


class RegionsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: RegionsData | None = None
        self.class_names: list[str] = []
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.legend = self.plot.addLegend(offset=(10, 10))
        self.scatters: list[pg.ScatterPlotItem] = []  # the samples, one item per class and part of the data
        self.mistakes = pg.ScatterPlotItem(size=15, brush=None, antialias=True, name="mistake")
        self.caption = QLabel("Background: the class the model predicts there, stronger where it is more "
                              "certain. Large dots: validation samples; small dots: training samples; "
                              "a ring marks a mistake.")
        self.caption.setWordWrap(True)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        plot_page = QWidget()
        plot_layout = QVBoxLayout(plot_page)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        plot_layout.addWidget(self.plot, 1)
        plot_layout.addWidget(self.caption)
        self.pages = QStackedWidget()
        self.pages.addWidget(plot_page)
        self.pages.addWidget(self.note)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 6)
        layout.addWidget(self.pages)
        self.apply_palette()

    def set_regions(self, data: RegionsData | None, class_names: list[str], note: str = "") -> None:
        self.data, self.class_names = data, list(class_names)
        self.note.setText(note)
        self.pages.setCurrentIndex(0 if data is not None else 1)
        self._draw()

    def apply_palette(self) -> None:
        style.style_plot(self.plot)
        self.plot.showGrid(x=False, y=False)
        self.legend.setLabelTextColor(style.text())
        self.legend.setBrush(theme.mix(style.base(), style.text(), 0.04))
        self.legend.setPen(theme.mix(style.base(), style.text(), 0.2))
        self.caption.setStyleSheet(f"color: {style.muted().name()};")
        self.note.setStyleSheet(f"color: {style.muted().name()};")
        self._draw()

    def _draw(self) -> None:
        for item in [*self.scatters, self.mistakes]:
            self.plot.removeItem(item)
        self.scatters = []
        self.legend.clear()
        data = self.data
        if data is None:
            self.image.clear()
            return
        colours = style.class_colours(len(self.class_names))
        self.image.setImage(region_image(data, colours, style.base()), levels=(0, 255))
        xs, ys = data.grid.xs.astype(float), data.grid.ys.astype(float)  # float32 overflows pyqtgraph
        dx, dy = xs[1] - xs[0], ys[1] - ys[0]
        # Each grid value is the centre of its pixel.
        self.image.setRect(QRectF(xs[0] - dx / 2, ys[0] - dy / 2, dx * len(xs), dy * len(ys)))
        outline = theme.mix(style.text(), style.base(), 0.25)
        for validation in (False, True):
            for class_index, colour in enumerate(colours):
                chosen = (data.labels == class_index) & (data.validation == validation)
                if not chosen.any():
                    continue
                item = pg.ScatterPlotItem(
                    data.points[chosen, 0], data.points[chosen, 1], size=9 if validation else 5,
                    brush=colour, pen=pg.mkPen(outline, width=1) if validation else None, antialias=True,
                    name=self.class_names[class_index] if validation else None)
                self.plot.addItem(item)
                self.scatters.append(item)
        wrong = data.labels != data.predicted
        self.mistakes.setData(data.points[wrong, 0], data.points[wrong, 1],
                              pen=pg.mkPen(theme.error_colour(), width=2))
        if wrong.any():
            self.plot.addItem(self.mistakes)
        self.plot.setRange(xRange=(xs[0], xs[-1]), yRange=(ys[0], ys[-1]), padding=0)
