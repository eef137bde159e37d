"""The canvas view: zoom, pan, fit, a dotted background, and dropping layers from the palette."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QContextMenuEvent,
    QCursor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPixmap,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsItem, QGraphicsView, QMenu, QToolTip, QWidget

from studio.gui.canvas.scene import GraphScene
from studio.gui.clipboard import layer_type

MIN_SCALE, MAX_SCALE = 0.1, 3.0
FIT_MARGIN = 48.0
OPEN_MIN_ZOOM = 0.35  # a project opens fitted, unless it would be drawn smaller than this
GRID = 24.0
REFUSAL_SHOWN_MS = 4000  # how long a refused edit's reason stays beside the mouse


class GraphView(QGraphicsView):
    def __init__(self, scene: GraphScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.graph_scene = scene
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pan_from: QPointF | None = None
        self._grid_key: tuple[int, int, int] | None = None
        self._grid_tile = QPixmap()
        self._space_down = False
        self._hint_painted = False  # the empty-canvas hint is on screen
        scene.layers_moved.connect(self._grow_scene_rect)
        scene.changed.connect(self._refresh_hint)
        scene.doc.refused.connect(self.show_refusal)
        self._grow_scene_rect()

    # --- zoom and pan -----------------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        target = min(max(self.zoom * factor, MIN_SCALE), MAX_SCALE)
        if not math.isclose(target, self.zoom):
            self.scale(target / self.zoom, target / self.zoom)

    def zoom_in(self) -> None:
        self._zoom_about_centre(1.25)

    def zoom_out(self) -> None:
        self._zoom_about_centre(0.8)

    def _zoom_about_centre(self, factor: float) -> None:
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.zoom_by(factor)
        self.setTransformationAnchor(anchor)

    def fit(self, *, min_zoom: float = MIN_SCALE) -> None:
        """Show the whole model, magnified at most to 100 % (a small model would look bloated).

        With `min_zoom`, a model too wide to show at that zoom is shown from its left end (the Input).
        """
        rect = self._items_rect()
        if rect.isNull():
            self.resetTransform()
            self.centerOn(0, 0)
            return
        rect = rect.adjusted(-FIT_MARGIN, -FIT_MARGIN, FIT_MARGIN, FIT_MARGIN)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        scale = min(max(self.zoom, min_zoom, MIN_SCALE), 1.0)
        self.resetTransform()
        self.scale(scale, scale)
        visible = self.viewport().width() / scale
        if rect.width() <= visible:
            self.centerOn(rect.center())
        else:
            self.centerOn(rect.left() + visible / 2, rect.center().y())

    def show_model(self) -> None:
        """The view a project opens with: all of it, or its start when it is very large."""
        self.fit(min_zoom=OPEN_MIN_ZOOM)

    def centre_on_node(self, node_id: str) -> None:
        item = self.graph_scene.node_items.get(node_id)
        if item is not None:
            self.ensureVisible(item, 60, 60)

    def _items_rect(self) -> QRectF:
        rect = QRectF()
        for item in self.graph_scene.node_items.values():
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def _grow_scene_rect(self) -> None:
        # Room around the model to pan into, and to drop new layers onto.
        margin = 2000.0
        rect = self._items_rect()
        if rect.isNull():
            rect = QRectF(-400, -300, 800, 600)
        self.setSceneRect(rect.adjusted(-margin, -margin, margin, margin))

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(1.0015 ** delta)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        panning = button == Qt.MouseButton.LeftButton and self._space_down
        if button == Qt.MouseButton.MiddleButton or panning:
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self._set_idle_cursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            self._set_idle_cursor()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            self._set_idle_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def _set_idle_cursor(self) -> None:
        if self._space_down:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.viewport().unsetCursor()

    # --- drawing ----------------------------------------------------------------------------------------

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        colours = self.graph_scene.colours
        step = GRID
        while step * self.zoom < 12.0:  # keep dots a readable distance apart when zoomed out
            step *= 2
        # One tile (background plus a dot, in device pixels) that Qt repeats: crisp dots at any zoom
        # and a single fill, with no per-dot work in Python.
        size = max(1, min(round(step * self.zoom), 512))
        key = (size, colours.background.rgba(), colours.grid.rgba())
        if self._grid_key != key:
            tile = QPixmap(size, size)
            tile.fill(colours.background)
            tile_painter = QPainter(tile)
            tile_painter.fillRect(0, 0, 1, 1, colours.grid)
            tile_painter.end()
            self._grid_key, self._grid_tile = key, tile
        origin = self.mapFromScene(QPointF(0.0, 0.0))
        brush = QBrush(self._grid_tile)
        brush.setTransform(QTransform.fromTranslate(origin.x() % size, origin.y() % size))
        painter.save()
        painter.resetTransform()
        painter.fillRect(self.mapFromScene(rect).boundingRect(), brush)
        painter.restore()

    def show_refusal(self, text: str) -> None:
        """An edit the rules refused (a cycle, a taken input), said beside the mouse when it is over the
        canvas, where the gesture was made; the status bar says it too."""
        where = QCursor.pos()
        viewport = self.viewport()
        if viewport.isVisible() and viewport.rect().contains(viewport.mapFromGlobal(where)):
            QToolTip.showText(where, text, viewport, viewport.rect(), REFUSAL_SHOWN_MS)

    def _refresh_hint(self, *_: object) -> None:
        """Repaint the whole viewport when the hint comes or goes: it is drawn in viewport coordinates, so
        the partial repaints of a first node (or of a scroll) would leave it half painted."""
        if self._hint_painted or not self.graph_scene.node_items:
            self.viewport().update()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if self._hint_painted:
            self.viewport().update()  # scrolling moves the painted pixels; the hint stays centred

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        self._hint_painted = not self.graph_scene.node_items
        if not self._hint_painted:
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(self.graph_scene.colours.muted)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        painter.setFont(font)
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                         "Drag layers here from the palette\n(start with an Input)")
        painter.restore()

    # --- dropping layers --------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if layer_type(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()  # files go to the main window, which opens them

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if layer_type(event.mimeData()) is None:
            event.ignore()
            return
        pos = self.mapToScene(event.position().toPoint())
        self.graph_scene.highlight_edge(self.graph_scene.edge_at(pos))
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.graph_scene.highlight_edge(None)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        type_name = layer_type(event.mimeData())
        if type_name is None:
            event.ignore()
            return
        self.graph_scene.drop_layer(type_name, self.mapToScene(event.position().toPoint()))
        event.acceptProposedAction()
        self.setFocus()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        """The window's edit actions; a right-click on an unselected item selects it first, as in
        every editor."""
        item = self.itemAt(event.pos())
        while item is not None and item.parentItem() is not None:
            item = item.parentItem()
        if item is not None and item.flags() & QGraphicsItem.GraphicsItemFlag.ItemIsSelectable \
                and not item.isSelected():
            self.graph_scene.clearSelection()
            item.setSelected(True)
        if self.actions():
            QMenu.exec(self.actions(), event.globalPos(), None, self)

    def viewport_centre(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())
