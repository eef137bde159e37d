"""The Results dock in the window: empty until trained, a message when the run cannot load, the newest run."""

from __future__ import annotations

import copy
import shutil

from studio.gui.analysis.results_dock import EMPTY_TITLE

from .conftest import PROJECTS, wait_idle


def test_no_trained_model_shows_the_empty_state(window, tmp_path, qtbot):
    path = shutil.copy(PROJECTS / "moons_mlp.studio", tmp_path / "moons.studio")
    assert window.files.load(path)
    window.show_results()
    panel = window.results
    assert window.results_dock.isVisible() and panel.isVisible()
    assert panel.pages.currentWidget() is panel.message and panel.message.title.text() == EMPTY_TITLE
    assert panel.tabs is None and not panel.runner.busy and not panel.run_box.isEnabled()


def test_an_unsaved_project_says_how_to_get_results(open_panel):
    panel = open_panel(None)
    assert panel.message.title.text() == EMPTY_TITLE and "Save the project" in panel.message.detail.text()


def test_the_window_shows_the_latest_run(window, trained_digits, qtbot):
    assert window.files.load(trained_digits)
    window.results_action.trigger()
    qtbot.waitUntil(lambda: window.results.results is not None, timeout=60_000)
    panel = window.results
    assert panel.pages.currentWidget() is panel.tabs
    assert panel.run_box.currentData() == window.doc.project.runs[-1]["id"]
    assert window.results_dock.toggleViewAction() in window.view_menu.actions()
    assert window.results_action in window.toolbar.actions()
    window.close()
    assert not panel.runner.busy


def test_weights_that_no_longer_fit_are_a_message(open_panel, trained_digits):
    def widen(project):
        dense = next(n for n in project.graph.nodes.values() if n.name == "dense")
        project.graph.set_params(dense.id, {"units": 64})

    panel = open_panel(trained_digits, edit=widen)
    assert panel.results is None and panel.pages.currentWidget() is panel.message
    assert "do not fit this model" in panel.message.detail.text()
    assert "changed after run" in panel.message.detail.text()


def test_a_new_trained_run_is_loaded(digits_panel, qtbot):
    panel = digits_panel
    doc = panel.doc
    first = panel.results.run_id
    newer = copy.deepcopy(doc.project.runs[-1])
    newer["id"] = "newer0run"
    doc.set_runs([*doc.project.runs, newer])  # what a finished training run reports
    assert panel.run_box.count() == 2 and panel.run_box.currentData() == "newer0run"
    wait_idle(qtbot, panel)
    assert panel.results.run_id == "newer0run" != first
    panel.run_box.setCurrentIndex(1)
    panel.run_box.activated.emit(1)
    wait_idle(qtbot, panel)
    assert panel.results.run_id == first
