"""The project's recorded runs, newest first: select one to see its curves, tick several to compare them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from studio.gui import icons, theme
from studio.gui.training.text import STATUS_TEXT, best_value, clock, run_label

ID_ROLE = Qt.ItemDataRole.UserRole
COLUMNS = ("Run", "Epochs", "Best", "Time")
MIN_WIDTH = 320  # every column readable at the default font
EMPTY_TEXT = "No runs yet.\nPress Run (F5) to train."
METRIC_SHORT = {"val_accuracy": "val acc", "accuracy": "acc", "val_mae": "val MAE", "mae": "MAE"}


class RunsList(QTreeWidget):
    shown_changed = Signal()  # the selected run or the ticked ones changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(len(COLUMNS))
        self.setHeaderLabels(list(COLUMNS))
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.setMinimumWidth(MIN_WIDTH)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setToolTip("Select a run to see its curves; tick runs to compare them.")
        self._filling = False
        self.empty_text = EMPTY_TEXT  # drawn in the list while it has no runs
        self.itemChanged.connect(self._item_changed)
        self.itemSelectionChanged.connect(self._selection_changed)

    def set_runs(self, runs: list[Mapping[str, Any]], *, select: str | None = None) -> None:
        """Show `runs` (oldest first, as the project stores them); keeps ticks and selection by run id,
        or selects `select`, or else the newest run."""
        ticked = set(self.checked_ids())
        chosen = select or self.selected_id()
        self._filling = True
        self.blockSignals(True)
        try:
            self.clear()
            for index, run in reversed(list(enumerate(runs, start=1))):
                self.addTopLevelItem(self._item(index, run, str(run.get("id")) in ticked))
            ids = [self.topLevelItem(i).data(0, ID_ROLE) for i in range(self.topLevelItemCount())]
            if chosen not in ids:
                chosen = ids[0] if ids else None
            if chosen is not None:
                self.setCurrentItem(self.topLevelItem(ids.index(chosen)))
        finally:
            self.blockSignals(False)
            self._filling = False
        self.shown_changed.emit()

    def selected_id(self) -> str | None:
        items = self.selectedItems()
        return items[0].data(0, ID_ROLE) if items else None

    def checked_ids(self) -> list[str]:
        """Ticked runs, oldest first (the order their colours are given in)."""
        items = [self.topLevelItem(i) for i in range(self.topLevelItemCount())]
        return [item.data(0, ID_ROLE) for item in reversed(items)
                if item.checkState(0) == Qt.CheckState.Checked]

    def _item(self, index: int, run: Mapping[str, Any], ticked: bool) -> QTreeWidgetItem:
        status = str(run.get("status", ""))
        key, value = best_value(run)
        best = f"{METRIC_SHORT.get(key, key)} {value:.3f}" if value is not None else "–"
        epochs = run.get("epochs") or []
        total = (run.get("settings") or {}).get("epochs")
        done = f"{len(epochs)}/{total}" if total else str(len(epochs))
        item = QTreeWidgetItem([run_label(index, run), done, best, clock(float(run.get("duration_s", 0.0)))])
        item.setData(0, ID_ROLE, str(run.get("id")))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(0, Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
        icon, colour = _status_look(status)
        item.setIcon(0, icon)
        if colour is not None:
            item.setForeground(0, colour)
        settings = run.get("settings") or {}
        tip = [f"{STATUS_TEXT.get(status, status)}: run {run.get('id')} on {run.get('device', '?')} in "
               f"{run.get('precision', 'float32')}, started {run.get('started', '?')}",
               f"{settings.get('optimizer', '?')}, learning rate {settings.get('learning_rate', '?')}, "
               f"batch size {settings.get('batch_size', '?')}"]
        if run.get("message"):
            tip.append(str(run["message"]))
        for column in range(len(COLUMNS)):
            item.setToolTip(column, "\n".join(tip))
        return item

    def set_empty_text(self, text: str) -> None:
        self.empty_text = text
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.topLevelItemCount():
            return
        painter = QPainter(self.viewport())
        pal = self.palette()
        role = QPalette.ColorRole
        painter.setPen(theme.mix(pal.color(role.Text), pal.color(role.Base), 0.45))
        painter.drawText(self.viewport().rect().adjusted(8, 8, -8, -8), Qt.AlignmentFlag.AlignHCenter
                         | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap, self.empty_text)
        painter.end()

    def _item_changed(self, _item: QTreeWidgetItem, column: int) -> None:
        if column == 0 and not self._filling:
            self.shown_changed.emit()

    def _selection_changed(self) -> None:
        if not self._filling:
            self.shown_changed.emit()


def _status_look(status: str) -> tuple:
    if status in ("completed", "early_stopped"):
        return icons.icon("ok", theme.ok_colour()), None
    if status == "failed":
        return icons.icon("error", theme.error_colour()), theme.error_colour()
    return icons.icon("stop"), None
