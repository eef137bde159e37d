"""The training curves: loss (per batch, smoothed, per epoch), accuracy or MAE, and the learning rate.

pyqtgraph is imported with this module, which the panel loads only when the curves are first shown, so
the window opens without paying for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette, QShowEvent
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from studio.gui import theme
from studio.gui.training.buffers import GrowingSeries, RunSeries

# Hues that stay apart from each other in both palettes; the first two are training and validation.
SERIES_COLOURS = ("#3b7dd8", "#e07b24", "#2f9e62", "#d0457e", "#8a5cd1", "#159aa6", "#b3861d", "#6f7f94")
RAW_ALPHA = 70  # the per-batch loss is drawn faint: it is noisy, the smoothed line carries the trend
SYMBOL_SIZE = 5
LEGEND_GAP = "&nbsp;&nbsp;&nbsp; "
LOG_LR_SPAN = 10  # a learning rate that changes more than tenfold is drawn on a log axis
# The loss axis runs from 0 to a little above the highest loss, and moves only when the loss leaves it or
# falls below this share of it: axes that move every frame are redrawn every frame, and cost the most.
LOSS_HEADROOM = 1.08
LOSS_SHRINK = 0.4
ACCURACY_STEP = 0.1  # the accuracy axis runs from the lowest accuracy, rounded down to this step, to 1
Span = tuple[float, float]  # (bottom, top) of an axis
ACCURACY_MARGIN = 0.03  # of the span, so points at 0 or 1 are not cut in half


def sticky_range(shown: Span, low: float, high: float) -> Span:
    """From 0 (or the lowest value, if negative) to a little above the highest value; kept while the
    values stay inside it and fill a fair share of it."""
    low = min(0.0, low)
    bottom, top = shown
    if low < bottom or high > top or high < bottom + (top - bottom) * LOSS_SHRINK:
        return low, low + ((high - low) or 1.0) * LOSS_HEADROOM
    return shown


def accuracy_range(_shown: Span, low: float, _high: float) -> Span:
    """Up to 1, from the lowest accuracy rounded down to a step: it moves a few times a run, not every
    epoch, and shows the last few percent in detail once the model is good."""
    floor = max(0.0, math.floor(round(low / ACCURACY_STEP, 6)) * ACCURACY_STEP)
    margin = (1.0 - floor) * ACCURACY_MARGIN
    return floor - margin, 1.0 + margin


def series_colour(index: int) -> QColor:
    colour = QColor(SERIES_COLOURS[index % len(SERIES_COLOURS)])
    return colour.lighter(130) if theme.is_dark() else colour


def style_plot(plot: pg.PlotItem, title: str, *, x_label: str = "epoch") -> None:
    """Colours from the application palette (light or dark), light grid, small title."""
    pal = theme.palette()
    text = pal.color(QPalette.ColorRole.Text)
    base = pal.color(QPalette.ColorRole.Base)
    muted = theme.mix(text, base, 0.35)
    plot.setTitle(title, color=text.name(), size="9pt", justify="left")
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(theme.mix(text, base, 0.6)))
        axis.setTextPen(pg.mkPen(muted))
        axis.enableAutoSIPrefix(False)
    plot.setLabel("bottom", x_label, color=muted.name(), size="8pt")
    # A GridItem, not the axes' own grid: that one is redrawn with every frame and made each repaint of a
    # plot 25x slower (14 ms instead of 0.5). One level of lines, at the axes' major spacing.
    grid = next((item for item in plot.items if isinstance(item, pg.GridItem)), None)
    if grid is None:
        grid = pg.GridItem(textPen=None)
        grid.setTickSpacing(x=[None], y=[None])
        grid.setZValue(-100)
        cache_drawing(grid)
        plot.addItem(grid, ignoreBounds=True)
    grid.setPen(pg.mkPen(theme.mix(base, text, 0.1)))
    plot.setMenuEnabled(False)
    plot.hideButtons()


def plot_widget() -> pg.PlotWidget:
    widget = pg.PlotWidget(background=theme.palette().color(QPalette.ColorRole.Base))
    widget.setMinimumSize(120, 100)
    return widget


def plot_row(*plots: tuple[QWidget, int]) -> QHBoxLayout:
    """Plot widgets side by side, each (widget, stretch)."""
    row = QHBoxLayout()
    row.setSpacing(6)
    for widget, stretch in plots:
        row.addWidget(widget, stretch)
    return row


def cache_drawing(item: pg.GraphicsObject) -> None:
    """Keep the item's drawing as a pixmap, redrawn only when the item changes (or the view does), not
    whenever something next to it does."""
    for part in [item, *item.childItems()]:
        part.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def clear_curves(plot: pg.PlotItem) -> None:
    """Remove the curves, keeping the grid."""
    for item in plot.listDataItems():
        plot.removeItem(item)


@dataclass
class ShownRun:
    """A run on the curves. `colour` None means the only run shown: training and validation then get the
    first two series colours; with a colour (comparing runs) validation is drawn dashed."""

    key: str
    label: str
    series: RunSeries
    colour: QColor | None = None
    detailed: bool = True  # draw the per-batch loss too (the run in focus)
    items: list[Curve] = field(default_factory=list)


@dataclass
class Curve:
    """One plotted line and the buffer it shows; `drawn` points of it are on screen."""

    item: pg.PlotDataItem
    series: GrowingSeries
    drawn: int = -1


def swatch(colour: QColor, mark: str, text: str) -> str:
    """A legend entry: `mark` drawn in `colour`, then `text`."""
    css = f"rgba({colour.red()}, {colour.green()}, {colour.blue()}, {colour.alphaF():.2f})"
    return f'<span style="color: {css}; font-weight: bold;">{mark}</span>&nbsp;{text}'


def legend_html(runs: list[ShownRun]) -> str:
    """One legend line for all three plots (legends inside small plots hide the curves)."""
    if len(runs) == 1 and runs[0].colour is None:
        train, val = series_colour(0), series_colour(1)
        faint = QColor(train)
        faint.setAlpha(RAW_ALPHA * 2)
        entries = [(faint, "━━", "loss per batch"), (train, "━━", "smoothed"), (train, "━●━", "training"),
                   (val, "━●━", "validation")]
        if not runs[0].detailed:
            entries = entries[2:]
    else:
        entries = []
        for run in runs:
            colour = run.colour or series_colour(0)
            entries += [(colour, "━●━", f"{run.label} training"), (colour, "╍●╍", "validation")]
    return LEGEND_GAP.join(swatch(colour, mark, text) for colour, mark, text in entries)


class CurvesView(QWidget):
    """Three plots side by side; `show_runs` sets which runs they show, `refresh` redraws one of them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_widget, self.metric_widget, self.lr_widget = plot_widget(), plot_widget(), plot_widget()
        self.loss_plot = self.loss_widget.getPlotItem()
        self.metric_plot = self.metric_widget.getPlotItem()
        self.lr_plot = self.lr_widget.getPlotItem()
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        plots = plot_row((self.loss_widget, 5), (self.metric_widget, 4), (self.lr_widget, 3))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addLayout(plots, 1)
        self.runs: list[ShownRun] = []
        self._lr_log = False
        self._loss_range = (0.0, 0.0)
        self._metric_range = (0.0, 0.0)
        self.loss_plot.enableAutoRange(y=False)
        self.metric_plot.enableAutoRange(y=False)
        self._metric = "accuracy"
        self._restyle()

    def show_runs(self, runs: list[ShownRun]) -> None:
        if self._same_curves(runs):  # e.g. the live run, now recorded under its id: nothing to redraw
            for shown, run in zip(self.runs, runs, strict=True):
                shown.key, shown.label = run.key, run.label
            self.legend.setText(legend_html(self.runs))
        else:
            self._rebuild(runs)

    def _rebuild(self, runs: list[ShownRun]) -> None:
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            clear_curves(plot)
        self.runs = runs
        self._loss_range = self._metric_range = (0.0, 0.0)
        self._metric = runs[0].series.metric if runs else "accuracy"
        for run in runs:
            run.items.clear()
            self._add_items(run)
        self._restyle()
        self.legend.setText(legend_html(runs) if runs else "")
        self.fit_epochs()
        for run in runs:
            self.refresh(run.key)

    def _same_curves(self, runs: list[ShownRun]) -> bool:
        return bool(runs) and len(runs) == len(self.runs) and all(
            new.series is old.series and new.colour == old.colour and new.detailed == old.detailed
            for new, old in zip(runs, self.runs, strict=True))

    def fit_epochs(self) -> None:
        """The epoch axis spans every epoch the shown runs were set to train, from the start: a live
        run then fills the plot instead of moving its axes (and repainting all of the plot) every frame."""
        span = max([run.series.planned or run.series.epochs_done for run in self.runs] + [1])
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            plot.enableAutoRange(x=False)
            plot.setXRange(0, span, padding=0.04)  # room for the markers of the first and last epoch

    def refresh(self, key: str) -> None:
        """Hand the run's new points to its curves (views of the buffers, not copies). Curves that did not
        grow are left alone: the accuracy and learning-rate plots repaint once an epoch, not every frame."""
        if not self.isVisible():
            return  # drawn when shown: drawing takes the interpreter lock the training thread needs
        grew: set[pg.ViewBox] = set()
        for run in self.runs:
            if run.key == key:
                for curve in run.items:
                    if len(curve.series) != curve.drawn:
                        curve.drawn = len(curve.series)
                        curve.item.setData(curve.series.x, curve.series.y)
                        grew.add(curve.item.getViewBox())
        if self.lr_plot.getViewBox() in grew:
            self._fit_lr_axis()
        if self.loss_plot.getViewBox() in grew:
            self._loss_range = self._fit_y_axis(self.loss_plot, self._loss_range, sticky_range)
        if self.metric_plot.getViewBox() in grew:
            fit = accuracy_range if self._metric == "accuracy" else sticky_range
            self._metric_range = self._fit_y_axis(self.metric_plot, self._metric_range, fit)

    def _fit_y_axis(self, plot: pg.PlotItem, shown: Span, fit: Callable[[Span, float, float], Span]) -> Span:
        """Set the plot's y range to `fit(shown, lowest, highest)` of its finite values; the range is set
        (and the axis redrawn) only when it changes."""
        values = [curve.series.y for run in self.runs for curve in run.items
                  if len(curve.series) and curve.item.getViewBox() is plot.getViewBox()]
        finite = [v[np.isfinite(v)] for v in values]
        finite = [v for v in finite if len(v)]
        if not finite:
            return shown
        wanted = fit(shown, min(float(v.min()) for v in finite), max(float(v.max()) for v in finite))
        if wanted != shown:
            plot.setYRange(*wanted, padding=0)
        return wanted

    def _fit_lr_axis(self) -> None:
        """Log scale for a decaying schedule; a constant rate sits mid-plot on a linear axis from 0."""
        rates = [series.y for run in self.runs for series in (run.series.epochs["lr"],) if len(series)]
        if not rates:
            return
        low = min(float(r.min()) for r in rates)
        high = max(float(r.max()) for r in rates)
        log = low > 0 and high / low > LOG_LR_SPAN
        if log != self._lr_log:
            self._lr_log = log
            self.lr_plot.setLogMode(y=log)
        if log:
            self.lr_plot.enableAutoRange(y=True)
        else:
            self.lr_plot.setYRange(0, high * 1.25, padding=0)

    def _add_items(self, run: ShownRun) -> None:
        single = run.colour is None
        train = series_colour(0) if single else run.colour
        val = series_colour(1) if single else run.colour
        epochs = run.series.epochs
        if run.detailed:
            faint = QColor(train)
            faint.setAlpha(RAW_ALPHA)
            raw = pg.PlotDataItem(pen=pg.mkPen(faint, width=1))
            raw.setClipToView(True)
            raw.setDownsampling(auto=True, method="peak")
            smooth = pg.PlotDataItem(pen=pg.mkPen(train, width=1))  # 1 px: wider lines are stroked, 2x slower
            smooth.setClipToView(True)
            smooth.setDownsampling(auto=True, method="peak")
            self._add(run, self.loss_plot, raw, run.series.batch_loss)
            self._add(run, self.loss_plot, smooth, run.series.smoothed)
        val_style = Qt.PenStyle.SolidLine if single else Qt.PenStyle.DashLine
        for plot, key, colour, style in ((self.loss_plot, "loss", train, Qt.PenStyle.SolidLine),
                                         (self.loss_plot, "val_loss", val, val_style),
                                         (self.metric_plot, "metric", train, Qt.PenStyle.SolidLine),
                                         (self.metric_plot, "val_metric", val, val_style),
                                         (self.lr_plot, "lr", train, Qt.PenStyle.SolidLine)):
            item = pg.PlotDataItem(pen=pg.mkPen(colour, width=2, style=style), symbol="o",
                                   symbolSize=SYMBOL_SIZE, symbolPen=pg.mkPen(colour),
                                   symbolBrush=pg.mkBrush(colour), antialias=True)
            self._add(run, plot, item, epochs[key])
            cache_drawing(item)  # changes once an epoch; the batch curves beside it, every frame

    @staticmethod
    def _add(run: ShownRun, plot: pg.PlotItem, item: pg.PlotDataItem, series: GrowingSeries) -> None:
        plot.addItem(item)
        run.items.append(Curve(item, series))

    def _restyle(self) -> None:
        metric = "MAE" if self._metric == "mae" else "Accuracy"
        for widget, plot, title in ((self.loss_widget, self.loss_plot, "Loss"),
                                    (self.metric_widget, self.metric_plot, metric),
                                    (self.lr_widget, self.lr_plot, "Learning rate")):
            widget.setBackground(theme.palette().color(QPalette.ColorRole.Base))
            style_plot(plot, title)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        for run in self.runs:
            self.refresh(run.key)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._rebuild(self.runs)  # pens follow the palette too
        super().changeEvent(event)
