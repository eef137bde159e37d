"""Which device training would use, found in the background: importing torch takes seconds."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

_found: list[tuple[str, str]] | None = None  # (device, description), best first; probed once per process


class DeviceProbe(QObject):
    """Emits `found` with the machine's training devices; the first call imports torch off the GUI thread."""

    found = Signal(list)

    def start(self) -> None:
        if _found is not None:
            self.found.emit(_found)
            return
        threading.Thread(target=self._probe, name="device-probe", daemon=True).start()

    def _probe(self) -> None:
        global _found
        try:
            from studio.train.devices import device_choices

            choices = device_choices()
        except Exception as exc:  # no torch, a broken driver: say so instead of failing
            choices = [("none", f"unavailable ({type(exc).__name__})")]
        _found = choices
        try:
            self.found.emit(choices)  # queued to the GUI thread, where the label lives
        except RuntimeError:
            pass  # the window closed while torch was importing: nobody is waiting for the answer


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
