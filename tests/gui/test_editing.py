"""Editing on the canvas: connecting, refusals, copy and paste, moving, inserting, deleting, layout."""

from __future__ import annotations

import json
import random

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QGraphicsSceneHelpEvent, QToolTip

from studio.core.graph import ModelGraph
from studio.core.project import Project
from studio.gui import commands
from studio.gui.main_window import MainWindow

from .helpers import connect_ports, drag, drag_over, drop_layer, port_pos


def chain(*types: str, spacing: float = 200.0) -> ModelGraph:
    """Input -> types... in a row, each connected to the one before."""
    graph = ModelGraph()
    previous = graph.add_node("Input", params={"kind": "vector", "features": 8}).id
    for i, type_name in enumerate(types, start=1):
        node = graph.add_node(type_name, pos=(i * spacing, 0.0))
        graph.connect(previous, node.id)
        previous = node.id
    return graph


def show(win: MainWindow, graph: ModelGraph) -> None:
    win.doc.replace(Project(graph=graph, name="test"))
    win.view.resetTransform()
    win.view.centerOn(300, 0)


def test_connecting_into_a_cycle_is_refused_with_a_message(window):
    graph = ModelGraph()
    graph.add_node("Input", params={"kind": "vector", "features": 8})
    graph.add_node("Add", pos=(200, 0))
    graph.add_node("Dense", pos=(400, 0), params={"units": 8})
    graph.add_node("Dense", pos=(600, 0), params={"units": 8})
    graph.connect("n1", "n2")
    graph.connect("n2", "n3")
    graph.connect("n3", "n4")
    show(window, graph)
    before = window.doc.project.to_dict()
    connect_ports(window, "n4", "n2", port=1)
    assert window.doc.project.to_dict() == before
    assert window.doc.undo_stack.count() == 0
    assert "cycle" in window.statusBar().currentMessage()


def test_an_input_that_is_taken_refuses_a_second_connection(window):
    show(window, chain("Dense", "Dense"))
    connect_ports(window, "n1", "n3")
    assert "already has its input" in window.statusBar().currentMessage()
    assert len(window.doc.graph.edges) == 2


def test_dragging_a_connected_input_moves_or_removes_the_connection(window):
    show(window, chain("Dense", "Dense"))
    drag(window, port_pos(window, "n3", "in"), window.view.mapFromScene(QPointF(300, 300)))
    assert [(e.src, e.dst) for e in window.doc.graph.edges] == [("n1", "n2")]
    window.doc.undo_stack.undo()
    assert [(e.src, e.dst) for e in window.doc.graph.edges] == [("n1", "n2"), ("n2", "n3")]


def test_problem_nodes_are_marked_and_a_click_on_a_problem_selects_the_node(window):
    graph = chain("Dense")
    graph.add_node("Dense", pos=(200, 150))  # not connected to anything
    show(window, graph)
    item = window.scene.node_items["n3"]
    assert item.look.error and "is not connected" in item.look.error
    assert "not connected" in item.tooltip()
    help_event = QGraphicsSceneHelpEvent(QEvent.Type.GraphicsSceneHelp)
    help_event.setScenePos(item.mapToScene(item.body().center()))
    help_event.setScreenPos(QPoint(100, 100))
    window.scene.helpEvent(help_event)
    assert "not connected" in QToolTip.text()
    assert window.scene.node_items["n2"].look.error is None
    problems = window.problems
    row = next(i for i in range(problems.count()) if problems.item(i).data(Qt.ItemDataRole.UserRole) == "n3")
    problems.itemClicked.emit(problems.item(row))
    assert window.scene.selected_node_ids() == ["n3"]
    assert window.inspector.node_page.node_id == "n3"
    assert "Problems (" in window.bottom_tabs.tabText(1)


def test_copy_and_paste_keeps_internal_connections_with_new_names(window):
    show(window, chain("Dense", "Dropout", "Dense"))
    window.scene.select_nodes(["n2", "n3"])
    assert window.copy() == 2
    copied = json.loads(QGuiApplication.clipboard().text())
    assert [n["name"] for n in copied["nodes"]] == ["dense", "dropout"]
    before = window.doc.project.to_dict()
    new_ids = window.paste()
    graph = window.doc.graph
    assert len(new_ids) == 2
    names = [graph.nodes[n].name for n in new_ids]
    assert names == ["dense_2", "dropout_1"]
    assert (new_ids[0], new_ids[1]) in [(e.src, e.dst) for e in graph.edges]
    assert graph.nodes[new_ids[0]].pos == (240.0, 40.0)
    assert window.scene.selected_node_ids() == new_ids
    again = window.paste()
    assert graph.nodes[again[0]].pos == (280.0, 80.0)
    window.doc.undo_stack.undo()
    window.doc.undo_stack.undo()
    assert window.doc.project.to_dict() == before


def test_paste_ignores_a_clipboard_without_layers(window):
    show(window, chain("Dense"))
    QGuiApplication.clipboard().setText("hello")
    assert window.paste() == []
    assert "no layers" in window.statusBar().currentMessage()
    mime = QMimeData()
    mime.setText(json.dumps({"format": "model-studio-layers", "nodes": [{"id": 1}], "edges": []}))
    QGuiApplication.clipboard().setMimeData(mime)
    assert window.paste() == []
    assert len(window.doc.graph.nodes) == 2


def test_duplicate_and_cut(window):
    show(window, chain("Dense", "Dense"))
    window.scene.select_nodes(["n2"])
    window.duplicate_action.trigger()
    assert len(window.doc.graph.nodes) == 4
    (copy_id,) = window.scene.selected_node_ids()
    assert window.doc.graph.nodes[copy_id].params == window.doc.graph.nodes["n2"].params
    window.cut_action.trigger()
    assert copy_id not in window.doc.graph.nodes
    assert window.paste()


def test_moving_several_nodes_is_one_undo_step(window):
    show(window, chain("Dense", "Dense", "Dense"))
    before = window.doc.project.to_dict()
    window.scene.select_nodes(["n2", "n3", "n4"])
    view = window.view  # at 100 %: scene and viewport distances are equal
    drag(window, view.mapFromScene(QPointF(280, 40)), view.mapFromScene(QPointF(340, 130)))
    graph = window.doc.graph
    assert [graph.nodes[n].pos for n in ("n2", "n3", "n4")] == [(260, 90), (460, 90), (660, 90)]
    assert graph.nodes["n1"].pos == (0, 0)
    assert window.doc.undo_stack.count() == 1
    assert window.doc.undo_stack.undoText() == "Move 3 layers"
    window.doc.undo_stack.undo()
    assert window.doc.project.to_dict() == before
    assert window.scene.node_items["n3"].pos() == QPointF(400, 0)


def test_dropping_a_layer_on_a_connection_inserts_it(window):
    show(window, chain("Dense", "Dense"))
    before = window.doc.project.to_dict()
    middle = window.scene.edge_items[window.doc.graph.edges[1]].path().pointAtPercent(0.5)
    drag_over(window, "Dropout", middle)
    assert window.scene.edge_items[window.doc.graph.edges[1]].highlighted
    new = drop_layer(window, "Dropout", (middle.x(), middle.y()))
    edges = [(e.src, e.dst) for e in window.doc.graph.edges]
    assert ("n2", new) in edges and (new, "n3") in edges and ("n2", "n3") not in edges
    assert window.doc.undo_stack.undoText() == "Insert Dropout"
    assert not any(item.highlighted for item in window.scene.edge_items.values())
    window.doc.undo_stack.undo()
    assert window.doc.project.to_dict() == before


def test_delete_nodes_and_connections(window):
    show(window, chain("Dense", "Dense", "Dense"))
    before = window.doc.project.to_dict()
    window.scene.select_nodes(["n2"])
    window.scene.edge_items[window.doc.graph.edges[-1]].setSelected(True)
    window.delete_action.trigger()
    assert list(window.doc.graph.nodes) == ["n1", "n3", "n4"]
    assert window.doc.graph.edges == []
    assert window.doc.undo_stack.count() == 1
    window.doc.undo_stack.undo()
    assert window.doc.project.to_dict() == before


def test_auto_layout_orders_columns_by_longest_path(window):
    graph = ModelGraph()
    inp = graph.add_node("Input", params={"kind": "vector", "features": 8}, pos=(500, 300)).id
    a = graph.add_node("Dense", params={"units": 8}, pos=(-300, 40)).id
    b = graph.add_node("Dense", params={"units": 8}, pos=(20, -500)).id
    add = graph.add_node("Add", pos=(900, 900)).id
    out = graph.add_node("Dense", params={"units": 2}, pos=(0, 0)).id
    for src, dst in ((inp, a), (a, b), (b, add), (inp, add), (add, out)):
        graph.connect(src, dst)
    show(window, graph)
    before = window.doc.project.to_dict()
    window.layout_action.trigger()
    pos = {nid: node.pos for nid, node in window.doc.graph.nodes.items()}
    assert pos[inp] == (500, 300)  # the Input stays where it was
    assert [pos[n][0] for n in (inp, a, b, add, out)] == [500, 700, 900, 1100, 1300]
    assert len(set(pos.values())) == len(pos)
    assert window.doc.undo_stack.undoText() == "Auto layout"
    window.doc.undo_stack.undo()
    assert window.doc.project.to_dict() == before


def test_double_click_in_the_palette_appends_after_the_selection(window):
    show(window, chain("Dense"))
    window.scene.select_nodes(["n2"])
    item = window.palette_panel.categories["Activation"].child(0)
    window.palette_panel.tree.itemActivated.emit(item, 0)
    (new,) = window.scene.selected_node_ids()
    assert window.doc.graph.nodes[new].type == "ReLU"
    assert ("n2", new) in [(e.src, e.dst) for e in window.doc.graph.edges]
    assert window.doc.graph.nodes[new].pos == (400.0, 0.0)
    window.scene.select_nodes(["n2"])  # the spot to the right is taken now: the next goes below it
    window.palette_panel.tree.itemActivated.emit(item, 0)
    (below,) = window.scene.selected_node_ids()
    assert window.doc.graph.nodes[below].pos == (400.0, 120.0)


def test_select_all_and_escape_cancels_a_connection(window):
    show(window, chain("Dense", "Dense"))
    window.select_all_action.trigger()
    assert window.scene.selected_node_ids() == ["n1", "n2", "n3"]
    item = window.scene.node_items["n2"]
    window.scene.begin_link(item, ("out", 0), item.mapToScene(item.output_port()))
    assert window.scene.linking
    window.scene.cancel_link()
    assert not window.scene.linking and len(window.doc.graph.edges) == 2


@pytest.mark.parametrize("seed", range(4))
def test_random_edits_undo_and_redo_exactly(window, seed):
    """Any sequence of edits undoes back to the start and redoes to the end, byte for byte."""
    rng = random.Random(seed)
    show(window, chain("Dense", "Dropout", "Dense"))
    doc = window.doc
    start = doc.project.to_dict()
    types = ["Dense", "Dropout", "ReLU", "Add", "Concat", "BatchNorm"]
    for _ in range(40):
        graph = doc.graph
        ids = list(graph.nodes)
        choice = rng.randrange(7)
        if choice == 0 or len(ids) < 3:
            commands.add_layer(doc, rng.choice(types), (rng.uniform(-500, 500), rng.uniform(-500, 500)),
                               after=rng.choice(ids) if rng.random() < 0.5 else None)
        elif choice == 1:
            commands.delete(doc, rng.sample(ids, 2), graph.edges[:1])
        elif choice == 2:
            commands.connect(doc, rng.choice(ids), rng.choice(ids))  # often refused: that's fine
        elif choice == 3:
            commands.move(doc, {n: (rng.uniform(-9, 9), rng.uniform(-9, 9)) for n in rng.sample(ids, 2)})
        elif choice == 4 and graph.edges:
            commands.add_layer(doc, "Dropout", (0, 0), into=rng.choice(graph.edges))
        elif choice == 5:
            dense = [n for n in ids if graph.nodes[n].type == "Dense"]
            if dense:
                commands.set_params(doc, rng.choice(dense), {"units": rng.randrange(1, 50)})
        else:
            commands.paste(doc, ModelGraph.from_dict({"nodes": [n for n in graph.to_dict()["nodes"][:2]],
                                                      "edges": []}), (10, 10))
    end = doc.project.to_dict()
    stack = doc.undo_stack
    while stack.canUndo():
        stack.undo()
    assert doc.project.to_dict() == start
    while stack.canRedo():
        stack.redo()
    assert doc.project.to_dict() == end
    assert set(window.scene.node_items) == set(doc.graph.nodes)
    assert set(window.scene.edge_items) == set(doc.graph.edges)
