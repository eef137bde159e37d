"""Shape inference and the checks that make a graph a complete model.

`analyse(graph)` gives every node its output shape, weight count and cost, or the reason it has none,
and lists the problems that stop the model from being built. A problem on one node does not stop the
inference of nodes that do not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.core.errors import ShapeError
from studio.core.graph import ModelGraph, Node
from studio.core.shapes import TensorShape


@dataclass(frozen=True)
class Problem:
    message: str
    node: str | None = None  # node id, when the problem belongs to one node


@dataclass
class NodeInfo:
    shape: TensorShape | None = None
    params: int = 0  # trainable weights
    buffers: int = 0  # saved, non-trainable state
    macs: int = 0  # multiply-accumulates per sample
    error: str | None = None  # this node's own problem


@dataclass
class GraphAnalysis:
    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # topological, empty when the graph has a cycle
    input_id: str | None = None
    output_id: str | None = None
    loose: set[str] = field(default_factory=set)  # layers with no connection at all

    @property
    def ok(self) -> bool:
        return not self.problems

    def problems_of(self, node_id: str) -> list[str]:
        return [p.message for p in self.problems if p.node == node_id]


def analyse(graph: ModelGraph) -> GraphAnalysis:
    result = GraphAnalysis(nodes={nid: NodeInfo() for nid in graph.nodes})
    try:
        result.order = graph.topological_order()
    except Exception as exc:  # a cycle: nothing can be inferred
        result.problems.append(Problem(str(exc)))
        return result
    _check_structure(graph, result)
    sources = graph.inputs_by_node()
    for nid in result.order:
        if nid not in result.loose:
            _infer_node(graph.nodes[nid], sources[nid], result)
    _check_weights_fit(graph, result)
    return result


def _check_weights_fit(graph: ModelGraph, result: GraphAnalysis) -> None:
    """A problem on the largest layers when the weights alone would not fit in this machine's memory,
    so such a model is never built (building it would only die in the allocator)."""
    from studio.core.memory_estimate import weight_problems  # it reads the summary, which reads this

    for nid, message in weight_problems(graph, result):
        node = graph.nodes[nid]
        _fail(result, node, result.nodes[nid], message)


def _label(node: Node) -> str:
    return f"{node.type} '{node.name}'"


def _check_structure(graph: ModelGraph, result: GraphAnalysis) -> None:
    problems = result.problems
    if not graph.nodes:
        problems.append(Problem("the model is empty: add an Input layer"))
        return
    inputs = [n for n in graph.nodes.values() if n.type == "Input"]
    if not inputs:
        problems.append(Problem("the model has no Input layer: add one"))
    elif len(inputs) > 1:
        for extra in inputs[1:]:
            problems.append(Problem(f"{_label(extra)}: a model has exactly one Input; remove this one",
                                    extra.id))
    if inputs:
        result.input_id = inputs[0].id

    feeding = {e.src for e in graph.edges}
    # A layer with no connection at all gets one message, not one for each rule it breaks.
    touched = feeding | {e.dst for e in graph.edges}
    loose = [nid for nid in result.order if nid not in touched and graph.nodes[nid].type != "Input"]
    for nid in loose:
        problems.append(Problem(f"{_label(graph.nodes[nid])} is not connected: connect it between layers "
                                "or delete it", nid))
    result.loose = set(loose)
    sinks = [nid for nid in result.order
             if nid not in feeding and nid not in result.loose and graph.nodes[nid].type != "Input"]
    if len(sinks) == 1:
        result.output_id = sinks[0]
    elif len(sinks) > 1:
        # The last-added end is the likely output; every other loose end is reported on its node.
        result.output_id = sinks[-1]
        for nid in sinks[:-1]:
            problems.append(Problem(f"{_label(graph.nodes[nid])} leads nowhere: connect its output onward "
                                    "or delete it (a model has one output)", nid))
    elif inputs and len(graph.nodes) == 1:
        problems.append(Problem("the model has only an Input: add layers after it"))

    if result.input_id:
        reachable = graph.descendants(result.input_id)
        for node in graph.nodes.values():
            if (node.id != result.input_id and node.type != "Input" and node.id not in reachable
                    and node.id not in result.loose):
                problems.append(Problem(f"{_label(node)} is not connected to the Input", node.id))


def _infer_node(node: Node, sources: list[str], result: GraphAnalysis) -> None:
    info = result.nodes[node.id]
    spec = node.spec
    try:
        spec.check_arity(len(sources))
    except ShapeError as exc:
        _fail(result, node, info, str(exc))
        return
    shapes = [result.nodes[s].shape for s in sources]
    if any(s is None for s in shapes):
        return  # an upstream node has the problem; it is reported there
    try:
        info.shape = spec.infer(shapes, node.params)  # type: ignore[arg-type]
    except ShapeError as exc:
        _fail(result, node, info, str(exc))
        return
    info.params = spec.count_params(shapes, node.params)
    info.buffers = spec.count_buffers(shapes, node.params)
    info.macs = spec.macs(shapes, info.shape, node.params)


def _fail(result: GraphAnalysis, node: Node, info: NodeInfo, message: str) -> None:
    info.error = f"{_label(node)} {message}"
    result.problems.append(Problem(info.error, node.id))


_SQUASHING = ("sigmoid", "softmax")


def output_activation(graph: ModelGraph, analysis: GraphAnalysis | None = None) -> str | None:
    """'sigmoid' or 'softmax' when the model ends in one (as a layer or a Dense/Conv activation)."""
    from studio.core.catalog.core_layers import activation_of_layer

    analysis = analysis or analyse(graph)
    if analysis.output_id is None:
        return None
    node = graph.nodes[analysis.output_id]
    function = activation_of_layer(node.type) or node.params.get("activation")
    return function if function in _SQUASHING else None
