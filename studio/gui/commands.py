"""Undoable edits. Each user action is one `Edit`: a list of small steps that act only on the Document.

Steps record what they changed the first time they run, so undo puts back exactly what was there
(node order, edge order and all), and redo repeats exactly the same ids and names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from PySide6.QtGui import QUndoCommand

from studio.core.graph import Edge, ModelGraph
from studio.core.layers import get_spec
from studio.gui.canvas.layout import auto_layout
from studio.gui.document import Document

Pos = tuple[float, float]


class Step(Protocol):
    def apply(self, doc: Document) -> None: ...

    def revert(self, doc: Document) -> None: ...


class Edit(QUndoCommand):
    """One undo step made of several document steps; if a step is refused, the earlier ones are undone."""

    def __init__(self, doc: Document, text: str, steps: Iterable[Step]) -> None:
        super().__init__(text)
        self.doc = doc
        self.steps = list(steps)
        self.applied = False  # set by Document.push, which has already run the edit once

    def redo(self) -> None:
        if self.applied:
            self.applied = False
            return
        done: list[Step] = []
        with self.doc.batch():
            try:
                for step in self.steps:
                    step.apply(self.doc)
                    done.append(step)
            except Exception:
                for step in reversed(done):
                    step.revert(self.doc)
                raise

    def undo(self) -> None:
        with self.doc.batch():
            for step in reversed(self.steps):
                step.revert(self.doc)


# --- steps ----------------------------------------------------------------------------------------------

class AddNode:
    def __init__(self, type_name: str, pos: Pos, *, params: Mapping[str, Any] | None = None,
                 name: str | None = None, name_base: str | None = None) -> None:
        self.type_name, self.pos, self.params = type_name, pos, dict(params or {})
        self.name, self.name_base = name, name_base
        self.node_id: str | None = None

    def apply(self, doc: Document) -> None:
        name = self.name or doc.graph.unique_name(self.name_base or get_spec(self.type_name).default_name)
        node = doc.add_node(self.type_name, name=name, params=self.params, pos=self.pos, node_id=self.node_id)
        self.node_id, self.name = node.id, node.name

    def revert(self, doc: Document) -> None:
        assert self.node_id is not None
        doc.remove_node(self.node_id)


NodeRef = str | AddNode  # an existing node id, or a node added earlier in the same edit


def _id(ref: NodeRef) -> str:
    if isinstance(ref, AddNode):
        assert ref.node_id is not None, "a node must be added before it is connected"
        return ref.node_id
    return ref


class RemoveNode:
    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.saved: tuple | None = None

    def apply(self, doc: Document) -> None:
        self.saved = doc.remove_node(self.node_id)

    def revert(self, doc: Document) -> None:
        assert self.saved is not None
        doc.restore_node(*self.saved)


class Connect:
    def __init__(self, src: NodeRef, dst: NodeRef, port: int | None = None) -> None:
        self.src, self.dst, self.port = src, dst, port
        self.edge: Edge | None = None

    def apply(self, doc: Document) -> None:
        port = self.edge.port if self.edge else self.port
        self.edge = doc.connect(_id(self.src), _id(self.dst), port)

    def revert(self, doc: Document) -> None:
        assert self.edge is not None
        doc.remove_edge(self.edge)


class Disconnect:
    def __init__(self, edge: Edge) -> None:
        self.edge = edge
        self.index = -1

    def apply(self, doc: Document) -> None:
        self.index = doc.disconnect(self.edge)

    def revert(self, doc: Document) -> None:
        doc.restore_edge(self.edge, self.index)


class SetParams:
    def __init__(self, node_id: str, values: Mapping[str, Any]) -> None:
        self.node_id, self.values = node_id, dict(values)
        self.previous: dict[str, Any] = {}

    def apply(self, doc: Document) -> None:
        self.previous = doc.set_params(self.node_id, self.values)

    def revert(self, doc: Document) -> None:
        doc.set_params(self.node_id, self.previous)


class Rename:
    def __init__(self, node_id: str, name: str) -> None:
        self.node_id, self.name = node_id, name
        self.old = ""

    def apply(self, doc: Document) -> None:
        self.old = doc.rename(self.node_id, self.name)

    def revert(self, doc: Document) -> None:
        doc.rename(self.node_id, self.old)


class Move:
    def __init__(self, positions: Mapping[str, Pos]) -> None:
        self.positions = dict(positions)
        self.previous: dict[str, Pos] = {}

    def apply(self, doc: Document) -> None:
        self.previous = doc.move(self.positions)

    def revert(self, doc: Document) -> None:
        doc.move(self.previous)


class SetField:
    def __init__(self, key: str, value: Any) -> None:
        self.key, self.value = key, value
        self.old: Any = None

    def apply(self, doc: Document) -> None:
        self.old = doc.set_field(self.key, self.value)

    def revert(self, doc: Document) -> None:
        doc.set_field(self.key, self.old)


# --- the edits the user makes -----------------------------------------------------------------------------

def add_layer(doc: Document, type_name: str, pos: Pos, *, after: str | None = None,
              into: Edge | None = None) -> AddNode | None:
    """Add a layer at `pos`, fed by node `after`, or spliced into the connection `into`."""
    node = AddNode(type_name, pos)
    steps: list[Step] = [node]
    takes_input = get_spec(type_name).max_inputs != 0
    if into is not None and takes_input:
        steps = [Disconnect(into), node, Connect(into.src, node), Connect(node, into.dst, into.port)]
        text = f"Insert {type_name}"
    elif after is not None and takes_input:
        steps.append(Connect(after, node))
        text = f"Add {type_name}"
    else:
        text = f"Add {type_name}"
    return node if doc.push(Edit(doc, text, steps)) else None


def delete(doc: Document, node_ids: Iterable[str], edges: Iterable[Edge] = ()) -> bool:
    node_ids = list(node_ids)
    gone = set(node_ids)
    # Edges of deleted nodes go with their nodes; only the others need their own step.
    loose = [e for e in edges if e.src not in gone and e.dst not in gone]
    if not node_ids and not loose:
        return False
    steps: list[Step] = [Disconnect(e) for e in loose] + [RemoveNode(n) for n in node_ids]
    count = len(node_ids) + len(loose)
    what = "layer" if node_ids and not loose else "item"
    return doc.push(Edit(doc, f"Delete {count} {what}{'s' if count > 1 else ''}", steps))


def connect(doc: Document, src: str, dst: str, port: int | None = None) -> bool:
    graph = doc.graph
    text = f"Connect {graph.node(src).name} to {graph.node(dst).name}"
    return doc.push(Edit(doc, text, [Connect(src, dst, port)]))


def move(doc: Document, positions: Mapping[str, Pos]) -> bool:
    changed = {nid: pos for nid, pos in positions.items() if doc.graph.node(nid).pos != pos}
    if not changed:
        return False
    text = "Move layer" if len(changed) == 1 else f"Move {len(changed)} layers"
    return doc.push(Edit(doc, text, [Move(changed)]))


def set_params(doc: Document, node_id: str, values: Mapping[str, Any]) -> bool:
    node = doc.graph.node(node_id)
    if all(node.params.get(k) == v for k, v in values.items()):
        return False
    keys = ", ".join(values)
    return doc.push(Edit(doc, f"Set {keys} of {node.name}", [SetParams(node_id, values)]))


def rename(doc: Document, node_id: str, name: str) -> bool:
    old = doc.graph.node(node_id).name
    if name == old:
        return False
    return doc.push(Edit(doc, f"Rename {old} to {name}", [Rename(node_id, name)]))


def set_field(doc: Document, key: str, value: Any, text: str) -> bool:
    if getattr(doc.project, key) == value:
        return False
    return doc.push(Edit(doc, text, [SetField(key, value)]))


def layout(doc: Document) -> bool:
    positions = auto_layout(doc.graph)
    changed = {nid: pos for nid, pos in positions.items() if doc.graph.nodes[nid].pos != pos}
    return bool(changed) and doc.push(Edit(doc, "Auto layout", [Move(changed)]))


_NUMBERED = re.compile(r"_\d+$")


def paste(doc: Document, fragment: ModelGraph, offset: Pos) -> list[str]:
    """Add a copy of `fragment` (nodes and their internal edges), shifted by `offset`, with fresh names.

    Returns the new node ids (empty when nothing was pasted)."""
    added: dict[str, AddNode] = {}
    steps: list[Step] = []
    for node in fragment.nodes.values():
        pos = (node.pos[0] + offset[0], node.pos[1] + offset[1])
        step = AddNode(node.type, pos, params=node.params, name_base=_NUMBERED.sub("", node.name))
        added[node.id] = step
        steps.append(step)
    steps += [Connect(added[e.src], added[e.dst], e.port) for e in fragment.edges]
    if not added:
        return []
    count = len(added)
    ok = doc.push(Edit(doc, f"Paste {count} layer{'s' if count > 1 else ''}", steps))
    return [step.node_id for step in added.values() if step.node_id] if ok else []
