"""Canvas details: merge ports, keyboard, panning with space, the palette following the theme."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from studio.core.graph import ModelGraph
from studio.core.project import Project
from studio.gui import commands, theme
from studio.gui.canvas.node_item import HEIGHT

from .helpers import connect_ports


def branches() -> Project:
    graph = ModelGraph()
    graph.add_node("Input", params={"kind": "vector", "features": 8})
    graph.add_node("Dense", params={"units": 4}, pos=(200, -100))
    graph.add_node("Dense", params={"units": 4}, pos=(200, 100))
    graph.add_node("Concat", pos=(400, 0))
    graph.connect("n1", "n2")
    graph.connect("n1", "n3")
    return Project(graph=graph)


def test_merge_layers_take_inputs_on_chosen_ports_and_grow_a_free_one(window):
    window.doc.replace(branches())
    window.view.resetTransform()
    window.view.centerOn(300, 0)
    concat = window.scene.node_items["n4"]
    assert concat.look.inputs == 2
    connect_ports(window, "n3", "n4", port=1)
    connect_ports(window, "n2", "n4", port=0)
    edges = {(e.src, e.port) for e in window.doc.graph.edges if e.dst == "n4"}
    assert edges == {("n3", 1), ("n2", 0)}
    assert concat.look.inputs == 3 and concat.look.connected == frozenset({0, 1})
    assert window.scene.node_items["n4"].look.shape == "(N, 8)"
    for edge in window.doc.graph.edges:  # every connection ends on its port
        item = window.scene.edge_items[edge]
        end = item.dst.mapToScene(item.dst.input_port(edge.port))
        assert (item.path().pointAtPercent(1.0) - end).manhattanLength() < 0.01


def test_keyboard_delete_and_select_all_on_the_canvas(window):
    window.doc.replace(branches())
    window.activateWindow()
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(window.scene.selected_node_ids()) == 4
    window.scene.select_nodes(["n4"])
    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    assert "n4" not in window.doc.graph.nodes
    QTest.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "n4" in window.doc.graph.nodes


def test_space_and_drag_pans(window):
    window.doc.replace(branches())
    view, viewport = window.view, window.view.viewport()
    before = view.verticalScrollBar().value()
    QTest.keyPress(view, Qt.Key.Key_Space)
    centre = viewport.rect().center()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    below = centre + QPoint(0, 50)
    QTest.mouseMove(viewport, below)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, below)
    QTest.keyRelease(view, Qt.Key.Key_Space)
    assert view.verticalScrollBar().value() == before - 50
    assert not window.scene.selectedItems()  # panning, not a rubber band


def test_shortcut_connections_dip_below_the_layers_they_skip(window):
    graph = ModelGraph()
    graph.add_node("Input", params={"kind": "vector", "features": 8})
    graph.add_node("Dense", params={"units": 8}, pos=(200, 0))
    graph.add_node("Add", pos=(400, 0))
    graph.add_node("Dense", params={"units": 8}, pos=(600, 0))
    for src, dst in (("n1", "n2"), ("n2", "n3"), ("n1", "n3"), ("n3", "n4")):
        graph.connect(src, dst)
    window.doc.replace(Project(graph=graph))
    paths = {(e.src, e.dst): window.scene.edge_items[e].path().boundingRect() for e in graph.edges}
    assert paths[("n1", "n2")].height() < 1  # next door: straight
    assert paths[("n1", "n3")].bottom() > HEIGHT  # past n2: below the row
    commands.move(window.doc, {"n2": (200, -150)})  # nothing in the way any more
    edge = next(e for e in window.doc.graph.edges if (e.src, e.dst) == ("n1", "n3"))
    assert window.scene.edge_items[edge].path().boundingRect().bottom() < HEIGHT


def test_canvas_follows_a_palette_change(window, qapp, qtbot):
    light = window.scene.colours.background
    theme.apply_theme(qapp, "dark")  # Qt delivers the palette change as an event
    try:
        qtbot.waitUntil(lambda: window.scene.colours.dark)
        assert window.scene.colours.background != light
    finally:
        theme.apply_theme(qapp, "light")
    qtbot.waitUntil(lambda: not window.scene.colours.dark)


def test_right_click_selects_the_layer_and_offers_the_edit_actions(window, monkeypatch):
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QMenu

    window.doc.replace(branches())
    window.view.resetTransform()
    window.view.centerOn(300, 0)
    shown = []
    monkeypatch.setattr(QMenu, "exec", staticmethod(lambda actions, *args: shown.append(actions)))
    item = window.scene.node_items["n2"]
    point = window.view.mapFromScene(item.mapToScene(item.body().center()))
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, point, window.view.mapToGlobal(point))
    window.view.contextMenuEvent(event)
    assert window.scene.selected_node_ids() == ["n2"]
    assert window.delete_action in shown[0] and window.duplicate_action in shown[0]


def test_a_refused_connection_is_told_beside_the_mouse(window, qtbot):
    from PySide6.QtGui import QCursor
    from PySide6.QtWidgets import QToolTip

    viewport = window.view.viewport()
    QCursor.setPos(viewport.mapToGlobal(viewport.rect().center()))
    window.doc.refused.emit("that connection would make a cycle")
    qtbot.waitUntil(QToolTip.isVisible, timeout=3000)
    assert QToolTip.text() == "that connection would make a cycle"
