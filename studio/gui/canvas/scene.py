"""The canvas scene: one item per node and edge, kept in step with the Document.

The scene never edits the graph itself. Moving, connecting, dropping and appending turn into commands;
the items follow the document's `changed` signal (only items whose look changed are repainted).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPen, QTransform
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSceneHelpEvent,
    QGraphicsSceneMouseEvent,
    QToolTip,
)

from studio.core.graph import Edge, Node
from studio.core.inference import NodeInfo
from studio.core.layers import LayerSpec, get_spec
from studio.gui import commands
from studio.gui.canvas.edge_item import EdgeItem, link_path
from studio.gui.canvas.layout import COLUMN_STEP, ROW_STEP
from studio.gui.canvas.node_item import HEIGHT, WIDTH, NodeItem, NodeLook
from studio.gui.commands import Connect, Disconnect, Edit
from studio.gui.document import Document
from studio.gui.theme import CanvasTheme

Port = tuple[str, int]


@dataclass
class _Link:
    """A connection being dragged: `fixed` holds the end that stays put."""

    fixed: NodeItem
    from_output: bool  # the fixed end is an output port (the loose end looks for an input)
    port: int  # the fixed input port, when the fixed end is an input
    picked: Edge | None  # an existing connection lifted off its input port
    item: QGraphicsPathItem
    target: NodeItem | None = None


class GraphScene(QGraphicsScene):
    layers_moved = Signal()  # layers were added, removed or moved (not emitted for other edits)

    def __init__(self, doc: Document) -> None:
        super().__init__()
        self.doc = doc
        self.colours = CanvasTheme.from_palette()
        self.node_items: dict[str, NodeItem] = {}
        self.edge_items: dict[Edge, EdgeItem] = {}
        self._link: _Link | None = None
        doc.changed.connect(self.sync)
        doc.replaced.connect(self.rebuild)
        self.sync()

    # --- following the document -------------------------------------------------------------------------

    def rebuild(self) -> None:
        self.cancel_link()
        self.clear()
        self.node_items.clear()
        self.edge_items.clear()
        self.sync()

    def sync(self) -> None:
        graph, analysis = self.doc.graph, self.doc.analysis
        moved = False  # whether any layer appeared, went or moved: routes past layers may change
        for nid in [n for n in self.node_items if n not in graph.nodes]:
            item = self.node_items.pop(nid)
            self.removeItem(item)
            moved = True
        edges = set(graph.edges)
        for edge in [e for e in self.edge_items if e not in edges]:
            item = self.edge_items.pop(edge)
            item.detach()
            self.removeItem(item)

        connected: dict[str, set[int]] = {}
        feeding: set[str] = set()
        for e in graph.edges:
            connected.setdefault(e.dst, set()).add(e.port)
            feeding.add(e.src)
        problems: dict[str, list[str]] = {}
        for problem in analysis.problems:
            if problem.node is not None:
                problems.setdefault(problem.node, []).append(problem.message)
        for nid, node in graph.nodes.items():
            look = node_look(node, analysis.nodes[nid], frozenset(connected.get(nid, ())), nid in feeding,
                             problems.get(nid, ()))
            item = self.node_items.get(nid)
            if item is None:
                item = NodeItem(nid, look, self.colours)
                self.node_items[nid] = item
                self.addItem(item)
                moved = True
            elif item.set_look(look):  # a merge layer grew or lost a port: its connections move
                for edge_item in item.edges:
                    edge_item.update_path()
            if (item.x(), item.y()) != node.pos:
                item.setPos(*node.pos)
                moved = True
        for edge in graph.edges:
            item = self.edge_items.get(edge)
            if item is None:
                item = EdgeItem(edge, self.node_items[edge.src], self.node_items[edge.dst], self.colours)
                self.edge_items[edge] = item
                self.addItem(item)
                item.update_path()  # now that it is in the scene, it can see what stands in its way
            elif moved and item.long:
                item.update_path()  # a layer may have moved into or out of its way
        if moved:
            self.layers_moved.emit()

    def set_colours(self, colours: CanvasTheme) -> None:
        self.colours = colours
        for item in (*self.node_items.values(), *self.edge_items.values()):
            item.set_colours(colours)
        self.update()

    # --- selection --------------------------------------------------------------------------------------

    def selected_node_ids(self) -> list[str]:
        """Selected nodes in document order (so copies keep the model's order)."""
        chosen = {item.node_id for item in self.selectedItems() if isinstance(item, NodeItem)}
        return [nid for nid in self.doc.graph.nodes if nid in chosen]

    def selected_edges(self) -> list[Edge]:
        return [item.edge for item in self.selectedItems() if isinstance(item, EdgeItem)]

    def select_nodes(self, node_ids: list[str]) -> None:
        self.clearSelection()
        for nid in node_ids:
            item = self.node_items.get(nid)
            if item is not None:
                item.setSelected(True)

    def select_all(self) -> None:
        for item in self.node_items.values():
            item.setSelected(True)

    # --- adding layers -----------------------------------------------------------------------------------

    def edge_at(self, pos: QPointF) -> Edge | None:
        for item in self.items(pos):
            if isinstance(item, EdgeItem):
                return item.edge
            if isinstance(item, NodeItem):
                return None
        return None

    def highlight_edge(self, edge: Edge | None) -> None:
        for e, item in self.edge_items.items():
            item.set_highlighted(e == edge)

    def drop_layer(self, type_name: str, pos: QPointF) -> str | None:
        """A layer dropped at `pos`: onto a connection it is spliced in, elsewhere it stands alone."""
        self.highlight_edge(None)
        into = self.edge_at(pos)
        top_left = (round(pos.x() - WIDTH / 2), round(pos.y() - HEIGHT / 2))
        node = commands.add_layer(self.doc, type_name, top_left, into=into)
        return self._added(node)

    def append_layer(self, type_name: str, fallback: QPointF) -> str | None:
        """Add a layer after the selected one (or the model's output), connected to it."""
        selected = self.selected_node_ids()
        after = selected[0] if len(selected) == 1 else self.doc.analysis.output_id
        if after is None or after not in self.doc.graph.nodes:
            pos = (round(fallback.x() - WIDTH / 2), round(fallback.y() - HEIGHT / 2))
            return self._added(commands.add_layer(self.doc, type_name, pos))
        x, y = self.doc.graph.nodes[after].pos
        pos = (x + COLUMN_STEP, y)
        while self._occupied(pos):
            pos = (pos[0], pos[1] + ROW_STEP)
        return self._added(commands.add_layer(self.doc, type_name, pos, after=after))

    def _occupied(self, pos: tuple[float, float]) -> bool:
        return any(abs(n.pos[0] - pos[0]) < WIDTH and abs(n.pos[1] - pos[1]) < HEIGHT
                   for n in self.doc.graph.nodes.values())

    def _added(self, node: commands.AddNode | None) -> str | None:
        if node is None or node.node_id is None:
            return None
        self.select_nodes([node.node_id])
        return node.node_id

    # --- connecting by dragging from a port --------------------------------------------------------------

    @property
    def linking(self) -> bool:
        return self._link is not None

    def begin_link(self, item: NodeItem, port: Port, pos: QPointF) -> None:
        kind, index = port
        picked = None
        if kind == "in":
            edges = self.doc.graph.edges
            picked = next((e for e in edges if e.dst == item.node_id and e.port == index), None)
        if picked is not None:
            # Dragging a connected input lifts that connection off it, to drop it elsewhere or nowhere.
            fixed, from_output = self.node_items[picked.src], True
            self.edge_items[picked].setVisible(False)
        else:
            fixed, from_output = item, kind == "out"
        path = QGraphicsPathItem()
        pen = QPen(QColor(self.colours.selection), 2.0, Qt.PenStyle.DashLine)
        path.setPen(pen)
        path.setZValue(2.0)
        self.addItem(path)
        self._link = _Link(fixed, from_output, index, picked, path)
        self.update_link(pos)

    def update_link(self, pos: QPointF) -> None:
        link = self._link
        if link is None:
            return
        target = self._node_at(pos, exclude=link.fixed)
        if link.target is not target:
            if link.target is not None:
                link.target.set_link_target(False)
            if target is not None:
                target.set_link_target(True)
            link.target = target
        if link.from_output:
            start = link.fixed.mapToScene(link.fixed.output_port())
            link.item.setPath(link_path(start, pos))
        else:
            link.item.setPath(link_path(pos, link.fixed.mapToScene(link.fixed.input_port(link.port))))

    def finish_link(self, pos: QPointF) -> bool:
        """Connect to what is under `pos`; returns whether the document changed."""
        link = self._link
        if link is None:
            return False
        target = self._node_at(pos, exclude=link.fixed)
        self.cancel_link()
        steps: list = [Disconnect(link.picked)] if link.picked else []
        if target is not None:
            if link.from_output:
                port = target.port_at(target.mapFromScene(pos))
                in_port = port[1] if port and port[0] == "in" else None
                if link.picked and link.picked.dst == target.node_id and in_port in (None, link.picked.port):
                    return False  # put back where it was
                steps.append(Connect(link.fixed.node_id, target.node_id, in_port))
            else:
                steps.append(Connect(target.node_id, link.fixed.node_id, link.port))
        if not steps:
            return False
        graph = self.doc.graph
        if link.picked and target is None:
            text = f"Disconnect {graph.node(link.picked.src).name} from {graph.node(link.picked.dst).name}"
        else:
            connect = steps[-1]
            text = f"Connect {graph.node(connect.src).name} to {graph.node(connect.dst).name}"
        return self.doc.push(Edit(self.doc, text, steps))

    def cancel_link(self) -> None:
        link, self._link = self._link, None
        if link is None:
            return
        if link.target is not None:
            link.target.set_link_target(False)
        if link.picked is not None and link.picked in self.edge_items:
            self.edge_items[link.picked].setVisible(True)
        self.removeItem(link.item)

    def _node_at(self, pos: QPointF, exclude: NodeItem) -> NodeItem | None:
        for item in self.items(pos):
            if isinstance(item, NodeItem) and item is not exclude:
                return item
        return None

    # --- moving -----------------------------------------------------------------------------------------

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self.commit_moves()

    def commit_moves(self) -> bool:
        """Record where dragged nodes were dropped: all of them in one undo step."""
        graph = self.doc.graph
        moved = {nid: (round(item.x()), round(item.y())) for nid, item in self.node_items.items()
                 if nid in graph.nodes and (item.x(), item.y()) != graph.nodes[nid].pos}
        if not moved:
            return False
        if not commands.move(self.doc, moved):
            self.sync()
            return False
        return True

    def helpEvent(self, event: QGraphicsSceneHelpEvent) -> None:
        item = self.itemAt(event.scenePos(), QTransform())
        if isinstance(item, NodeItem):
            QToolTip.showText(event.screenPos(), item.tooltip())
            event.accept()
            return
        super().helpEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.linking:
            self.cancel_link()
            return
        super().keyPressEvent(event)


@functools.cache
def _spec(type_name: str) -> LayerSpec:
    return get_spec(type_name)  # specs never change once registered; the lookup showed in profiles


def node_look(node: Node, info: NodeInfo, connected: frozenset[int], feeds: bool,
              problems: Iterable[str] = ()) -> NodeLook:
    spec = _spec(node.type)
    if spec.max_inputs is None:
        # Merge layers show one free port beyond those in use, so there is always somewhere to connect.
        inputs = max(spec.min_inputs, max(connected, default=-1) + 2)
    else:
        inputs = spec.max_inputs
    return NodeLook(
        name=node.name, type=node.type, category=spec.category, detail=spec.describe(node.params),
        shape=str(info.shape) if info.shape else "?", params=info.params + info.buffers,
        error="\n".join(problems) or None, help=spec.help, inputs=inputs, connected=connected, feeds=feeds,
    )
