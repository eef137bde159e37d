"""The model graph: layer nodes joined by edges into a directed acyclic graph.

Every edit is a method here, and every method keeps the graph well-formed: parameters are validated
against the layer spec, names stay unique, edges never dangle or form a cycle, and a node never gets more
inputs than its layer takes. Whether the graph is a *complete* model (one Input, one output, everything
connected, shapes that fit) is a separate question answered by `studio.core.validation`.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.core.errors import GraphError, json_kind
from studio.core.layers import LayerSpec, get_spec, has_spec
from studio.core.params import ParamValueError

# A layer name becomes a Python identifier in exported code: checked with fullmatch, since `$` would let
# a final newline through.
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass
class Node:
    id: str
    type: str
    name: str
    params: dict[str, Any]
    pos: tuple[float, float] = (0.0, 0.0)

    @property
    def spec(self) -> LayerSpec:
        return get_spec(self.type)


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    port: int = 0  # which input of `dst` this edge feeds (order matters for Concat)


@dataclass
class ModelGraph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    # --- queries -------------------------------------------------------------------------------------

    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise GraphError(f"no node with id {node_id!r}", node=node_id) from None

    def node_by_name(self, name: str) -> Node | None:
        return next((n for n in self.nodes.values() if n.name == name), None)

    def inputs_of(self, node_id: str) -> list[str]:
        """Source node ids feeding `node_id`, in port order."""
        return [e.src for e in sorted((e for e in self.edges if e.dst == node_id), key=lambda e: e.port)]

    def inputs_by_node(self) -> dict[str, list[str]]:
        """`inputs_of` for every node at once, in one pass over the edges."""
        feeding: dict[str, list[Edge]] = {nid: [] for nid in self.nodes}
        for e in self.edges:
            feeding[e.dst].append(e)
        return {nid: [e.src for e in sorted(edges, key=lambda e: e.port)] for nid, edges in feeding.items()}

    def outputs_of(self, node_id: str) -> list[str]:
        return [e.dst for e in self.edges if e.src == node_id]

    def edges_of(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if node_id in (e.src, e.dst)]

    def reaches(self, start: str, goal: str) -> bool:
        """True when a directed path leads from `start` to `goal`."""
        return goal in self.descendants(start)

    def descendants(self, start: str) -> set[str]:
        """`start` and every node a directed path leads to from it."""
        successors = self._successors()
        stack, seen = [start], set()
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(successors.get(current, ()))
        return seen

    def _successors(self) -> dict[str, list[str]]:
        """Node id -> ids it feeds, in edge order; built in one pass so walks stay linear in size."""
        successors: dict[str, list[str]] = {}
        for e in self.edges:
            successors.setdefault(e.src, []).append(e.dst)
        return successors

    def topological_order(self) -> list[str]:
        """Node ids so that every node comes after its inputs (ties keep insertion order)."""
        indegree = {nid: 0 for nid in self.nodes}
        for e in self.edges:
            indegree[e.dst] += 1
        ready = [nid for nid, d in indegree.items() if d == 0]
        order: list[str] = []
        successors = self._successors()
        while ready:
            nid = ready.pop(0)
            order.append(nid)
            for dst in successors.get(nid, ()):
                indegree[dst] -= 1
                if indegree[dst] == 0:
                    ready.append(dst)
        if len(order) != len(self.nodes):
            stuck = sorted(self.nodes[n].name for n in self.nodes if n not in order)
            raise GraphError(f"the graph has a cycle through {', '.join(stuck)}")
        return order

    def unique_name(self, base: str) -> str:
        """`base`, or `base_1`, `base_2`, ... whichever is free (Keras' naming)."""
        taken = {n.name for n in self.nodes.values()}
        if base not in taken:
            return base
        i = 1
        while f"{base}_{i}" in taken:
            i += 1
        return f"{base}_{i}"

    def new_id(self) -> str:
        i = len(self.nodes) + 1
        while f"n{i}" in self.nodes:
            i += 1
        return f"n{i}"

    # --- edits ---------------------------------------------------------------------------------------

    def add_node(self, type_name: str, *, name: str | None = None, params: Mapping[str, Any] | None = None,
                 pos: tuple[float, float] = (0.0, 0.0), node_id: str | None = None) -> Node:
        if not has_spec(type_name):
            raise GraphError(f"unknown layer type {type_name!r}", field="type")
        spec = get_spec(type_name)
        node_id = self.new_id() if node_id is None else node_id
        if not node_id:
            raise GraphError("a node id must not be empty", field="id")
        if node_id in self.nodes:
            raise GraphError(f"a node with id {node_id!r} already exists", node=node_id)
        name = self.unique_name(spec.default_name) if name is None else name
        self._check_name(name, node_id)
        node = Node(node_id, type_name, name, _validated(spec, params or {}, name), _pos(pos))
        self.nodes[node_id] = node
        return node

    def remove_node(self, node_id: str) -> Node:
        node = self.node(node_id)
        self.edges = [e for e in self.edges if node_id not in (e.src, e.dst)]
        del self.nodes[node_id]
        return node

    def connect(self, src: str, dst: str, port: int | None = None) -> Edge:
        """Add an edge; refused (GraphError) if it would dangle, repeat, cycle or overfill `dst`."""
        source, target = self.node(src), self.node(dst)
        if src == dst:
            raise GraphError(f"'{source.name}' cannot feed itself", node=dst)
        if self.reaches(dst, src):
            raise GraphError(f"connecting '{source.name}' to '{target.name}' would make a cycle", node=dst)
        if any(e.src == src and e.dst == dst for e in self.edges):
            raise GraphError(f"'{source.name}' already feeds '{target.name}'", node=dst)
        spec = target.spec
        taken = {e.port for e in self.edges if e.dst == dst}
        limit = spec.max_inputs
        if limit == 0:
            raise GraphError(f"{target.type} '{target.name}' takes no inputs", node=dst)
        if limit is not None and len(taken) >= limit:
            raise GraphError(f"{target.type} '{target.name}' already has its input; remove that "
                             "connection first", node=dst)
        if port is None:
            port = max(taken, default=-1) + 1
        elif port in taken or port < 0 or (limit is not None and port >= limit):
            raise GraphError(f"input {port} of '{target.name}' is not free", node=dst)
        edge = Edge(src, dst, port)
        self.edges.append(edge)
        return edge

    def disconnect(self, edge: Edge) -> None:
        try:
            self.edges.remove(edge)
        except ValueError:
            raise GraphError("no such connection") from None

    def set_params(self, node_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Change some parameters; returns the previous values of those that changed."""
        node = self.node(node_id)
        merged = _validated(node.spec, {**node.params, **values}, node.name)
        previous = {k: node.params[k] for k in values if node.params.get(k) != merged[k]}
        node.params = merged
        return previous

    def rename(self, node_id: str, name: str) -> None:
        self._check_name(name, node_id)
        self.node(node_id).name = name

    def move(self, node_id: str, pos: tuple[float, float]) -> None:
        self.node(node_id).pos = _pos(pos)

    # --- serialisation -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [
                {"id": n.id, "type": n.type, "name": n.name,
                 "params": n.spec.params.to_json(n.params), "pos": [n.pos[0], n.pos[1]]}
                for n in self.nodes.values()
            ],
            "edges": [{"from": e.src, "to": e.dst, "port": e.port} for e in self.edges],
        }

    @classmethod
    def from_dict(cls, data: Any) -> ModelGraph:
        """Build a graph from its file form; GraphError names the node and field at fault."""
        if not isinstance(data, Mapping):
            raise GraphError("expects an object with 'nodes' and 'edges'", field="graph")
        nodes = _list_field(data, "nodes")
        edges = _list_field(data, "edges")
        graph = cls()
        for i, item in enumerate(nodes):
            where = f"graph.nodes[{i}]"
            if not isinstance(item, Mapping):
                raise GraphError("expects an object", field=where)
            node_id = _str_field(item, "id", where)
            type_name = _str_field(item, "type", where)
            name = _str_field(item, "name", where)
            params = item.get("params", {})
            if not isinstance(params, Mapping):
                raise GraphError("expects an object of parameters", field=f"{where}.params", node=name)
            pos = item.get("pos", [0, 0])
            if not isinstance(pos, list) or len(pos) != 2 or not all(_finite_number(v) for v in pos):
                raise GraphError("expects [x, y]", field=f"{where}.pos", node=name)
            try:
                graph.add_node(type_name, name=name, params=params, pos=(pos[0], pos[1]), node_id=node_id)
            except GraphError as exc:
                sub = f".{exc.field}" if exc.field else ""
                raise GraphError(str(exc), node=name, field=f"{where}{sub}") from None
        for i, item in enumerate(edges):
            where = f"graph.edges[{i}]"
            if not isinstance(item, Mapping):
                raise GraphError("expects an object with 'from' and 'to'", field=where)
            src = _str_field(item, "from", where)
            dst = _str_field(item, "to", where)
            port = item.get("port")
            if port is not None and (not isinstance(port, int) or isinstance(port, bool)):
                raise GraphError("expects a whole number", field=f"{where}.port")
            for end in (src, dst):
                if end not in graph.nodes:
                    raise GraphError(f"connects to a node id {end!r} that does not exist", field=where)
            try:
                graph.connect(src, dst, port)
            except GraphError as exc:
                raise GraphError(str(exc), node=exc.node, field=where) from None
        return graph

    def copy(self) -> ModelGraph:
        return copy.deepcopy(self)

    def _check_name(self, name: str, node_id: str) -> None:
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            shown = repr(name) if not isinstance(name, str) or len(name) <= 70 else repr(name[:64]) + "..."
            raise GraphError(f"name {shown} must start with a letter or '_' and use only letters, digits "
                             "and '_' (at most 64)", node=node_id, field="name")
        other = self.node_by_name(name)
        if other is not None and other.id != node_id:
            raise GraphError(f"another layer is already named {name!r}", node=node_id, field="name")


def _validated(spec: LayerSpec, values: Mapping[str, Any], name: str) -> dict[str, Any]:
    try:
        return spec.config(values)
    except ParamValueError as exc:
        field_name = f"params.{exc.name}" if exc.name else "params"
        raise GraphError(f"{spec.type} '{name}': {exc}", node=name, field=field_name) from None


def _pos(pos: Iterable[float]) -> tuple[float, float]:
    x, y = pos
    if not (_finite_number(x) and _finite_number(y)):
        raise GraphError(f"a position must be two finite numbers, got ({x!r}, {y!r})", field="pos")
    return float(x), float(y)


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _list_field(data: Mapping, key: str) -> list:
    value = data.get(key)
    if not isinstance(value, list):
        raise GraphError(f"expects a list, got {json_kind(value)}", field=f"graph.{key}")
    return value


def _str_field(item: Mapping, key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        missing = "is missing" if value is None else f"expects text, got {json_kind(value)}"
        raise GraphError(missing, field=f"{where}.{key}")
    return value
