"""Fixtures for the Results views: two example projects trained briefly, once per session."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from studio.core.project import load_project
from studio.gui.analysis.results_dock import ResultsPanel
from studio.gui.document import Document

PROJECTS = Path(__file__).resolve().parents[3] / "projects"
JOB_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """The machines are shared: torch and scikit-learn's native code use one thread."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


def _trained_copy(name: str, folder: Path, epochs: int) -> Path:
    from studio.runs import prepare_training

    folder.mkdir(parents=True, exist_ok=True)
    path = Path(shutil.copy(PROJECTS / f"{name}.studio", folder / f"{name}.studio"))
    prepare_training(load_project(path), overrides={"epochs": epochs, "threads": 1}).run()
    return path


@pytest.fixture(scope="session")
def trained_digits(tmp_path_factory) -> Path:
    """The digits CNN trained for two epochs (about 90 % validation accuracy, a few mistakes to show)."""
    return _trained_copy("digits_cnn", tmp_path_factory.mktemp("digits"), epochs=2)


@pytest.fixture(scope="session")
def trained_moons(tmp_path_factory) -> Path:
    return _trained_copy("moons_mlp", tmp_path_factory.mktemp("moons"), epochs=20)


def wait_idle(qtbot, panel: ResultsPanel) -> None:
    """Until the panel's background jobs are done and their results shown."""
    qtbot.waitUntil(lambda: not panel.runner.busy, timeout=JOB_TIMEOUT_MS)


@pytest.fixture
def open_panel(qtbot) -> Callable[..., ResultsPanel]:
    """A Results panel on a project file, shown and loaded (or showing why it cannot load)."""
    panels: list[ResultsPanel] = []

    def make(path: Path | None, *, edit: Callable | None = None) -> ResultsPanel:
        project = load_project(path) if path is not None else None
        if edit is not None:
            edit(project)
        panel = ResultsPanel(Document(project))
        qtbot.addWidget(panel)
        panel.resize(1280, 720)
        panel.show()
        panels.append(panel)
        wait_idle(qtbot, panel)
        return panel

    yield make
    for panel in panels:
        panel.shutdown()


@pytest.fixture
def digits_panel(open_panel, trained_digits) -> ResultsPanel:
    panel = open_panel(trained_digits)
    assert panel.results is not None, panel.message.detail.text()
    return panel


@pytest.fixture
def moons_panel(open_panel, trained_moons) -> ResultsPanel:
    panel = open_panel(trained_moons)
    assert panel.results is not None, panel.message.detail.text()
    return panel
