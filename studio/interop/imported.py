"""What both importers share: the layers they find, the problems they gather, and the graph they make."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.core.errors import GraphError, ShapeError
from studio.core.graph import ModelGraph
from studio.core.inference import analyse
from studio.core.layers import get_spec
from studio.core.params import ParamValueError
from studio.core.shapes import TensorShape
from studio.interop.common import InteropError

COLUMN = 200.0  # horizontal distance between layers, as in the example projects
ROW = 110.0


@dataclass
class Layer:
    """One studio layer of an imported model."""

    name: str
    type: str
    params: dict[str, Any]
    inputs: list[str]  # names of the layers feeding it, in input order


@dataclass
class ImportResult:
    graph: ModelGraph
    notes: list[str] = field(default_factory=list)  # what the user should know: differences, ignored settings


class Problems:
    """Everything that stops an import, gathered so that one message lists it all."""

    def __init__(self) -> None:
        self.missing: list[str] = []
        self.settings: list[str] = []
        self.other: list[str] = []

    def no_counterpart(self, name: str, kind: str) -> None:
        self.missing.append(f"'{name}' ({kind})")

    def setting(self, name: str, kind: str, text: str) -> None:
        self.settings.append(f"'{name}' ({kind}) {text}")

    def __bool__(self) -> bool:
        return bool(self.missing or self.settings or self.other)

    def raise_if_any(self) -> None:
        parts = []
        if self.missing:
            parts.append("layers with no counterpart in the studio: " + ", ".join(self.missing))
        if self.settings:
            parts.append("settings the studio does not have: " + ", ".join(self.settings))
        parts += self.other
        if parts:
            raise InteropError("cannot import: " + "; ".join(parts))


def output_shape(layer: Layer, inputs: list[TensorShape]) -> TensorShape:
    """The layer's output shape; ShapeError or ParamValueError when it does not fit its inputs."""
    spec = get_spec(layer.type)
    return spec.output_shape(inputs, spec.config(layer.params))


def infer(layer: Layer, inputs: list[TensorShape | None], kind: str,
          problems: Problems) -> TensorShape | None:
    """`output_shape`, recording why not in `problems` (None also when an input's shape is unknown)."""
    if any(s is None for s in inputs):
        return None
    try:
        return output_shape(layer, inputs)  # type: ignore[arg-type]
    except ParamValueError as exc:
        problems.setting(layer.name, kind, str(exc))
    except ShapeError as exc:
        problems.other.append(f"'{layer.name}' ({kind}) {exc}")
    return None


def build_graph(layers: list[Layer]) -> ModelGraph:
    """The layers (each after its inputs) as a checked graph, laid out left to right by depth."""
    names = _node_names([layer.name for layer in layers])
    depth: dict[str, int] = {}
    column: dict[int, int] = {}
    graph = ModelGraph()
    ids = {}
    for layer in layers:
        depth[layer.name] = 1 + max((depth[s] for s in layer.inputs), default=-1)
        row = column.get(depth[layer.name], 0)
        column[depth[layer.name]] = row + 1
        pos = (COLUMN * depth[layer.name], ROW * row)
        try:
            node = graph.add_node(layer.type, name=names[layer.name], params=layer.params, pos=pos)
            for port, source in enumerate(layer.inputs):
                graph.connect(ids[source], node.id, port)
        except GraphError as exc:
            raise InteropError(f"cannot import '{layer.name}': {exc}") from None
        ids[layer.name] = node.id
    analysis = analyse(graph)
    if not analysis.ok:
        raise InteropError("the imported model does not fit together: "
                           + "; ".join(p.message for p in analysis.problems))
    return graph


def _node_names(names: list[str]) -> dict[str, str]:
    """Source names as valid, unique studio node names ('block1/conv' -> 'block1_conv')."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name)[:60] or "layer"
        if not re.match(r"[A-Za-z_]", base):
            base = "_" + base
        candidate, i = base, 1
        while candidate in taken:
            candidate, i = f"{base}_{i}", i + 1
        taken.add(candidate)
        out[name] = candidate
    return out


def input_params(dims: tuple[int, ...], vocab: int | None = None) -> dict[str, Any]:
    """Input settings for one sample of `dims` (studio order: (C, H, W), (T, F), (F,) or token ids)."""
    if vocab is not None:
        return {"kind": "tokens", "length": dims[0], "vocab_size": vocab}
    if len(dims) == 3:
        return {"kind": "image", "channels": dims[0], "height": dims[1], "width": dims[2]}
    if len(dims) == 2:
        return {"kind": "sequence", "length": dims[0], "features": dims[1]}
    return {"kind": "vector", "features": dims[0]}


def parameter_count(graph: ModelGraph) -> tuple[int, int]:
    """(trainable weights, saved non-trainable values) of the graph, as the summary counts them."""
    analysis = analyse(graph)
    return (sum(info.params for info in analysis.nodes.values()),
            sum(info.buffers for info in analysis.nodes.values()))


def describe(value: Any) -> str:
    """A short form of a setting's value for messages."""
    if isinstance(value, Mapping):
        return str(value.get("class_name", "{...}"))
    return repr(value)
