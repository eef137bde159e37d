"""Run, Pause/Resume and Stop in a Run menu and on the toolbar, with the device picker beside them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QComboBox, QSizePolicy

from studio.gui import icons
from studio.gui.device import describe

if TYPE_CHECKING:
    from studio.gui.main_window import MainWindow

AUTO = "auto"


def device_entries(choices: list[tuple[str, str]], setting: str) -> list[tuple[str, str]]:
    """(text, device) for the picker: Auto first, then each device this machine has; a device the project
    asks for that is not here is listed too, so Run can say why it cannot use it."""
    auto = f"Auto: {describe(choices, AUTO)}" if choices else "Auto (looking for devices…)"
    entries = [(auto, AUTO)]
    for device, text in choices:
        if device != "none":
            entries.append((text if device == "cpu" else f"{text} ({device})", device))
    kinds = {device.split(":")[0] for _, device in entries}
    if setting not in kinds:
        entries.append((f"{setting.upper()} (not on this machine)", setting))
    return entries


def chosen_entry(entries: list[tuple[str, str]], setting: str) -> int:
    """Index of the entry that stands for a project's device setting ("cuda" means the first GPU)."""
    for i, (_, device) in enumerate(entries):
        if device.split(":")[0] == setting:
            return i
    return 0


class RunControls(QObject):
    """The actions and the picker; the session decides what they do and when they are enabled."""

    def __init__(self, window: MainWindow, run: Callable[[], object], pause: Callable[[], object],
                 stop: Callable[[], object]) -> None:
        super().__init__(window)
        self.run_action = window._action("&Run", run, "F5", "run", "Train the model on its dataset")
        self.pause_action = window._action("&Pause", pause, "F6", "pause", "Pause or resume the training")
        self.pause_action.setCheckable(True)
        self.stop_action = window._action("&Stop", stop, "Shift+F5", "stop",
                                          "Stop the training after the current batch (the weights are kept)")
        self.device_picker = QComboBox()
        self.device_picker.setObjectName("DevicePicker")
        self.device_picker.setToolTip("Where runs started here train")
        self.device_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.device_picker.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self._choices: list[tuple[str, str]] = []
        self._setting = AUTO
        self._picked: str | None = None  # what the user chose, over the project's setting
        self.device_picker.activated.connect(self._pick)
        menu = window.menuBar().addMenu("&Run")
        menu.addActions([self.run_action, self.pause_action, self.stop_action])
        bar = window.toolbar
        bar.addActions([self.run_action, self.pause_action, self.stop_action])
        bar.addWidget(self.device_picker)
        self.set_state("idle")
        self.fill_devices()

    @property
    def device(self) -> str:
        return str(self.device_picker.currentData() or AUTO)

    def set_devices(self, choices: list[tuple[str, str]]) -> None:
        self._choices = list(choices)
        self.fill_devices()

    def follow_setting(self, setting: str) -> None:
        """Show the project's device setting (after a project is opened or its setting edited)."""
        if setting != self._setting:
            self._setting, self._picked = setting, None
            self.fill_devices()

    def fill_devices(self) -> None:
        entries = device_entries(self._choices, self._setting)
        devices = [device for _, device in entries]
        picker = self.device_picker
        picker.blockSignals(True)
        picker.clear()
        for text, device in entries:
            picker.addItem(icons.icon("device"), text, device)
        if self._picked in devices:
            picker.setCurrentIndex(devices.index(self._picked))
        else:
            picker.setCurrentIndex(chosen_entry(entries, self._setting))
        picker.blockSignals(False)

    def _pick(self, index: int) -> None:
        self._picked = str(self.device_picker.itemData(index))

    def set_state(self, state: str) -> None:
        """Enable what makes sense in `state` (idle, loading, running, paused, stopping)."""
        busy = state != "idle"
        self.run_action.setEnabled(not busy)
        self.pause_action.setEnabled(state in ("loading", "running", "paused"))
        self.pause_action.setChecked(state == "paused")
        self.pause_action.setText("Resume" if state == "paused" else "&Pause")
        self.stop_action.setEnabled(busy and state != "stopping")
        self.device_picker.setEnabled(not busy)
