"""Gradient norms per layer over time (log scale), with a warning when they vanish or explode; for
recurrent layers, also the gradient that reaches each step of their input sequence."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette, QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from studio.gui import theme
from studio.gui.training.buffers import GrowingSeries
from studio.gui.training.plots import (
    LEGEND_GAP,
    clear_curves,
    plot_row,
    plot_widget,
    series_colour,
    style_plot,
    swatch,
)

# A gradient this small moves weights of ordinary size (around 1e-2) by less than float32 rounding at
# usual learning rates: the layer has stopped learning.
VANISHING_NORM = 1e-6
# Falling this far below the layer's own early norms means the signal no longer reaches it, even where
# the value is not tiny in absolute terms (small layers have small norms from the start).
COLLAPSE_FACTOR = 1e4
# A norm this large makes one update overshoot weights of ordinary size by orders of magnitude: the loss
# is about to become inf or NaN.
EXPLODING_NORM = 1e3
# Growing this far above the early norms is an explosion on its way while the value still looks modest
# (healthy norms shrink or stay level as training proceeds).
GROWTH_FACTOR = 1e2
BASELINE_REPORTS = 3  # the early norm of a layer: the median of its first reports
# Through time, a recurrent layer is judged by the ratio of the gradient reaching its first input step to
# the one reaching its last (the step nearest the loss): beyond this factor either way the first steps
# teach it next to nothing (a plain RNN on a long sequence), or their gradient swamps every update. A
# gated layer on the same 30-step memory task stays within about 1/120.
THROUGH_TIME_FACTOR = 1e3
THROUGH_TIME_RULE = f"warned beyond {THROUGH_TIME_FACTOR:,.0f}x either way"
EMPTY_NOTE = "Gradient norms per layer appear here while a model trains."
# The axes of an empty view: epochs 0 to 1; norms 1e-4 to 1, in whole decades (log scale).
EMPTY_X, EMPTY_Y = (0.0, 1.0), (-4.0, 0.0)


@dataclass(frozen=True)
class GradientWarning:
    kind: str  # "vanishing", "exploding", "vanishing_through_time" or "exploding_through_time"
    layer: str
    value: float
    reason: str


def assess(history: Mapping[str, np.ndarray]) -> list[GradientWarning]:
    """Warnings for the layers whose latest norm vanished or exploded, judged against the thresholds
    above and against the layer's own first reports."""
    warnings = []
    for layer, norms in history.items():
        if len(norms) == 0:
            continue
        value = float(norms[-1])
        baseline = statistics.median(float(v) for v in norms[:BASELINE_REPORTS])
        if not math.isfinite(value) or value > EXPLODING_NORM:
            warnings.append(GradientWarning("exploding", layer, value, f"above {EXPLODING_NORM:g}"))
        elif len(norms) > BASELINE_REPORTS and baseline > 0 and value > baseline * GROWTH_FACTOR:
            warnings.append(GradientWarning("exploding", layer, value,
                                            f"{value / baseline:,.0f}x its early {baseline:.2g}"))
        elif value < VANISHING_NORM:
            warnings.append(GradientWarning("vanishing", layer, value, f"below {VANISHING_NORM:g}"))
        elif len(norms) > BASELINE_REPORTS and value < baseline / COLLAPSE_FACTOR:
            warnings.append(GradientWarning("vanishing", layer, value,
                                            f"1/{baseline / value:,.0f} of its early {baseline:.2g}"))
    return warnings


def step_ratios(latest: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Per recurrent layer, the gradient at its first input step divided by that at its last; layers
    with one step or no gradient at the last step have nothing to compare and are left out."""
    return {layer: norms[0] / norms[-1] for layer, norms in latest.items()
            if len(norms) > 1 and norms[-1] > 0}


def reach_text(ratio: float, steps: int) -> str:
    """The first step's gradient against the last's as a person reads it: "step 1 gets 1/7,490 of step
    30's", "step 1 gets 3.5x step 30's", "step 1 gets none of step 30's"."""
    if not math.isfinite(ratio):
        return "step 1 gets a gradient that is not a finite number"
    if ratio <= 0:
        return f"step 1 gets none of step {steps}'s"
    if ratio < 1:
        return f"step 1 gets 1/{_factor(1 / ratio)} of step {steps}'s"
    return f"step 1 gets {_factor(ratio)}x step {steps}'s"


def _factor(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def assess_through_time(latest: Mapping[str, Sequence[float]]) -> list[GradientWarning]:
    """Warnings for the recurrent layers whose first input step gets less than 1/THROUGH_TIME_FACTOR of
    the gradient of their last step (vanishing through time), or more than THROUGH_TIME_FACTOR times it
    (exploding through time)."""
    warnings = []
    for layer, ratio in step_ratios(latest).items():
        reason = f"{reach_text(ratio, len(latest[layer]))}; {THROUGH_TIME_RULE}"
        if not all(math.isfinite(v) for v in latest[layer]) or ratio > THROUGH_TIME_FACTOR:
            warnings.append(GradientWarning("exploding_through_time", layer, ratio, reason))
        elif ratio < 1 / THROUGH_TIME_FACTOR:
            warnings.append(GradientWarning("vanishing_through_time", layer, ratio, reason))
    return warnings


def through_time_note(latest: Mapping[str, Sequence[float]]) -> str:
    """What the through-time figures say when no layer is warned: the rule and each layer's figure."""
    ratios = step_ratios(latest)
    if not ratios:
        return ""
    named = ", ".join(f"{layer} {reach_text(ratio, len(latest[layer]))}" for layer, ratio in ratios.items())
    return f" Through time: {named} ({THROUGH_TIME_RULE})."


THROUGH_TIME = {"vanishing_through_time": "the start of each sequence barely teaches it; a gated layer "
                                          "(LSTM, GRU) or shorter sequences carry the gradient further",
                "exploding_through_time": "clip gradients or lower the learning rate; a gated layer "
                                          "(LSTM, GRU) keeps the gradient in range"}


def warning_text(warnings: list[GradientWarning]) -> str:
    """One sentence per kind, naming up to three layers."""
    parts = []
    for kind, advice in (("exploding", "lower the learning rate or clip gradients"),
                         ("vanishing", "try ReLU, batch normalization or a residual connection"),
                         *THROUGH_TIME.items()):
        hits = [w for w in warnings if w.kind == kind]
        if hits:
            over_time = kind in THROUGH_TIME
            named = ", ".join(f"{w.layer} ({w.reason if over_time else f'{w.value:.2g}, {w.reason}'})"
                              for w in hits[:3])
            more = f" and {len(hits) - 3} more" if len(hits) > 3 else ""
            what = (f"Gradient {kind.split('_')[0]} through time" if over_time
                    else f"{kind.capitalize()} gradients")
            parts.append(f"{what} in {named}{more}: {advice}.")
    return " ".join(parts)


class GradientsView(QWidget):
    """Norms per layer against the epoch axis, on a log scale; the label above says whether they look
    healthy."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.widget = plot_widget()
        self.plot = self.widget.getPlotItem()
        self.plot.setLogMode(y=True)
        # Recurrent layers only: the gradient reaching each step of the input sequence, latest report.
        self.time_widget = plot_widget()
        self.time_plot = self.time_widget.getPlotItem()
        self.time_plot.setLogMode(y=True)
        self.time_widget.hide()
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        plots = plot_row((self.widget, 3), (self.time_widget, 2))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.status)
        layout.addWidget(self.legend)
        layout.addLayout(plots, 1)
        self.series: dict[str, GrowingSeries] = {}
        self.items: dict[str, pg.PlotDataItem] = {}
        self.through_time: dict[str, list[float]] = {}  # per recurrent layer, the norm at each step
        self.time_items: dict[str, pg.PlotDataItem] = {}
        self.warnings: list[GradientWarning] = []
        self._drawn = self._judged = 0  # norms on screen, norms and through-time reports assessed
        self._time_reports = 0  # through-time reports taken in: each one is judged, not only new norms
        self._time_drawn = True  # the latest through-time report is on screen
        self._status: tuple[str, str] = ("", "")
        self._note = EMPTY_NOTE
        self._restyle()
        self._show_status()

    def reset(self, note: str = EMPTY_NOTE) -> None:
        """Forget the last run's norms; `note` explains the empty view (norms not reported)."""
        clear_curves(self.plot)
        clear_curves(self.time_plot)
        self.series.clear()
        self.items.clear()
        self.through_time.clear()
        self.time_items.clear()
        self.time_widget.hide()
        self.legend.clear()
        self.warnings = []
        self._drawn = self._judged = self._time_reports = 0
        self._time_drawn = True
        self._note = note
        for plot in (self.plot, self.time_plot):  # the axes keep no trace of the last run's figures
            plot.setRange(xRange=EMPTY_X, yRange=EMPTY_Y, padding=0)
            plot.enableAutoRange()
        self._show_status()

    def add(self, x: float, norms: Mapping[str, float],
            through_time: Mapping[str, Sequence[float]] | None = None) -> None:
        if through_time:
            self.through_time = {layer: list(values) for layer, values in through_time.items()}
            self._time_reports += 1
            self._time_drawn = False
        for layer, value in norms.items():
            series = self.series.get(layer)
            if series is None:  # its plot item is made when it is first drawn
                series = self.series[layer] = GrowingSeries(256)
            # A zero norm cannot sit on a log axis; it is as vanished as a gradient gets.
            series.append(x, value if value > 0 else VANISHING_NORM / 100)

    def refresh(self) -> None:
        """Judge the norms that arrived since the last call; draw them now if the view is on screen, else
        when it is shown (drawing takes the interpreter lock the training thread needs)."""
        count = sum(len(s) for s in self.series.values())
        if count + self._time_reports != self._judged:  # a report of either kind may come alone
            self._judged = count + self._time_reports
            self.warnings = (assess({layer: s.y for layer, s in self.series.items()})
                             + assess_through_time(self.through_time))
            self._show_status()
        if count != self._drawn and self.isVisible():
            self._drawn = count
            new = [layer for layer in self.series if layer not in self.items]
            for layer in new:
                self._add_item(layer)
            if new:
                self._show_legend()
            for layer, series in self.series.items():
                self.items[layer].setData(series.x, series.y)
        if not self._time_drawn and self.isVisible():
            self._time_drawn = True
            self._draw_through_time()

    def _colour(self, layer: str) -> QColor:
        """A layer's colour in both plots: its place among the layers with norms."""
        layers = list(self.items)
        return series_colour(layers.index(layer) if layer in layers else len(layers))

    def _draw_through_time(self) -> None:
        for layer, norms in self.through_time.items():
            item = self.time_items.get(layer)
            if item is None:
                item = self.time_items[layer] = pg.PlotDataItem(pen=pg.mkPen(self._colour(layer), width=1.5))
                self.time_plot.addItem(item)
            values = np.asarray(norms, dtype=float)
            item.setData(np.arange(1, len(values) + 1), np.where(values > 0, values, VANISHING_NORM / 100))
        self.time_widget.setVisible(bool(self.through_time))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def _add_item(self, layer: str) -> None:
        colour = series_colour(len(self.items))
        item = pg.PlotDataItem(pen=pg.mkPen(colour, width=1.5))
        item.setClipToView(True)
        item.setDownsampling(auto=True, method="peak")
        self.plot.addItem(item)
        self.items[layer] = item

    def _show_legend(self) -> None:
        self.legend.setText(LEGEND_GAP.join(swatch(series_colour(i), "━━", layer)
                                            for i, layer in enumerate(self.items)))

    def _show_status(self) -> None:
        # The through-time figures are told whatever the verdict, unless a warning told them already.
        told = any(w.kind in THROUGH_TIME for w in self.warnings)
        note = "" if told else through_time_note(self.through_time)
        if self.warnings:
            colour, text = theme.error_colour(), "⚠ " + warning_text(self.warnings) + note
        elif self.series:
            colour, text = theme.ok_colour(), f"✓ Healthy: no layer's gradient vanished or exploded.{note}"
        else:
            colour, text = None, self._note
        style = f"color: {colour.name()}; font-weight: bold;" if colour else ""
        if (text, style) != self._status:  # a new style sheet re-polishes the label: only when it changes
            self._status = (text, style)
            self.status.setText(text)
            self.status.setStyleSheet(style)

    def _restyle(self) -> None:
        self.widget.setBackground(theme.palette().color(QPalette.ColorRole.Base))
        style_plot(self.plot, "Gradient norm per layer (log scale)")
        self.time_widget.setBackground(theme.palette().color(QPalette.ColorRole.Base))
        style_plot(self.time_plot, "Gradient at each input step", x_label="input step (latest report)")

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._restyle()
            for layer, item in [*self.items.items(), *self.time_items.items()]:
                item.setPen(pg.mkPen(self._colour(layer), width=1.5))
            self._show_legend()
            self._show_status()
        super().changeEvent(event)
