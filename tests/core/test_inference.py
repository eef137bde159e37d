"""Shape inference, the complete-model checks, and building a module from a graph."""

from __future__ import annotations

import copy

import pytest
import torch

from studio.core.build import build_model
from studio.core.errors import GraphError
from studio.core.graph import ModelGraph
from studio.core.inference import analyse

from .builders import by_name, chain, mlp


def _messages(analysis) -> str:
    return "\n".join(p.message for p in analysis.problems)


def test_complete_model_has_no_problems_and_one_input_and_output():
    graph = mlp()
    analysis = analyse(graph)
    assert analysis.ok and analysis.problems == []
    assert analysis.input_id == by_name(graph, "input").id
    assert analysis.output_id == by_name(graph, "dense_1").id


def test_empty_graph_and_missing_input_are_problems():
    assert not analyse(ModelGraph()).ok
    graph = ModelGraph()
    graph.add_node("Dense")
    analysis = analyse(graph)
    assert "no Input" in _messages(analysis)


def test_only_an_input_is_a_problem():
    graph = ModelGraph()
    graph.add_node("Input")
    assert "only an Input" in _messages(analyse(graph))


def test_second_input_is_flagged_on_its_node():
    graph = mlp()
    extra = graph.add_node("Input", name="input_2", params={"kind": "vector", "features": 4})
    graph.connect(extra.id, graph.add_node("ReLU").id)
    analysis = analyse(graph)
    assert not analysis.ok
    assert any("exactly one Input" in m for m in analysis.problems_of(extra.id))
    with pytest.raises(GraphError, match="exactly one Input"):
        build_model(graph)


def test_a_layer_with_no_connection_gets_one_message():
    graph = mlp()
    loose = graph.add_node("Dense", name="stray")
    analysis = analyse(graph)
    assert analysis.problems_of(loose.id) == ["Dense 'stray' is not connected: connect it between layers or "
                                              "delete it"]
    assert graph.nodes[analysis.output_id].name == "dense_1"  # the real output is still found


def test_a_branch_that_does_not_start_at_the_input_is_flagged():
    graph = mlp()
    first = graph.add_node("Dense", name="first")
    second = graph.add_node("Dense", name="second")
    graph.connect(first.id, second.id)
    analysis = analyse(graph)
    assert any("not connected to the Input" in m for m in analysis.problems_of(second.id))


def test_two_loose_ends_are_flagged():
    graph = mlp()
    side = graph.add_node("Dense", name="side", params={"units": 2})
    graph.connect(by_name(graph, "dense").id, side.id)
    analysis = analyse(graph)
    flagged = [p.node for p in analysis.problems if "leads nowhere" in p.message]
    assert len(flagged) == 1
    ends = {by_name(graph, "dense_1").id, side.id}
    assert flagged[0] in ends and analysis.output_id in ends - {flagged[0]}
    # Every node still has its shape: the rule is about the model, not about inference.
    assert analysis.nodes[side.id].shape.dims == (2,)
    with pytest.raises(GraphError, match="leads nowhere"):
        build_model(graph)


def test_dense_on_an_image_names_the_node_the_shape_and_the_fix():
    graph = chain([
        ("Input", {"kind": "image", "channels": 1, "height": 32, "width": 32}),
        ("Conv2D", {"filters": 32, "kernel_size": [3, 3]}),
        ("MaxPool2D", {}),
    ])
    fc1 = graph.add_node("Dense", name="fc1", params={"units": 10})
    graph.connect(by_name(graph, "max_pooling2d").id, fc1.id)
    analysis = analyse(graph)
    error = analysis.nodes[fc1.id].error
    assert error is not None
    assert error.startswith("Dense 'fc1' expects a flat")
    assert "but receives (N, 32, 15, 15)" in error
    assert "add a Flatten" in error
    assert analysis.problems_of(fc1.id) == [error]
    # The nodes before it are fine.
    assert analysis.nodes[by_name(graph, "max_pooling2d").id].shape.dims == (32, 15, 15)
    with pytest.raises(GraphError, match="fc1"):
        build_model(graph)


def test_an_error_on_one_branch_does_not_stop_other_nodes():
    # input -> flatten -> dense(4) ----------------\
    #      \-> fc1 (Dense on an image: broken) -> relu -> add -> out
    graph = ModelGraph()
    source = graph.add_node("Input", params={"kind": "image", "channels": 1, "height": 2, "width": 2})
    flatten = graph.add_node("Flatten")
    good = graph.add_node("Dense", name="good", params={"units": 4})
    fc1 = graph.add_node("Dense", name="fc1", params={"units": 4})
    after_bad = graph.add_node("ReLU")
    add = graph.add_node("Add")
    out = graph.add_node("Dense", name="out", params={"units": 1})
    for src, dst in ((source, flatten), (flatten, good), (source, fc1), (fc1, after_bad), (good, add),
                     (after_bad, add), (add, out)):
        graph.connect(src.id, dst.id)
    analysis = analyse(graph)
    assert analysis.nodes[flatten.id].shape.dims == (4,)
    assert analysis.nodes[good.id].shape.dims == (4,)
    assert analysis.nodes[good.id].params == 4 * 4 + 4
    assert analysis.nodes[fc1.id].shape is None and "add a Flatten" in analysis.nodes[fc1.id].error
    # Downstream of the broken node: no shape, and no second report of the same cause.
    for node in (after_bad, add, out):
        assert analysis.nodes[node.id].shape is None
        assert analysis.nodes[node.id].error is None
    assert [p.node for p in analysis.problems] == [fc1.id]

    graph.remove_node(fc1.id)
    fixed = graph.add_node("Flatten", name="fc1")
    graph.connect(source.id, fixed.id)
    graph.connect(fixed.id, after_bad.id)
    analysis = analyse(graph)
    assert analysis.ok, _messages(analysis)
    assert analysis.nodes[out.id].shape.dims == (1,)


def test_mismatched_add_reports_both_shapes():
    graph = ModelGraph()
    source = graph.add_node("Input", params={"kind": "vector", "features": 3})
    a = graph.add_node("Dense", params={"units": 2})
    b = graph.add_node("Dense", params={"units": 5})
    add = graph.add_node("Add")
    for src, dst in ((source, a), (source, b), (a, add), (b, add)):
        graph.connect(src.id, dst.id)
    error = analyse(graph).nodes[add.id].error
    assert "(N, 2)" in error and "(N, 5)" in error


def test_add_with_one_input_is_a_problem():
    graph = mlp()
    add = graph.add_node("Add")
    graph.connect(by_name(graph, "dense_1").id, add.id)
    analysis = analyse(graph)
    assert analysis.nodes[add.id].error is not None and "at least 2" in analysis.nodes[add.id].error


def test_window_too_large_is_a_shape_error_not_a_crash():
    graph = chain([
        ("Input", {"kind": "image", "channels": 1, "height": 4, "width": 4}),
        ("Conv2D", {"kernel_size": [5, 5]}),
    ])
    error = analyse(graph).nodes[by_name(graph, "conv2d").id].error
    assert "5x5" in error and "4x4" in error


def test_build_model_refuses_an_invalid_graph():
    graph = mlp()
    graph.add_node("Dense", name="stray")
    with pytest.raises(GraphError, match="stray"):
        build_model(graph)
    with pytest.raises(GraphError):
        build_model(ModelGraph())


def test_features_returns_intermediate_outputs_with_inferred_shapes():
    graph = chain([
        ("Input", {"kind": "image", "channels": 2, "height": 10, "width": 10}),
        ("Conv2D", {"filters": 4, "kernel_size": [3, 3]}),
        ("MaxPool2D", {}),
        ("Flatten", {}),
        ("Dense", {"units": 6, "activation": "relu"}),
        ("Dense", {"units": 3, "activation": "softmax"}),
    ])
    analysis = analyse(graph)
    model = build_model(graph).eval()
    x = torch.randn(5, 2, 10, 10)
    names = ["input", "conv2d", "max_pooling2d", "flatten", "dense"]
    with torch.no_grad():
        outputs = model.features(x, names)
        final = model(x)
    assert set(outputs) == set(names)
    for name in names:
        assert tuple(outputs[name].shape) == (5, *analysis.nodes[by_name(graph, name).id].shape.dims)
    assert torch.equal(outputs["input"], x)
    assert (outputs["dense"] >= 0).all()  # after its relu
    assert final.shape == (5, 3)
    assert torch.allclose(final.sum(dim=1), torch.ones(5))
    with pytest.raises(GraphError, match="nope"):
        model.features(x, ["nope"])


@pytest.mark.parametrize(("ending", "activation"), [
    ([("Dense", {"units": 1, "activation": "sigmoid"})], "sigmoid"),
    ([("Dense", {"units": 1}), ("Sigmoid", {})], "sigmoid"),
    ([("Dense", {"units": 3, "activation": "softmax"})], "softmax"),
    ([("Dense", {"units": 3}), ("Softmax", {})], "softmax"),
])
def test_logits_leave_out_the_final_squashing(ending, activation):
    graph = chain([("Input", {"kind": "vector", "features": 4}),
                   ("Dense", {"units": 8, "activation": "tanh"}), *ending])
    plain = build_model(graph).eval()
    logits = build_model(graph, logits=True).eval()
    assert plain.output_activation is None
    assert logits.output_activation == activation
    logits.load_state_dict(plain.state_dict())  # the same weights under the same names
    x = torch.randn(16, 4)
    with torch.no_grad():
        raw, squashed = logits(x), plain(x)
    assert raw.shape == squashed.shape
    squash = torch.sigmoid if activation == "sigmoid" else (lambda t: torch.softmax(t, dim=-1))
    assert torch.allclose(squash(raw), squashed, atol=1e-6)
    assert not torch.allclose(raw, squashed)


def test_logits_keep_other_final_activations():
    graph = mlp(activation="relu")
    model = build_model(graph, logits=True).eval()
    assert model.output_activation is None
    with torch.no_grad():
        assert (model(torch.randn(8, 4)) >= 0).all()


def test_layer_names_that_are_also_torch_attribute_names_build():
    # A user may call a layer "train", "eval" or "forward"; those are valid names in the graph.
    graph = ModelGraph()
    source = graph.add_node("Input", params={"kind": "vector", "features": 3})
    previous = source
    for name in ("train", "forward", "eval", "to", "float", "keys", "training", "_modules", "__init__",
                 "_parameters", "layers"):
        node = graph.add_node("Dense", name=name, params={"units": 3})
        graph.connect(previous.id, node.id)
        previous = node
    model = build_model(graph).eval()
    with torch.no_grad():
        out = model.features(torch.randn(2, 3), ["train", "training"])
    assert out["training"].shape == (2, 3)
    state = model.state_dict()
    assert "layers.train.layer.weight" in state and "layers.training.layer.bias" in state
    again = build_model(graph)
    again.load_state_dict(state)
    model.train()  # the module's own methods still work
    assert model.training and model.layers["training"].training
    copied = copy.deepcopy(model).double().eval()
    assert not copied.layers["train"].training
    with torch.no_grad():
        assert copied(torch.randn(2, 3, dtype=torch.float64)).dtype == torch.float64
