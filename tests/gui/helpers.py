"""Helpers for the window tests: the user's gestures, performed the way Qt delivers them."""

from __future__ import annotations

import warnings
from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest

from studio.core.graph import ModelGraph
from studio.gui.clipboard import layer_mime
from studio.gui.main_window import MainWindow

PROJECTS = Path(__file__).resolve().parents[2] / "projects"


def drop_layer(win: MainWindow, type_name: str, scene_pos: tuple[float, float]) -> str:
    """Drop a palette entry onto the canvas at `scene_pos`, as a real drag and drop delivers it."""
    view = win.view
    point = view.mapFromScene(QPointF(*scene_pos))
    before = set(win.doc.graph.nodes)
    mime = layer_mime(type_name)  # the event only points at it: keep it alive
    event = QDropEvent(QPointF(point), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    view.dropEvent(event)
    assert event.isAccepted()
    (added,) = set(win.doc.graph.nodes) - before
    return added


def drag_over(win: MainWindow, type_name: str, scene_pos: QPointF) -> None:
    """A palette entry dragged over the canvas at `scene_pos` (not dropped yet)."""
    mime = layer_mime(type_name)
    with warnings.catch_warnings():  # Qt offers only the integer-point constructor, marked deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        event = QDragMoveEvent(win.view.mapFromScene(scene_pos), Qt.DropAction.CopyAction, mime,
                               Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    win.view.dragMoveEvent(event)
    assert event.isAccepted()


def port_pos(win: MainWindow, node_id: str, port: str, index: int = 0) -> QPoint:
    """Viewport coordinates of a node's port."""
    item = win.scene.node_items[node_id]
    local = item.output_port() if port == "out" else item.input_port(index)
    return win.view.mapFromScene(item.mapToScene(local))


def cats_vs_dogs_core() -> ModelGraph:
    from studio.gui.screenshots import cats_vs_dogs_graph

    return cats_vs_dogs_graph()


def drag(win: MainWindow, start: QPoint, end: QPoint, steps: int = 4) -> None:
    """Press the left button at `start`, move to `end` in a few steps, release (viewport coordinates)."""
    viewport = win.view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, steps + 1):
        QTest.mouseMove(viewport, start + (end - start) * (i / steps))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def connect_ports(win: MainWindow, src: str, dst: str, port: int = 0) -> None:
    """Drag from `src`'s output port to `dst`'s input port `port`."""
    drag(win, port_pos(win, src, "out"), port_pos(win, dst, "in", port))
