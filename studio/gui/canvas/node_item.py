"""A layer on the canvas: name, type and key settings, output shape, weight count, and its ports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from studio.gui import icons, theme
from studio.gui.theme import CanvasTheme

if TYPE_CHECKING:
    from studio.gui.canvas.edge_item import EdgeItem
    from studio.gui.canvas.scene import GraphScene

WIDTH = 164.0
HEADER = 26.0
LINE = 17.0
HEIGHT = HEADER + 2 * LINE + 10.0
PORT_RADIUS = 5.0
PORT_HIT = 10.0  # ports are small; the mouse may miss them by this much
PORT_SPACING = 18.0
RADIUS = 7.0
DETAIL_LOD = 0.6  # below this zoom the node shows only its name and shape, in larger letters
BOXES_LOD = 0.22  # below this zoom only coloured boxes: no text would fit
OVERVIEW_PX = 10.0  # on-screen letter size of the zoomed-out view


@dataclass(frozen=True)
class NodeLook:
    """Everything a node item shows; the item repaints only when this changes."""

    name: str
    type: str
    category: str
    detail: str  # the spec's key settings, e.g. "32 @ 3x3, relu"
    shape: str
    params: int
    error: str | None
    help: str
    inputs: int  # input ports drawn
    connected: frozenset[int]  # input ports in use
    feeds: bool  # the output is connected


def compact_count(n: int) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


class _Fonts:
    """Node fonts, derived from the application font once per theme."""

    def __init__(self) -> None:
        base = QApplication.font()
        size = base.pointSizeF() if base.pointSizeF() > 0 else 9.0
        self.title = QFont(base)
        self.title.setPointSizeF(size)
        self.title.setBold(True)
        self.small = QFont(base)
        self.small.setPointSizeF(max(size - 1.0, 7.0))
        self.title_metrics = QFontMetricsF(self.title)
        self.small_metrics = QFontMetricsF(self.small)
        self._scaled: dict[tuple[bool, int], tuple[QFont, QFontMetricsF]] = {}

    def scaled(self, title: bool, pixels: float) -> tuple[QFont, QFontMetricsF]:
        """The title or small font at a pixel size (zoomed-out nodes), made once per size."""
        key = (title, max(1, round(pixels)))
        if key not in self._scaled:
            font = QFont(self.title if title else self.small)
            font.setPixelSize(key[1])
            self._scaled[key] = (font, QFontMetricsF(font))
        return self._scaled[key]


class NodeItem(QGraphicsItem):
    fonts: _Fonts | None = None

    def __init__(self, node_id: str, look: NodeLook, colours: CanvasTheme) -> None:
        super().__init__()
        self.node_id = node_id
        self.look = look
        self.colours = colours
        self.edges: list[EdgeItem] = []
        self._hover_port: tuple[str, int] | None = None
        self.link_target = False  # highlighted while a connection is dragged over it
        self._update_bounds()
        flags = QGraphicsItem.GraphicsItemFlag
        self.setFlags(flags.ItemIsMovable | flags.ItemIsSelectable | flags.ItemSendsGeometryChanges)
        self.setAcceptHoverEvents(True)
        self.setZValue(1.0)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    # --- geometry --------------------------------------------------------------------------------------

    @property
    def height(self) -> float:
        return max(HEIGHT, self.look.inputs * PORT_SPACING + 16.0)

    def body(self) -> QRectF:
        return QRectF(0.0, 0.0, WIDTH, self.height)

    def boundingRect(self) -> QRectF:
        return self._bounds  # asked for constantly by the scene: computed once per geometry change

    def _update_bounds(self) -> None:
        margin = PORT_RADIUS + 4.0
        self._bounds = self.body().adjusted(-margin, -margin, margin, margin)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.setFillRule(Qt.FillRule.WindingFill)  # port circles overlap the body: keep both solid
        path.addRoundedRect(self.body(), RADIUS, RADIUS)
        for point in self._port_points():
            path.addEllipse(point, PORT_HIT, PORT_HIT)
        return path

    def input_port(self, index: int) -> QPointF:
        """Where input `index` sits, in item coordinates."""
        n = max(self.look.inputs, 1)
        y = self.height / 2 + (index - (n - 1) / 2) * PORT_SPACING
        return QPointF(0.0, y)

    def output_port(self) -> QPointF:
        return QPointF(WIDTH, self.height / 2)

    def _port_points(self) -> list[QPointF]:
        return [*(self.input_port(i) for i in range(self.look.inputs)), self.output_port()]

    def port_at(self, pos: QPointF) -> tuple[str, int] | None:
        """("in", index) or ("out", 0) for the port under `pos` (item coordinates), else None."""
        def near(point: QPointF) -> bool:
            return (point - pos).manhattanLength() <= PORT_HIT * 1.4

        if near(self.output_port()):
            return ("out", 0)
        for i in range(self.look.inputs):
            if near(self.input_port(i)):
                return ("in", i)
        return None

    # --- state -----------------------------------------------------------------------------------------

    def set_look(self, look: NodeLook) -> bool:
        """Show `look`; returns whether the ports moved (so connections must be redrawn)."""
        if look == self.look:
            return False
        ports_moved = look.inputs != self.look.inputs
        if ports_moved:
            self.prepareGeometryChange()
        self.look = look
        if ports_moved:
            self._update_bounds()
        self.update()
        return ports_moved

    def set_colours(self, colours: CanvasTheme) -> None:
        self.colours = colours
        self.update()

    def set_link_target(self, on: bool) -> None:
        if on != self.link_target:
            self.link_target = on
            self.update()

    def tooltip(self) -> str:
        """Built when asked for (by the scene's help event): setting it on every edit costs a frame."""
        look = self.look
        lines = [f"<b>{look.name}</b> &mdash; {look.type}", look.help,
                 f"Output {look.shape} &middot; {look.params:,} parameters"]
        if look.error:
            error = look.error.replace("\n", "<br>")
            lines.append(f"<span style='color:{theme.error_colour().name()}'>{error}</span>")
        return "<br>".join(lines)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_path()
        return super().itemChange(change, value)

    # --- painting --------------------------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if NodeItem.fonts is None:
            NodeItem.fonts = _Fonts()
        c, look = self.colours, self.look
        accent = theme.category_colour(look.category)
        selected = self.isSelected()
        body = self.body()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)

        if selected or self.link_target:
            glow = QColor(c.selection)
            glow.setAlphaF(0.35)
            painter.setPen(QPen(glow, 6.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(body.adjusted(-1, -1, 1, 1), RADIUS + 1, RADIUS + 1)

        fill = c.error_fill if look.error else c.node
        border = c.selection if selected else c.error if look.error else c.border
        painter.setPen(QPen(border, 2.0 if (selected or look.error) else 1.0))
        painter.setBrush(fill)
        painter.drawRoundedRect(body, RADIUS, RADIUS)

        header = QPainterPath()
        header.addRoundedRect(body.adjusted(0.5, 0.5, -0.5, 0), RADIUS, RADIUS)
        clip = QPainterPath()
        clip.addRect(QRectF(0, 0, WIDTH, HEADER))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.mix(fill, accent, 0.30 if c.dark else 0.20))
        painter.drawPath(header.intersected(clip))
        painter.setBrush(accent)
        painter.drawRect(QRectF(0.5, HEADER - 2.0, WIDTH - 1.0, 2.0))

        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod >= DETAIL_LOD:
            self._paint_text(painter)
        elif lod >= BOXES_LOD:
            self._paint_overview(painter, lod)
        self._paint_ports(painter)

    def _paint_overview(self, painter: QPainter, lod: float) -> None:
        """Zoomed out: the name and a compact shape, in letters that stay readable on screen."""
        fonts, c, look = NodeItem.fonts, self.colours, self.look
        assert fonts is not None
        pad = 6.0
        width = WIDTH - 2 * pad
        # Letters of a constant size on screen, but never taller than the band they sit in.
        title, title_metrics = fonts.scaled(True, min(OVERVIEW_PX / lod, HEADER * 0.8))
        painter.setFont(title)
        painter.setPen(c.text)
        name = title_metrics.elidedText(look.name, Qt.TextElideMode.ElideRight, width)
        painter.drawText(QRectF(pad, 0, width, HEADER - 2), Qt.AlignmentFlag.AlignCenter, name)
        body_px = min(0.9 * OVERVIEW_PX / lod, (self.height - HEADER) * 0.55)
        small, small_metrics = fonts.scaled(False, body_px)
        painter.setFont(small)
        painter.setPen(c.error if look.error else c.muted)
        shape = "×".join(look.shape.strip("()").split(", ")[1:]) if look.shape != "?" else "?"
        shape = small_metrics.elidedText(shape, Qt.TextElideMode.ElideRight, width)
        body = QRectF(pad, HEADER, width, self.height - HEADER)
        painter.drawText(body, Qt.AlignmentFlag.AlignCenter, shape)

    def _paint_text(self, painter: QPainter) -> None:
        fonts, c, look = NodeItem.fonts, self.colours, self.look
        assert fonts is not None
        pad = 9.0
        icon_size = 15.0
        icons.category_icon(look.category).paint(
            painter, int(pad), int((HEADER - icon_size) / 2), int(icon_size), int(icon_size))
        text_left = pad + icon_size + 6.0
        right = WIDTH - pad
        if look.error:
            right -= 16.0
            self._paint_badge(painter, QPointF(WIDTH - pad - 6.0, HEADER / 2))
        painter.setFont(fonts.title)
        painter.setPen(c.text)
        name = fonts.title_metrics.elidedText(look.name, Qt.TextElideMode.ElideRight, right - text_left)
        painter.drawText(QRectF(text_left, 0, right - text_left, HEADER - 2),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)

        painter.setFont(fonts.small)
        width = WIDTH - 2 * pad
        detail = f"{look.type} · {look.detail}" if look.detail else look.type
        top = HEADER + 4.0
        painter.setPen(c.muted)
        painter.drawText(QRectF(pad, top, width, LINE), Qt.AlignmentFlag.AlignVCenter,
                         fonts.small_metrics.elidedText(detail, Qt.TextElideMode.ElideRight, width))
        top += LINE
        count = compact_count(look.params) if look.params else ""
        count_width = fonts.small_metrics.horizontalAdvance(count) + (8.0 if count else 0.0)
        painter.setPen(c.error if look.error and look.shape == "?" else c.text)
        shape = fonts.small_metrics.elidedText(look.shape, Qt.TextElideMode.ElideRight, width - count_width)
        painter.drawText(QRectF(pad, top, width, LINE), Qt.AlignmentFlag.AlignVCenter, shape)
        if count:
            painter.setPen(c.muted)
            painter.drawText(QRectF(pad, top, width, LINE),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, count)

    def _paint_badge(self, painter: QPainter, centre: QPointF) -> None:
        c = self.colours
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(c.error)
        painter.drawEllipse(centre, 7.0, 7.0)
        painter.setPen(QPen(QColor("white"), 2.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(QPointF(centre.x(), centre.y() - 3.5), QPointF(centre.x(), centre.y() + 0.8))
        painter.drawPoint(QPointF(centre.x(), centre.y() + 3.6))

    def _paint_ports(self, painter: QPainter) -> None:
        look = self.look
        for i in range(look.inputs):
            self._paint_port(painter, self.input_port(i), i in look.connected, ("in", i))
        self._paint_port(painter, self.output_port(), look.feeds, ("out", 0))

    def _paint_port(self, painter: QPainter, point: QPointF, used: bool, port: tuple[str, int]) -> None:
        c = self.colours
        hovered = self._hover_port == port
        ring = c.selection if hovered else c.edge
        painter.setPen(QPen(ring, 1.8))
        painter.setBrush(QBrush(ring if used or hovered else c.node))
        radius = PORT_RADIUS + (1.5 if hovered else 0.0)
        painter.drawEllipse(point, radius, radius)

    # --- interaction -----------------------------------------------------------------------------------

    def _scene(self) -> GraphScene:
        return self.scene()  # type: ignore[return-value]

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        port = self.port_at(event.pos())
        if port != self._hover_port:
            self._hover_port = port
            self.setCursor(Qt.CursorShape.CrossCursor if port else Qt.CursorShape.ArrowCursor)
            self.update()
        super().hoverMoveEvent(event)

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        if self._hover_port is not None:
            self._hover_port = None
            self.update()
        super().hoverLeaveEvent(event)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        port = self.port_at(event.pos()) if event.button() == Qt.MouseButton.LeftButton else None
        if port is not None:
            self._scene().begin_link(self, port, event.scenePos())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._scene().linking:
            self._scene().update_link(event.scenePos())
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._scene().linking:
            self._scene().finish_link(event.scenePos())
            return
        super().mouseReleaseEvent(event)
