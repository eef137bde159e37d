"""Which device training would use, found in the background by a short-lived child process.

The child imports torch (seconds) and asks the drivers; the window's own process never initialises
CUDA, whose context would cost it hundreds of megabytes for nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time

from PySide6.QtCore import QObject, Signal

from studio.core.errors import StudioError
from studio.gui.background import Background, Cancelled, Report, Task
from studio.train.device_list import read_choices

PROBE_COMMAND = [sys.executable, "-m", "studio.train.device_list"]
PROBE_TIMEOUT_S = 60.0
_POLL_S = 0.2  # how often a waiting probe looks whether it was cancelled

_found: list[tuple[str, str]] | None = None  # (device, description), best first; probed once per process


class DeviceProbeError(StudioError):
    """The device list could not be had; the message says why, in words."""


class DeviceProbe(QObject):
    """Emits `found` with the machine's training devices; the first call asks a child process."""

    found = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._background = Background(self)
        self._task: Task | None = None

    def start(self) -> None:
        if _found is not None:
            self.found.emit(_found)
            return
        if self._task is not None and self._task.running:
            return  # already asking
        self._task = self._background.start(list_devices, done=self._answer, failed=self._unavailable,
                                            name="device-probe")

    def _unavailable(self, message: str) -> None:
        self._answer([("none", f"unavailable ({message})")])

    def _answer(self, choices: list[tuple[str, str]]) -> None:
        global _found
        _found = choices
        self.found.emit(choices)


def list_devices(report: Report) -> list[tuple[str, str]]:
    """Run the device check in a child process; DeviceProbeError if it fails, is cut off or says nothing."""
    try:
        child = subprocess.Popen(PROBE_COMMAND, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, errors="replace",
                                 creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except OSError as exc:
        raise DeviceProbeError(f"the device check could not start: {exc.strerror or exc}") from None
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    try:
        while True:
            try:
                out, err = child.communicate(timeout=_POLL_S)
                break
            except subprocess.TimeoutExpired:
                if report.cancelled.is_set():
                    raise Cancelled from None
                if time.monotonic() > deadline:
                    late = f"the device check took longer than {PROBE_TIMEOUT_S:g} s"
                    raise DeviceProbeError(late) from None
    finally:
        if child.poll() is None:  # cut off or cancelled: the child goes too
            child.kill()
            child.communicate()
    if child.returncode != 0:
        said = [line.strip() for line in err.splitlines() if line.strip()]
        raise DeviceProbeError(said[-1] if said and child.returncode > 0 else
                               f"the device check stopped with status {child.returncode}")
    try:
        return read_choices(out)
    except ValueError as exc:
        raise DeviceProbeError(str(exc)) from None


def describe(choices: list[tuple[str, str]], setting: str) -> str:
    """What the status bar says for a project's device setting ("auto", "cpu", "cuda", "mps")."""
    if not choices:
        return "…"
    if setting in ("", "auto"):
        device, text = choices[0]
        return text if device in ("cpu", "none") else f"{text} ({device})"
    match = next(((d, t) for d, t in choices if d.split(":")[0] == setting), None)
    if match is None:
        return f"{setting.upper()} (not on this machine)"
    device, text = match
    return text if device == "cpu" else f"{text} ({device})"
