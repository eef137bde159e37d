"""Building the seed cats-vs-dogs CNN from an empty project the way a student would."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QSpinBox

from studio.core.project import load_project
from studio.core.summary import summarize
from studio.gui.main_window import MainWindow

from .helpers import cats_vs_dogs_core, connect_ports, drop_layer

SEED_TOTAL = 4_828_481
LAYERS = [
    ("Input", {"channels": 3, "height": 150, "width": 150}),
    ("Conv2D", {"filters": 32}),
    ("MaxPool2D", {}),
    ("Conv2D", {"filters": 64}),
    ("MaxPool2D", {}),
    ("Conv2D", {"filters": 128}),
    ("MaxPool2D", {}),
    ("Flatten", {}),
    ("Dense", {"units": 128, "activation": "relu"}),
    ("Dense", {"units": 1, "activation": "sigmoid"}),
]


def set_in_inspector(win: MainWindow, node_id: str, values: dict) -> None:
    """Select the node and change its settings with the inspector's own widgets."""
    win.scene.select_nodes([node_id])
    assert win.inspector.pages.currentWidget() is win.inspector.node_page
    form = win.inspector.node_page.form(win.doc.graph.nodes[node_id].type)
    for name, value in values.items():
        widget = form.editor(name)
        if isinstance(widget, QSpinBox):
            widget.setValue(value)
        elif isinstance(widget, QComboBox):
            widget.setCurrentIndex(widget.findText(value))
            widget.activated.emit(widget.currentIndex())  # what a user's choice emits
        elif isinstance(widget, QCheckBox):
            widget.setChecked(value)
        else:
            raise AssertionError(f"no way to set {name} on {widget}")


def build_seed_cnn(win: MainWindow) -> list[str]:
    ids = [drop_layer(win, type_name, (i * 200.0 + 82, 0.0)) for i, (type_name, _) in enumerate(LAYERS)]
    for src, dst in zip(ids, ids[1:], strict=False):
        connect_ports(win, src, dst)
    for node_id, (_, values) in zip(ids, LAYERS, strict=True):
        if values:
            set_in_inspector(win, node_id, values)
    return ids


def layers_of(graph) -> list[tuple[str, dict]]:
    return [(graph.nodes[nid].type, graph.nodes[nid].params) for nid in graph.topological_order()]


def test_seed_cnn_built_by_hand_matches_keras(window):
    empty = window.doc.project.to_dict()
    ids = build_seed_cnn(window)
    graph = window.doc.graph
    assert len(graph.edges) == len(ids) - 1
    assert window.doc.analysis.ok, window.doc.analysis.problems
    assert window.summary.summary.total == SEED_TOTAL
    assert summarize(cats_vs_dogs_core()).total == SEED_TOTAL
    assert layers_of(graph) == layers_of(cats_vs_dogs_core())
    assert "4,828,481 parameters" in window.params_label.text()
    assert window.scene.node_items[ids[-3]].look.shape == "(N, 36992)"
    assert window.isWindowModified()

    # Editing the input changes every shape downstream, on the canvas, at once.
    set_in_inspector(window, ids[0], {"height": 64, "width": 64})
    assert window.scene.node_items[ids[1]].look.shape == "(N, 32, 62, 62)"
    assert window.scene.node_items[ids[7]].look.shape == "(N, 4608)"
    assert window.scene.node_items[ids[8]].look.params == 4608 * 128 + 128
    window.doc.undo_stack.undo()  # width, then height: each change is its own step
    assert window.scene.node_items[ids[1]].look.shape == "(N, 32, 62, 148)"
    window.doc.undo_stack.undo()
    assert window.scene.node_items[ids[7]].look.shape == "(N, 36992)"
    window.doc.undo_stack.redo()
    window.doc.undo_stack.redo()

    built = window.doc.project.to_dict()
    stack = window.doc.undo_stack
    while stack.canUndo():
        stack.undo()
    assert window.doc.project.to_dict() == empty
    assert not window.scene.node_items and not window.scene.edge_items
    assert not window.isWindowModified()
    while stack.canRedo():
        stack.redo()
    assert window.doc.project.to_dict() == built
    assert window.scene.node_items[ids[7]].look.shape == "(N, 4608)"
    assert len(window.scene.edge_items) == len(ids) - 1


def test_saved_model_reopens_identical(window, answers, tmp_path, qtbot):
    build_seed_cnn(window)
    answers.save_path = str(tmp_path / "pets.studio")
    assert window.save_action.isEnabled()
    window.save_action.trigger()
    assert not window.isWindowModified()
    assert window.windowTitle().startswith("pets.studio")
    saved = window.doc.project.to_dict()
    assert load_project(tmp_path / "pets.studio").to_dict() == saved

    other = MainWindow(probe_device=False)
    qtbot.addWidget(other)
    other.start(str(tmp_path / "pets.studio"))
    assert other.doc.project.to_dict() == saved
    assert other.summary.summary.total == SEED_TOTAL
    assert str(tmp_path / "pets.studio") in other.files.recent_files()
