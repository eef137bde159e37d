"""The device probe asks a child process, so the window never imports torch for it nor starts CUDA."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import shiboken6
from PySide6.QtCore import QObject

from studio.gui import device
from studio.gui.background import Report
from studio.gui.device import DeviceProbe, list_devices

WAIT_MS = 10_000


@pytest.fixture
def unprobed(monkeypatch):
    monkeypatch.setattr(device, "_found", None)


def child(monkeypatch, code: str) -> None:
    monkeypatch.setattr(device, "PROBE_COMMAND", [sys.executable, "-c", code])


def probe(qtbot) -> list[tuple[str, str]]:
    found: list = []
    probe = DeviceProbe()
    probe.found.connect(found.append)
    probe.start()
    qtbot.waitUntil(lambda: bool(found), timeout=WAIT_MS)
    return found[0]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("code,says", [
    ("import sys; print('torch warned about something', file=sys.stderr); "
     "print(\"No module named 'torch'\", file=sys.stderr); sys.exit(1)", "No module named 'torch'"),
    ("print('hello')", "the device check printed no list of devices"),
    ("print('[]')", "the device check found no device"),
    ("import os; os.abort()", "the device check stopped with status"),
])
def test_a_failed_check_is_an_unavailable_device_in_words(qtbot, monkeypatch, unprobed, code, says):
    child(monkeypatch, code)
    ((name, text),) = probe(qtbot)
    assert name == "none" and text.startswith(f"unavailable ({says}") and text.endswith(")")
    assert device.describe([(name, text)], "auto") == text


@pytest.mark.timeout(60)
def test_a_check_that_takes_too_long_is_cut_off(qtbot, monkeypatch, unprobed):
    child(monkeypatch, "import time; time.sleep(30)")
    monkeypatch.setattr(device, "PROBE_TIMEOUT_S", 0.5)
    began = time.monotonic()
    assert probe(qtbot) == [("none", "unavailable (the device check took longer than 0.5 s)")]
    assert time.monotonic() - began < 10


@pytest.mark.timeout(60)
def test_the_answer_is_kept_for_the_process(qtbot, monkeypatch, unprobed):
    child(monkeypatch, "print('[[\"cpu\", \"CPU (3 cores)\"]]')")
    assert probe(qtbot) == [("cpu", "CPU (3 cores)")]
    child(monkeypatch, "import sys; sys.exit(1)")  # not asked again
    assert probe(qtbot) == [("cpu", "CPU (3 cores)")]


@pytest.mark.timeout(60)
def test_closing_the_window_ends_the_check(qtbot, monkeypatch, unprobed):
    child(monkeypatch, "import time; time.sleep(30)")
    owner = QObject()
    probe = DeviceProbe(owner)
    found: list = []
    probe.found.connect(found.append)
    probe.start()
    task = probe._task
    shiboken6.delete(owner)
    assert task.join(10)  # the child was killed, not waited for
    qtbot.wait(100)
    assert found == [] and device._found is None


@pytest.mark.timeout(120)
def test_the_real_check_lists_the_cpu_last():
    choices = list_devices(Report(threading.Event(), lambda _value: None))
    assert choices[-1][0] == "cpu" and choices[-1][1].startswith("CPU (")


@pytest.mark.timeout(60)
def test_the_window_side_imports_no_torch():
    code = "import sys, studio.gui.device; assert 'torch' not in sys.modules, 'torch was imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr
