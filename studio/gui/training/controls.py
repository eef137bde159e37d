"""Run, Pause/Resume and Stop, and the device picker: training's parts of the window's menu and toolbar."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QSizePolicy

from studio.gui import icons
from studio.gui.actions import make_action
from studio.gui.device import describe
from studio.gui.training.worker import usable_cores

AUTO = "auto"
CPU_PROCESSES = ((2, 2), (4, 8))  # (processes, cores the machine needs for them), one CPU each, over gloo


def device_entries(choices: list[tuple[str, str]], setting: str, cores: int = 1) -> list[tuple[str, str]]:
    """(text, device) for the picker: Auto first, then each device this machine has; after the last GPU
    one entry training on all of them when there are several ("cuda*N"), after the CPU the processes its
    `cores` can run side by side ("cpu*N"). A device the project asks for that is not here is listed too,
    so Run can say why it cannot use it."""
    auto = f"Auto: {describe(choices, AUTO)}" if choices else "Auto (looking for devices…)"
    gpus = [device for device, _ in choices if device.startswith("cuda:")]
    after: dict[str, list[tuple[str, str]]] = {
        "cpu": [(f"{n} processes (CPU, gloo)", f"cpu*{n}") for n, needs in CPU_PROCESSES if cores >= needs]}
    if len(gpus) > 1:
        after[gpus[-1]] = [(f"All {len(gpus)} GPUs (NCCL)", f"cuda*{len(gpus)}")]
    entries = [(auto, AUTO)]
    for device, text in choices:
        if device != "none":
            entries.append((text if device == "cpu" else f"{text} ({device})", device))
            entries.extend(after.get(device, ()))
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
    """The actions and the picker; the session decides what they do and when they are enabled, the window
    where they are shown."""

    def __init__(self, run: Callable[[], object], pause: Callable[[], object], stop: Callable[[], object],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run_action = make_action(self, "&Run", run, "F5", "run", "Train the model on its dataset")
        self.pause_action = make_action(self, "&Pause", pause, "F6", "pause", "Pause or resume the training")
        self.pause_action.setCheckable(True)
        self.stop_action = make_action(self, "&Stop", stop, "Shift+F5", "stop",
                                       "Stop the training after the current batch; the run keeps the "
                                       "weights of that batch")
        self.device_picker = QComboBox()
        self.device_picker.setObjectName("DevicePicker")
        self.device_picker.setToolTip("Where runs started here train")
        self.device_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.device_picker.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self._choices: list[tuple[str, str]] = []
        self._cores = usable_cores()
        self._setting = AUTO
        self._picked: str | None = None  # what the user chose, over the project's setting
        self.device_picker.activated.connect(self._pick)
        self.set_state("idle")
        self.fill_devices()

    @property
    def actions(self) -> list[QAction]:
        """Run, Pause and Stop, in the order menus and toolbars show them."""
        return [self.run_action, self.pause_action, self.stop_action]

    @property
    def device(self) -> str:
        """The chosen device: "auto", "cpu", "cuda:1", or N processes such as "cpu*2" and "cuda*4"."""
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
        entries = device_entries(self._choices, self._setting, self._cores)
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
