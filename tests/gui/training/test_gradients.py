"""Real models whose gradients vanish, across layers or through time: the Gradients tab names the layer."""

from __future__ import annotations

import json

from studio.core.graph import ModelGraph
from studio.core.project import Project, save_project

from ..helpers import PROJECTS
from .conftest import open_project, run_to_end, screenshot

DEPTH = 12  # sigmoid layers: each passes back at most a quarter of the gradient it receives


def deep_sigmoid_project(folder) -> object:
    graph = ModelGraph()
    previous = graph.add_node("Input", params={"kind": "vector", "features": 2}).id
    for i in range(1, DEPTH + 2):
        last = i == DEPTH + 1
        params = {"units": 2, "activation": "softmax"} if last else {"units": 16, "activation": "sigmoid"}
        node = graph.add_node("Dense", params=params, pos=(i * 180.0, 0.0)).id
        graph.connect(previous, node)
        previous = node
    project = Project(graph=graph, name="deep_sigmoid", dataset={"name": "moons", "settings": {}},
                      training={"epochs": 1, "threads": 1, "grad_norm_every": 1})
    return save_project(project, folder / "deep_sigmoid.studio")


def test_vanishing_gradients_of_a_deep_sigmoid_stack_are_named(qtbot, trainer, tmp_path):
    open_project(trainer, deep_sigmoid_project(tmp_path))
    trainer.resize(1440, 900)
    outcome = run_to_end(qtbot, trainer)
    assert outcome.status == "completed"
    panel = trainer.training.panel
    vanished = {w.layer for w in panel.gradients.warnings if w.kind == "vanishing"}
    assert "dense" in vanished  # the first layer, furthest from the loss
    assert f"dense_{DEPTH}" not in vanished  # the output layer still learns
    assert not any(w.kind == "exploding" for w in panel.gradients.warnings)
    tab = panel.tabs.indexOf(panel.gradients_stack)
    assert panel.tabs.tabToolTip(tab).startswith("⚠ Vanishing gradients in dense")
    panel.tabs.setCurrentIndex(tab)
    screenshot(trainer, "training_gradients_vanishing")


def memory_rnn_project(folder):
    data = json.loads((PROJECTS / "sequence_lstm.studio").read_text(encoding="utf-8"))
    for node in data["graph"]["nodes"]:
        if node["type"] == "LSTM":
            node["type"] = "RNN"
    data["dataset"]["settings"]["n_samples"] = 320
    data["training"].update({"epochs": 1, "threads": 1, "grad_norm_every": 4})
    path = folder / "memory_rnn.studio"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_plain_rnn_shows_its_gradient_fading_through_time(qtbot, trainer, tmp_path):
    open_project(trainer, memory_rnn_project(tmp_path))
    trainer.resize(1440, 900)
    assert run_to_end(qtbot, trainer).status == "completed"
    panel = trainer.training.panel
    view = panel.gradients
    assert [(w.kind, w.layer) for w in view.warnings] == [("vanishing_through_time", "lstm")]
    assert view.status.text().startswith("⚠ Gradient vanishing through time in lstm (step 1 gets 1/")
    assert "warned beyond 1,000x either way" in view.status.text()
    panel.tabs.setCurrentIndex(panel.tabs.indexOf(panel.gradients_stack))
    qtbot.waitUntil(view.time_widget.isVisible)
    qtbot.wait(200)  # the plots take their places in the layout
    steps, norms = view.time_items["lstm"].getData()
    assert list(steps) == list(range(1, 31)) and norms[0] < norms[-1] * 1e-4
    screenshot(trainer, "training_gradients_through_time")
