"""Fixtures for training from the window: small projects on disk, a window that answers its questions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from studio.core.graph import ModelGraph
from studio.core.project import Project, save_project
from studio.gui.main_window import MainWindow
from studio.gui.training.session import TrainingSession
from studio.gui.training.worker import Outcome

from ..helpers import PROJECTS

SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"
RUN_TIMEOUT_MS = 60_000


class TrainingAnswers:
    def __init__(self) -> None:
        self.save_first = True
        self.stop_and_close = True
        self.asked: list[str] = []


@pytest.fixture(autouse=True)
def training_answers(monkeypatch) -> TrainingAnswers:
    """No question box blocks a test: each is answered from here."""
    given = TrainingAnswers()

    def ask(kind: str):
        def method(self):
            given.asked.append(kind)
            return getattr(given, kind)
        return method

    monkeypatch.setattr(TrainingSession, "ask_save_first", ask("save_first"))
    monkeypatch.setattr(TrainingSession, "ask_stop_and_close", ask("stop_and_close"))
    return given


@pytest.fixture
def digits_file(tmp_path: Path) -> Callable[..., Path]:
    """Writes the digits example with training settings changed (1 thread, half the data held out, so
    an epoch is quick) and returns its path."""
    def make(name: str = "digits", **training) -> Path:
        data = json.loads((PROJECTS / "digits_cnn.studio").read_text(encoding="utf-8"))
        data["training"].update({"epochs": 2, "threads": 1, **training})
        data["dataset"]["settings"] = {"validation_split": 0.5}
        path = tmp_path / f"{name}.studio"
        path.write_text(json.dumps(data), encoding="utf-8")
        return path
    return make


def diverging_project(folder: Path) -> Path:
    """A dense model forecasting a sine, trained by SGD at learning rate 10: its loss reaches inf within
    the first few batches, every time."""
    graph = ModelGraph()
    previous = graph.add_node("Input", params={"kind": "sequence", "length": 20, "features": 1}).id
    for i, (type_name, params) in enumerate([("Flatten", {}), ("Dense", {"units": 32, "activation": "relu"}),
                                              ("Dense", {"units": 1, "activation": "linear"})], start=1):
        node = graph.add_node(type_name, params=params, pos=(i * 200.0, 0.0)).id
        graph.connect(previous, node)
        previous = node
    project = Project(graph=graph, name="diverges", dataset={"name": "sine", "settings": {"n_samples": 300}},
                      training={"optimizer": "sgd", "learning_rate": 10.0, "epochs": 3, "threads": 1})
    return save_project(project, folder / "diverges.studio")


@pytest.fixture
def trainer(window: MainWindow) -> MainWindow:
    """The window with devices known (as the background probe would report them)."""
    window.set_devices([("cpu", "CPU (2 cores)")])
    return window


def open_project(win: MainWindow, path: Path) -> None:
    assert win.files.load(path)


def run_to_end(qtbot, win: MainWindow) -> Outcome:
    """Press Run and wait for the run to end; returns how it ended."""
    with qtbot.waitSignal(win.training.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert win.training.run()
    return blocker.args[0]


def wait_for_batches(qtbot, win: MainWindow, count: int = 1) -> None:
    """Until the panel has drawn at least `count` batches of the live run."""
    panel = win.training.panel
    qtbot.waitUntil(lambda: panel.live is not None and len(panel.live.batch_loss) >= count,
                    timeout=RUN_TIMEOUT_MS)


def screenshot(win: MainWindow, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert win.grab().save(str(path))
    return path
