"""A connection on the canvas: a curve from a node's output port to another node's input port."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsSceneHoverEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from studio.core.graph import Edge
from studio.gui.canvas.node_item import HEIGHT, WIDTH, NodeItem
from studio.gui.theme import CanvasTheme

HIT_WIDTH = 12.0  # the curve is thin; clicking near it is enough
DETOUR_SPAN = 100.0  # wider than the gap between neighbouring columns: layers may lie in between


def link_path(start: QPointF, end: QPointF, *, detour: bool = False) -> QPainterPath:
    """A horizontal S-curve between two ports, also used while a connection is being dragged.

    With `detour`, the connection dips below its row instead: a shortcut past layers on the same row
    (a residual connection) would otherwise be hidden behind them.
    """
    path = QPainterPath(start)
    if detour:
        low = max(start.y(), end.y()) + HEIGHT * 0.8
        turn = 36.0
        path.cubicTo(QPointF(start.x() + turn, start.y()), QPointF(start.x() + turn, low),
                     QPointF(start.x() + 2 * turn, low))
        path.lineTo(QPointF(end.x() - 2 * turn, low))
        path.cubicTo(QPointF(end.x() - turn, low), QPointF(end.x() - turn, end.y()), end)
        return path
    bend = max(40.0, abs(end.x() - start.x()) * 0.5)
    path.cubicTo(QPointF(start.x() + bend, start.y()), QPointF(end.x() - bend, end.y()), end)
    return path


class EdgeItem(QGraphicsPathItem):
    def __init__(self, edge: Edge, src: NodeItem, dst: NodeItem, colours: CanvasTheme) -> None:
        super().__init__()
        self.edge, self.src, self.dst = edge, src, dst
        self.colours = colours
        self.highlighted = False  # a layer dragged from the palette would be inserted here
        self._hovered = False
        self._shape = QPainterPath()
        self._route: tuple | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(0.0)
        src.edges.append(self)
        dst.edges.append(self)
        self.update_path()

    def detach(self) -> None:
        for end in (self.src, self.dst):
            if self in end.edges:
                end.edges.remove(self)

    def update_path(self) -> None:
        start = self.src.mapToScene(self.src.output_port())
        end = self.dst.mapToScene(self.dst.input_port(self.edge.port))
        route = (start.x(), start.y(), end.x(), end.y(), self._blocked(start, end))
        if route == self._route:
            return  # unchanged: redrawing it would only cost time
        self._route = route
        path = link_path(start, end, detour=route[-1])
        stroker = QPainterPathStroker()
        stroker.setWidth(HIT_WIDTH)
        self.prepareGeometryChange()
        self._shape = stroker.createStroke(path)
        self.setPath(path)

    @property
    def long(self) -> bool:
        """Spans more than one column: its route depends on what stands in between."""
        return self.dst.x() - (self.src.x() + WIDTH) > DETOUR_SPAN

    def _blocked(self, start: QPointF, end: QPointF) -> bool:
        """Whether other layers stand on the straight way from `start` to `end` (same row only)."""
        scene = self.scene()
        if scene is None or end.x() - start.x() < DETOUR_SPAN or abs(end.y() - start.y()) > HEIGHT / 2:
            return False
        top, bottom = min(start.y(), end.y()), max(start.y(), end.y())
        # A plain loop over the layers: a scene query calls back into Python for every item.
        for item in scene.node_items.values():
            if item is self.src or item is self.dst:
                continue
            x, y = item.x(), item.y()
            if x + WIDTH > start.x() and x < end.x() and y < bottom and y + item.height > top:
                return True
        return False

    def set_colours(self, colours: CanvasTheme) -> None:
        self.colours = colours
        self.update()

    def set_highlighted(self, on: bool) -> None:
        if on != self.highlighted:
            self.highlighted = on
            self.update()

    def shape(self) -> QPainterPath:
        return self._shape

    def boundingRect(self) -> QRectF:
        return self._shape.boundingRect()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        c = self.colours
        active = self.isSelected() or self.highlighted or self._hovered
        colour = c.selection if active else c.edge
        width = 3.0 if (self.isSelected() or self.highlighted) else 2.0
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._hovered = True
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._hovered = False
        self.update()
        super().hoverLeaveEvent(event)
