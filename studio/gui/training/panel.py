"""The Training dock: the runs list, a progress line, the curves, the gradient norms and the log.

The panel draws only in `apply`, which the controller calls at screen pace with every event since the
last call; the plots are built the first time they are needed (pyqtgraph takes a while to import).
"""

from __future__ import annotations

from collections.abc import Mapping
from time import monotonic
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QFontDatabase, QIcon, QPalette, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.gui import icons, theme
from studio.gui.training.buffers import RunSeries
from studio.gui.training.progress_line import ProgressLine
from studio.gui.training.runs_list import EMPTY_TEXT, RunsList
from studio.gui.training.text import (
    begin_line,
    end_line,
    epoch_line,
    kept_weights,
    paused_text,
    position,
    progress_text,
    ready_text,
    run_headline,
)
from studio.gui.training.worker import Outcome
from studio.train import events

if TYPE_CHECKING:
    from studio.gui.training.gradients_view import GradientsView
    from studio.gui.training.plots import CurvesView

LIVE = "live"
PLOTS_HZ = 25  # the curves follow at screen pace: the trainer is in another process
LOG_LINES = 10_000
PLACEHOLDER = ("No runs yet.\nPress Run (F5) to train the model on its dataset:\n"
               "the loss, accuracy and learning rate appear here as it learns.")


class TrainingPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs_list = RunsList()
        self.progress = ProgressLine("Ready to train")
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        self._banner_kind = ""
        self.end_now_button = QPushButton("End Now")
        self.end_now_button.setToolTip("End the training process at once; the run keeps the weights of its "
                                       "last completed epoch")
        self.end_now_button.hide()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        # Wrapped: an epoch's line (val_loss, val_accuracy at its end) is read whole at any dock width.
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.placeholder = QLabel(PLACEHOLDER)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)  # drawn in the muted text colour
        self.curves_stack = QStackedWidget()
        self.curves_stack.addWidget(self.placeholder)
        self.gradients_stack = QStackedWidget()
        self.gradients_stack.addWidget(QLabel())
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.curves_stack, "Curves")
        self.tabs.addTab(self.gradients_stack, _blank_icon(), "Gradients")
        self.tabs.addTab(self.log, "Log")
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(6, 4, 4, 4)
        column.setSpacing(6)
        column.addWidget(self.progress)
        banner_row = QHBoxLayout()
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.end_now_button, 0, Qt.AlignmentFlag.AlignTop)
        column.addLayout(banner_row)
        column.addWidget(self.tabs, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.runs_list)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.curves: CurvesView | None = None
        self.gradients: GradientsView | None = None
        self.live: RunSeries | None = None
        self.redraws = 0  # times `apply` showed the live run (the coalescing keeps this at screen pace)
        self.plot_redraws = 0  # times the live curves were redrawn (at most PLOTS_HZ a second)
        self._runs: list[Mapping[str, Any]] = []
        self._kept: dict[str, RunSeries] = {}  # full-resolution curves of runs trained in this window
        self._live_id = ""
        self.begin_info: dict[str, Any] = {}
        self._last_batch: dict[str, Any] = {}
        self._grad_x = 0.0  # where the latest gradient report sits on the epoch axis
        self._state = "idle"  # the controller's: batches still in flight keep a pause or stop on the line
        self._gradients_mark = ""
        self._live_drawn = False  # the live run's curves were drawn at least once
        # The curves follow at most PLOTS_HZ, the progress line at every update.
        self._plot_timer = QTimer(self)
        self._plot_timer.setSingleShot(True)
        self._plots_drawn_at = 0.0  # monotonic time of the last redraw of the plots
        self._plot_timer.timeout.connect(self._redraw_plots)
        self.runs_list.shown_changed.connect(self._show_runs)

    # --- plots, built on first use --------------------------------------------------------------------

    def ensure_plots(self) -> None:
        if self.curves is not None:
            return
        from studio.gui.training.gradients_view import GradientsView
        from studio.gui.training.plots import CurvesView

        self.curves = CurvesView()
        self.gradients = GradientsView()
        self.curves_stack.addWidget(self.curves)
        self.gradients_stack.addWidget(self.gradients)
        self.gradients_stack.setCurrentWidget(self.gradients)
        self._show_runs()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.ensure_plots()

    # --- the runs on the curves -----------------------------------------------------------------------

    def set_runs(self, runs: list[Mapping[str, Any]], *, select: str | None = None) -> None:
        self._runs = list(runs)
        self.runs_list.set_runs(self._runs, select=select)

    def show_project(self, runs: list[Mapping[str, Any]]) -> None:
        """Another project is open (New, Open): forget everything shown of the last one (its live run,
        gradients, log, messages) and show this one's recorded runs. Never called while a run trains:
        the document refuses another project until the run is recorded into its own."""
        self._plot_timer.stop()
        self.live = None
        self._live_id = ""
        self.begin_info, self._last_batch = {}, {}
        ids = {str(run.get("id")) for run in runs}
        self._kept = {run_id: series for run_id, series in self._kept.items() if run_id in ids}
        self.log.clear()
        self.hide_banner()
        self.end_now_button.hide()
        self.runs_list.set_empty_text(EMPTY_TEXT)
        if self.gradients is not None:
            self.gradients.reset()
            self._mark_gradients_tab()
        self.progress.set_fraction(0)
        self.progress.setText(ready_text(runs))
        self.set_runs(runs)

    def _series(self, run_id: str) -> RunSeries | None:
        if run_id in self._kept:
            return self._kept[run_id]
        run = next((r for r in self._runs if str(r.get("id")) == run_id), None)
        return RunSeries.from_record(run) if run is not None else None

    def _show_runs(self) -> None:
        if self.curves is None:
            return
        from studio.gui.training.plots import ShownRun, series_colour

        # While a run trains it is in focus, with the ticked runs for comparison; otherwise the selected
        # run is, with the ticked ones.
        shown: list[tuple[str, str, RunSeries]] = []
        if self.live is not None:
            shown.append((LIVE, "this run", self.live))
        others = self.runs_list.checked_ids()
        if self.live is None:
            others.insert(0, self.runs_list.selected_id() or "")
        numbers = {str(r.get("id")): i for i, r in enumerate(self._runs, start=1)}
        for run_id in others:
            if run_id and run_id not in [key for key, _, _ in shown]:
                series = self._series(run_id)
                if series is not None:
                    shown.append((run_id, f"#{numbers.get(run_id, '?')}", series))
        single = len(shown) == 1
        runs = [ShownRun(key, label, series, None if single else series_colour(i), detailed=i == 0)
                for i, (key, label, series) in enumerate(shown)]
        self.curves.show_runs(runs)
        self.curves_stack.setCurrentWidget(self.curves if runs else self.placeholder)

    # --- a live run ---------------------------------------------------------------------------------

    def begin_live(self, epochs: int) -> None:
        """A run of `epochs` epochs is starting: clear the live curves and say the data is loading."""
        self.ensure_plots()
        self.live = RunSeries(planned=epochs)
        self._live_id = ""
        self.begin_info, self._last_batch = {}, {}
        self._live_drawn = False
        self.runs_list.set_empty_text("This run is listed here when it ends.")
        self.hide_banner()
        self.gradients.reset()
        self.progress.set_fraction(0)
        self.progress.setText("Loading the dataset…")
        self._show_runs()
        self.tabs.setCurrentWidget(self.curves_stack)

    def loading(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.set_fraction(done / total)
            self.progress.setText(f"Loading the dataset… {100 * done // total} %")

    def apply(self, batch: list[events.Event]) -> None:
        """Take in every event since the last call, then redraw once."""
        if self.live is None:
            return
        assert self.gradients is not None and self.curves is not None
        for event in batch:
            if isinstance(event, events.Begin):
                self._train_begin(event)
            elif isinstance(event, events.Batch):
                self._last_batch = event.__dict__
                if event.loss is not None:
                    self.live.add_batch(event.epoch - 1 + event.batch / event.batches, event.loss)
            elif isinstance(event, events.EpochEnd):
                self.live.add_epoch({"epoch": event.epoch, "lr": event.lr, **event.metrics})
                self.log.appendPlainText(epoch_line(event.__dict__))
            elif isinstance(event, events.GradNorms):
                self._grad_x = event.epoch - 1 + event.batch / self.begin_info.get("batches", 1)
                self.gradients.add(self._grad_x, {k: v for k, v in event.norms.items() if v is not None})
            elif isinstance(event, events.GradThroughTime):
                self.gradients.add(self._grad_x, {}, {layer: [v or 0.0 for v in values]
                                                      for layer, values in event.layers.items()})
            elif isinstance(event, events.Message):
                self.log.appendPlainText(f"{'Warning: ' if event.level != 'info' else ''}{event.text}")
            elif isinstance(event, events.End):
                self._live_id = event.run_id
                processes = self.begin_info.get("processes", 1)
                if event.weights_agree is not None:
                    self.log.appendPlainText(f"All {processes} processes ended with identical weights"
                                             if event.weights_agree else
                                             f"The {processes} processes ended with different weights")
        if self._state == "paused":  # batches under way at the pause move the line to where it holds
            self.progress.setText(paused_text(self._last_batch))
        elif self._state != "stopping":  # else the line says a stop is coming until the run ends
            self._show_progress()
        self.redraws += 1
        if not self._live_drawn and self._last_batch:  # the run's first batches show at once
            self._live_drawn = True
            self._redraw_plots()
        if not self._plot_timer.isActive():  # due PLOTS_HZ after the last redraw, not after this update
            since = monotonic() - self._plots_drawn_at
            self._plot_timer.start(max(0, round(1000 / PLOTS_HZ - since * 1000)))

    def _redraw_plots(self) -> None:
        if self.curves is None or self.gradients is None:
            return
        self._plots_drawn_at = monotonic()
        self.curves.refresh(LIVE)
        self.gradients.refresh()
        self._mark_gradients_tab()
        self.plot_redraws += 1

    def _train_begin(self, event: events.Begin) -> None:
        assert self.live is not None and self.gradients is not None
        info = self.begin_info = event.__dict__
        # Usually as expected at Run; redrawing every plot now would hold up the first batches.
        if (info["metric"], info["epochs"]) != (self.live.metric, self.live.planned):
            self.live.metric, self.live.planned = info["metric"], info["epochs"]
            self._show_runs()
        every = info["settings"].get("grad_norm_every", 0)
        self.gradients.reset("" if every else "Gradient norms are not reported for this project "
                             "(its grad_norm_every setting is 0).")
        self.log.appendPlainText(begin_line(info))
        for note in info.get("notes", ()):
            self.log.appendPlainText(f"Note: {note}")
        self.progress.set_fraction((info["start_epoch"] - 1) / info["epochs"])
        self.progress.setText(f"Epoch {info['start_epoch']}/{info['epochs']} · starting…")

    def _show_progress(self) -> None:
        info = self._last_batch
        if info:
            done = (info["epoch"] - 1) * info["batches"] + info["batch"]
            self.progress.set_fraction(done / max(info["epochs"] * info["batches"], 1))
            self.progress.setText(progress_text(info))

    def set_state(self, state: str) -> None:
        """Reflect pause and stop requests on the progress line at once (not at the next batch); pauses
        and resumes are logged with where the run stands."""
        previous, self._state = self._state, state
        where = f" at {position(self._last_batch)}" if self._last_batch else ""
        if state == "paused":
            self.progress.setText(paused_text(self._last_batch))
            # Where the last batch seen ended; a batch under way still finishes (the line then moves on).
            self.log.appendPlainText(f"Paused{where} (a batch under way finishes first)" if where
                                     else "Paused before the first batch")
        elif state == "stopping":
            self.progress.setText("Stopping after this batch…")
        elif state == "running":
            if previous == "paused":
                self.log.appendPlainText(f"Resumed{where}")
            self._show_progress()

    def offer_end_now(self, grace_s: float) -> None:
        """A stop has not ended the run: say so, and offer to end the training process."""
        self.show_banner(f"The run has not stopped within {grace_s:.0f} s: a batch may be stuck. End Now "
                         "ends the training process; the run keeps the weights of its last completed epoch.",
                         "info")
        self.end_now_button.show()

    def finish(self, outcome: Outcome) -> None:
        """The run ended: keep its curves for the runs list, say how it went."""
        self.end_now_button.hide()
        self.hide_banner()
        self._plot_timer.stop()
        self._redraw_plots()  # the last reports are drawn and judged now, not a frame later
        status, record = outcome.status, outcome.record
        if self.live is not None and record is not None:
            self._kept[str(record["id"])] = self.live
        self.live = None
        self.runs_list.set_empty_text(EMPTY_TEXT)
        if status == "completed":
            self.progress.set_fraction(1)
        message = outcome.error or (record or {}).get("message", "")
        duration = record.get("duration_s") if record else None
        # A run the trainer stopped itself keeps the weights after its last batch; one ended from
        # outside (End Now: no end event came) those of its last epoch, as its message says.
        short, sentence = (kept_weights(record, self._last_batch) if status == "stopped" and record
                           and self._live_id else ("", ""))
        self.progress.setText(run_headline(record or {"status": status}, kept=short))
        ended = end_line(status, message, duration)
        self.log.appendPlainText(f"{ended.rstrip('.')}. {sentence}" if sentence else ended)
        if status == "failed" or outcome.error:
            self.show_banner(f"Training failed: {message}", "error")
        elif status == "stopped":
            self.show_banner(f"Training stopped ({message}).{' ' + sentence if sentence else ''}", "info")
        elif status == "cancelled":
            self.show_banner("Training was stopped before it began; no run was recorded.", "info")
        if record is None:  # else the runs list, given the new run, shows it in the live run's place
            self._show_runs()

    # --- messages -------------------------------------------------------------------------------------

    def show_banner(self, text: str, kind: str = "error") -> None:
        self._banner_kind = kind
        self.banner.setText(text)
        self._style_banner()
        self.banner.show()

    def hide_banner(self) -> None:
        self._banner_kind = ""
        self.banner.hide()

    def _style_banner(self) -> None:
        pal = theme.palette()
        base, text = pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)
        error = self._banner_kind == "error"
        accent = theme.error_colour() if error else pal.color(QPalette.ColorRole.Highlight)
        colour = accent if error else text
        self.banner.setStyleSheet(
            f"QLabel {{ color: {colour.name()}; background: {theme.mix(base, accent, 0.12).name()}; "
            f"border: 1px solid {theme.mix(base, accent, 0.45).name()}; border-radius: 4px; padding: 6px; }}")

    def _mark_gradients_tab(self) -> None:
        """A warning on the tab itself, so it is seen while the curves are in front."""
        assert self.gradients is not None
        mark = "warned" if self.gradients.warnings else "healthy" if self.gradients.series else ""
        index = self.tabs.indexOf(self.gradients_stack)
        verdict = self.gradients.status.text()  # its figures change within one mark too
        if self.tabs.tabToolTip(index) != verdict:
            self.tabs.setTabToolTip(index, verdict)
        if mark == self._gradients_mark:
            return
        self._gradients_mark = mark
        icon = (icons.icon("error", theme.error_colour()) if mark == "warned"
                else icons.icon("ok", theme.ok_colour()) if mark == "healthy" else _blank_icon())
        self.tabs.setTabIcon(index, icon)  # never none: a tab that gains an icon re-lays out the plots

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._style_banner()
        super().changeEvent(event)


def _blank_icon() -> QIcon:
    """An empty icon holding the place of the gradients tab's mark."""
    pixmap = QPixmap(16, 16)
    pixmap.fill(Qt.GlobalColor.transparent)
    return QIcon(pixmap)
