"""Small graphs the core tests share."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from studio.core.graph import ModelGraph, Node

PROJECTS = Path(__file__).resolve().parents[2] / "projects"

# The Keras cats-vs-dogs CNN from the seed slides (model.summary(): 4,828,481 parameters).
SEED_LAYERS: list[tuple[str, dict[str, Any]]] = [
    ("Input", {"kind": "image", "channels": 3, "height": 150, "width": 150}),
    ("Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}),
    ("MaxPool2D", {"kernel_size": [2, 2]}),
    ("Conv2D", {"filters": 64, "kernel_size": [3, 3], "activation": "relu"}),
    ("MaxPool2D", {"kernel_size": [2, 2]}),
    ("Conv2D", {"filters": 128, "kernel_size": [3, 3], "activation": "relu"}),
    ("MaxPool2D", {"kernel_size": [2, 2]}),
    ("Flatten", {}),
    ("Dense", {"units": 128, "activation": "relu"}),
    ("Dense", {"units": 1, "activation": "sigmoid"}),
]


def chain(layers: Iterable[tuple[str, Mapping[str, Any]]], graph: ModelGraph | None = None) -> ModelGraph:
    """A straight line of layers, each feeding the next."""
    graph = graph if graph is not None else ModelGraph()
    previous: Node | None = None
    for i, (type_name, params) in enumerate(layers):
        node = graph.add_node(type_name, params=params, pos=(200.0 * i, 0.0))
        if previous is not None:
            graph.connect(previous.id, node.id)
        previous = node
    return graph


def seed_cnn() -> ModelGraph:
    return chain(SEED_LAYERS)


def mlp(features: int = 4, hidden: int = 8, outputs: int = 3, activation: str = "softmax") -> ModelGraph:
    return chain([
        ("Input", {"kind": "vector", "features": features}),
        ("Dense", {"units": hidden, "activation": "relu"}),
        ("Dense", {"units": outputs, "activation": activation}),
    ])


def by_name(graph: ModelGraph, name: str) -> Node:
    node = graph.node_by_name(name)
    assert node is not None, name
    return node


def build_case(type_name: str, input_cfg: dict, params: dict, branches: tuple) -> tuple[ModelGraph, Node]:
    """An Input feeding a layer of `type_name` through `branches` (one per input port): each branch a
    tuple of (type, params) layers, the empty tuple being a direct connection."""
    graph = ModelGraph()
    source = graph.add_node("Input", params=input_cfg)
    target = graph.add_node(type_name, params=params)
    for port, branch in enumerate(branches):
        previous = source
        for branch_type, branch_params in branch:
            node = graph.add_node(branch_type, params=branch_params)
            graph.connect(previous.id, node.id)
            previous = node
        graph.connect(previous.id, target.id, port)
    return graph, target


def tiny_image_project(folder: Path) -> Path:
    """A project: Input 3x8x8 -> Flatten -> Dense(2, softmax) on an image folder, 1 epoch on the CPU."""
    from studio.data import write_image_folder  # the graph builders above need no dataset code

    text = json.loads((PROJECTS / "moons_mlp.studio").read_text(encoding="utf-8"))
    nodes = text["graph"]["nodes"]
    first = copy.deepcopy(nodes[0])
    first["params"].update(kind="image", channels=3, height=8, width=8)
    flatten = {"id": "n2", "type": "Flatten", "name": "flatten", "params": {}, "pos": [200.0, 0.0]}
    dense = copy.deepcopy(nodes[3])
    dense.update(id="n3", name="dense")
    dense["params"].update(units=2, activation="softmax")
    text["graph"] = {"nodes": [first, flatten, dense],
                     "edges": [{"from": "n1", "to": "n2", "port": 0}, {"from": "n2", "to": "n3", "port": 0}]}
    text["dataset"] = {"name": "image_folder", "settings": {"path": "pets"}}
    text["training"].update(epochs=1, batch_size=8, device="cpu", threads=1, mixed_precision=False)
    write_image_folder(folder / "pets", per_class=4, size=8, seed=0)
    path = folder / "tiny.studio"
    path.write_text(json.dumps(text), encoding="utf-8")
    return path
