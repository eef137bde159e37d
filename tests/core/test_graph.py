"""The graph's editing rules: every edit keeps it a well-formed DAG with valid, uniquely named nodes."""

from __future__ import annotations

import json

import pytest

from studio.core.errors import GraphError
from studio.core.graph import Edge, ModelGraph

from .builders import mlp


def _vector_input(graph: ModelGraph, features: int = 4):
    return graph.add_node("Input", params={"kind": "vector", "features": features})


def test_cycle_is_refused_and_graph_unchanged():
    graph = ModelGraph()
    a, b, c = (graph.add_node("ReLU") for _ in range(3))
    graph.connect(a.id, b.id)
    graph.connect(b.id, c.id)
    before = graph.to_dict()
    with pytest.raises(GraphError, match="cycle"):
        graph.connect(c.id, a.id)
    assert graph.to_dict() == before


def test_self_loop_is_refused():
    graph = ModelGraph()
    node = graph.add_node("Add")  # takes any number of inputs, so only the loop rule can refuse it
    with pytest.raises(GraphError, match="itself"):
        graph.connect(node.id, node.id)
    assert graph.edges == []


def test_second_input_to_a_single_input_layer_is_refused():
    graph = ModelGraph()
    source = _vector_input(graph)
    first, second = graph.add_node("ReLU"), graph.add_node("Tanh")
    dense = graph.add_node("Dense")
    graph.connect(source.id, first.id)
    graph.connect(source.id, second.id)
    graph.connect(first.id, dense.id)
    with pytest.raises(GraphError, match="already has its input") as err:
        graph.connect(second.id, dense.id)
    assert err.value.node == dense.id
    with pytest.raises(GraphError):
        graph.connect(second.id, dense.id, port=1)  # nor through an explicit second port
    assert graph.inputs_of(dense.id) == [first.id]


def test_nothing_feeds_an_input_and_duplicate_edges_are_refused():
    graph = ModelGraph()
    source = _vector_input(graph)
    relu = graph.add_node("ReLU")
    with pytest.raises(GraphError, match="takes no inputs"):
        graph.connect(relu.id, source.id)
    add = graph.add_node("Add")
    graph.connect(source.id, add.id)
    with pytest.raises(GraphError, match="already feeds"):
        graph.connect(source.id, add.id)
    with pytest.raises(GraphError):
        graph.connect(source.id, "nope")


def test_names_are_unique_keras_style():
    graph = ModelGraph()
    names = [graph.add_node("Conv2D").name for _ in range(3)]
    assert names == ["conv2d", "conv2d_1", "conv2d_2"]
    assert graph.add_node("MaxPool2D").name == "max_pooling2d"
    assert graph.add_node("BatchNorm").name == "batch_normalization"
    graph.remove_node(graph.node_by_name("conv2d_1").id)
    assert graph.add_node("Conv2D").name == "conv2d_1"  # a freed name is reused
    with pytest.raises(GraphError, match="already named") as err:
        graph.add_node("Dense", name="conv2d")
    assert err.value.field == "name"


def test_rename_checks_uniqueness_and_spelling():
    graph = ModelGraph()
    a, b = graph.add_node("Dense"), graph.add_node("Dense")
    with pytest.raises(GraphError, match="already named"):
        graph.rename(b.id, a.name)
    for bad in ("", "1abc", "has space", "dot.name", "x" * 65, "naïve"):
        with pytest.raises(GraphError) as err:
            graph.rename(b.id, bad)
        assert err.value.field == "name"
    graph.rename(a.id, a.name)  # keeping one's own name is fine
    graph.rename(b.id, "classifier")
    assert graph.node(b.id).name == "classifier"


def test_set_params_out_of_range_names_the_field_and_changes_nothing():
    graph = ModelGraph()
    conv = graph.add_node("Conv2D", params={"filters": 8})
    with pytest.raises(GraphError) as err:
        graph.set_params(conv.id, {"filters": 0})
    assert err.value.field == "params.filters"
    assert "filters" in str(err.value) and "conv2d" in str(err.value)
    with pytest.raises(GraphError) as err:
        graph.set_params(conv.id, {"kernel_size": [3, 3, 3]})
    assert err.value.field == "params.kernel_size"
    with pytest.raises(GraphError) as err:
        graph.set_params(conv.id, {"padding": "full"})
    assert err.value.field == "params.padding"
    with pytest.raises(GraphError) as err:
        graph.set_params(conv.id, {"kernal_size": 3})
    assert err.value.field == "params.kernal_size"
    assert graph.node(conv.id).params["filters"] == 8
    assert graph.set_params(conv.id, {"filters": 16, "padding": "valid"}) == {"filters": 8}
    assert graph.node(conv.id).params["filters"] == 16


def test_unknown_layer_type_is_refused():
    graph = ModelGraph()
    with pytest.raises(GraphError, match="Conv3D") as err:
        graph.add_node("Conv3D")
    assert err.value.field == "type"
    assert graph.nodes == {}


def test_remove_node_removes_its_edges():
    graph = mlp()
    hidden = graph.node_by_name("dense")
    graph.remove_node(hidden.id)
    assert hidden.id not in graph.nodes
    assert all(hidden.id not in (e.src, e.dst) for e in graph.edges)
    assert graph.edges == []
    with pytest.raises(GraphError):
        graph.remove_node(hidden.id)


def test_disconnect_and_move():
    graph = mlp()
    edge = graph.edges[0]
    graph.disconnect(edge)
    assert edge not in graph.edges
    with pytest.raises(GraphError):
        graph.disconnect(edge)
    node = graph.node_by_name("dense")
    graph.move(node.id, (12, -3.5))
    assert graph.node(node.id).pos == (12.0, -3.5)


def test_topological_order_puts_every_node_after_its_inputs():
    graph = ModelGraph()
    # Added in reverse of the data flow, with a diamond in the middle.
    out = graph.add_node("Dense", params={"units": 2})
    add = graph.add_node("Add")
    left, right = graph.add_node("ReLU"), graph.add_node("Tanh")
    stem = graph.add_node("Dense", params={"units": 3})
    source = _vector_input(graph)
    for src, dst in ((add, out), (left, add), (right, add), (stem, left), (stem, right), (source, stem)):
        graph.connect(src.id, dst.id)
    order = graph.topological_order()
    assert sorted(order) == sorted(graph.nodes)
    position = {nid: i for i, nid in enumerate(order)}
    assert all(position[e.src] < position[e.dst] for e in graph.edges)
    assert order[0] == source.id and order[-1] == out.id
    assert position[left.id] < position[right.id]  # ties keep insertion order


def test_concat_inputs_are_ordered_by_port_not_by_connection_order():
    graph = ModelGraph()
    source = _vector_input(graph)
    a = graph.add_node("Dense", name="a", params={"units": 2})
    b = graph.add_node("Dense", name="b", params={"units": 5})
    cat = graph.add_node("Concat")
    graph.connect(source.id, a.id)
    graph.connect(source.id, b.id)
    graph.connect(b.id, cat.id, port=1)
    graph.connect(a.id, cat.id, port=0)
    assert graph.inputs_of(cat.id) == [a.id, b.id]
    with pytest.raises(GraphError, match="not free"):
        graph.connect(source.id, cat.id, port=0)
    again = ModelGraph.from_dict(json.loads(json.dumps(graph.to_dict())))
    assert again.inputs_of(cat.id) == [a.id, b.id]

    import torch

    from studio.core.build import build_model

    model = build_model(again).eval()
    x = torch.randn(3, 4)
    with torch.no_grad():
        parts = model.features(x, ["a", "b", "concatenate"])
    assert parts["concatenate"].shape == (3, 7)
    assert torch.equal(parts["concatenate"][:, :2], parts["a"])
    assert torch.equal(parts["concatenate"][:, 2:], parts["b"])


def test_edge_ports_fill_the_first_free_one():
    graph = ModelGraph()
    source = _vector_input(graph)
    relus = [graph.add_node("ReLU") for _ in range(3)]
    add = graph.add_node("Add")
    for relu in relus:
        graph.connect(source.id, relu.id)
    assert graph.connect(relus[0].id, add.id) == Edge(relus[0].id, add.id, 0)
    assert graph.connect(relus[1].id, add.id).port == 1
    with pytest.raises(GraphError):
        graph.connect(relus[2].id, add.id, port=-1)


def test_copy_is_independent():
    graph = mlp()
    clone = graph.copy()
    clone.set_params(clone.node_by_name("dense").id, {"units": 99})
    clone.remove_node(clone.node_by_name("dense_1").id)
    assert graph.node_by_name("dense").params["units"] == 8
    assert len(graph.nodes) == 3 and len(graph.edges) == 2
