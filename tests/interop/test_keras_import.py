"""Keras model.to_json() files (Keras 2 and 3, Sequential and functional) as studio graphs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from studio.cli import main
from studio.core.build import build_model
from studio.core.inference import analyse
from studio.core.project import load_project
from studio.core.summary import summarize
from studio.interop import InteropError
from studio.interop.keras_import import graph_from_keras, import_keras, read_keras_json

KERAS = Path(__file__).parent / "keras"


def nodes(graph):
    return {node.name: node for node in graph.nodes.values()}


def inputs_of(graph, name):
    node = graph.node_by_name(name)
    return [graph.nodes[source].name for source in graph.inputs_of(node.id)]


@pytest.mark.parametrize("fixture", ["cats_vs_dogs_keras2.json", "cats_vs_dogs_keras3.json"])
def test_the_slides_cats_vs_dogs_model_has_the_same_4828481_parameters(fixture):
    result = import_keras(KERAS / fixture)
    summary = summarize(result.graph)
    assert (summary.total, summary.trainable, summary.non_trainable) == (4_828_481, 4_828_481, 0)
    layers = [(n.type, n.params) for n in result.graph.nodes.values()]
    assert layers[0] == ("Input", {"kind": "image", "channels": 3, "height": 150, "width": 150, "features": 2,
                                   "length": 16, "vocab_size": 1000})  # channels-last became channels-first
    assert [t for t, _ in layers] == ["Input", "Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Conv2D",
                                      "MaxPool2D", "Flatten", "Dense", "Dense"]
    assert layers[-1][1]["activation"] == "sigmoid" and layers[5][1]["filters"] == 128
    assert [row.shape for row in summary.rows][-3:] == ["(N, 36992)", "(N, 128)", "(N, 1)"]
    xs = [n.pos[0] for n in result.graph.nodes.values()]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # left to right
    assert result.notes == []


def test_keras_2_2_sequential_without_an_input_layer():
    result = import_keras(KERAS / "mnist_mlp_keras22.json")
    assert summarize(result.graph).total == 669_706  # the Keras mnist_mlp example's count
    input_node = nodes(result.graph)["input"]
    assert input_node.params["kind"] == "vector" and input_node.params["features"] == 784
    assert nodes(result.graph)["dropout_1"].params == {"rate": 0.2}
    assert result.notes == ["'dense_2' (Dense): ignored kernel_regularizer (the studio has weight decay "
                            "in the training settings instead)"]


def test_functional_residual_block_with_add_and_concatenate():
    result = import_keras(KERAS / "residual_functional_keras2.json")
    graph = result.graph
    # Keras: 448 + 2,304 + 64 (32 of them moving statistics) + 136 + 250.
    summary = summarize(graph)
    assert (summary.total, summary.non_trainable) == (3_202, 32)
    assert inputs_of(graph, "add") == ["batch_normalization", "conv2d"]
    assert inputs_of(graph, "concatenate") == ["max_pooling2d", "conv2d_2"]
    assert nodes(graph)["activation"].type == "ReLU"
    assert nodes(graph)["batch_normalization"].params == {"momentum": pytest.approx(0.01), "epsilon": 1e-3}
    assert nodes(graph)["conv2d"].params["padding"] == "same"
    assert nodes(graph)["conv2d_1"].params["use_bias"] is False
    assert analyse(graph).nodes[graph.node_by_name("concatenate").id].shape.dims == (24, 16, 16)
    for node in graph.nodes.values():  # every edge goes left to right
        assert all(graph.nodes[s].pos[0] < node.pos[0] for s in graph.inputs_of(node.id))
    assert build_model(graph)(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_keras_3_functional_text_model_and_the_recurrent_bias_difference():
    result = import_keras(KERAS / "text_rnn_functional_keras3.json")
    graph = result.graph
    by_name = nodes(graph)
    assert by_name["tokens"].params["kind"] == "tokens"
    assert (by_name["tokens"].params["length"], by_name["tokens"].params["vocab_size"]) == (40, 1000)
    assert by_name["bidirectional"].type == "LSTM"
    assert by_name["bidirectional"].params == {"units": 8, "return_sequences": True, "bidirectional": True}
    assert by_name["gru"].params == {"units": 8, "return_sequences": False, "bidirectional": False}
    # Keras: 16,000 + 32 + 1,600 + 624 + 9 = 18,265; torch's LSTM has 2 x 4 x 8 more biases.
    assert summarize(graph).total == 18_265 + 64
    assert result.notes == ["'bidirectional' (LSTM): 1,664 parameters here, 1,600 in Keras: torch keeps two "
                            "bias vectors per gate (input and recurrent) where Keras keeps one"]
    assert build_model(graph)(torch.randint(0, 1000, (2, 40))).shape == (2, 1)


def test_simple_rnn_bias_note_and_gru_counts_equal_to_keras():
    def layer(cls, **config):
        return {"class_name": cls, "config": {"name": cls.lower(), **config}}

    data = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        layer("InputLayer", batch_input_shape=[None, 12, 3]),
        layer("SimpleRNN", units=5, activation="relu", return_sequences=True),
        layer("GRU", units=4, reset_after=True),
    ]}}
    result = graph_from_keras(data)
    assert nodes(result.graph)["simplernn"].params["nonlinearity"] == "relu"
    keras_rnn, keras_gru = 5 * (3 + 5) + 5, 3 * (4 * (5 + 4) + 2 * 4)
    assert summarize(result.graph).total == keras_rnn + 5 + keras_gru
    assert result.notes == ["'simplernn' (RNN): 50 parameters here, 45 in Keras: torch keeps two bias "
                            "vectors per gate (input and recurrent) where Keras keeps one"]


def test_everything_without_a_counterpart_is_listed_in_one_error_and_nothing_is_written(tmp_path, capsys):
    output = tmp_path / "odd.studio"
    assert main(["import", str(KERAS / "unsupported_keras2.json"), "--output", str(output)]) == 2
    assert capsys.readouterr().err == (
        "model-studio: error: cannot import: layers with no counterpart in the studio: 'lambda' (Lambda), "
        "'conv3d' (Conv3D); settings the studio does not have: 'conv2d' (Conv2D) groups=2, "
        "'conv2d_1' (Conv2D) activation='selu', 'leaky_re_lu' (LeakyReLU) negative slope 0.3 (the "
        "studio's LeakyReLU has torch's 0.01)\n")
    assert not output.exists()


def test_open_input_sizes_need_an_input_shape():
    data = read_keras_json(KERAS / "text_rnn_functional_keras3.json")
    data["config"]["layers"][0]["config"]["batch_shape"] = [None, None]
    with pytest.raises(InteropError, match=r"input shape is \(None\): the studio needs fixed sizes; give "
                                           r"them with --input-shape"):
        graph_from_keras(data)
    graph = graph_from_keras(data, input_shape=[25]).graph
    assert nodes(graph)["tokens"].params["length"] == 25


def test_structures_beyond_one_input_and_unshared_layers_are_refused():
    data = read_keras_json(KERAS / "residual_functional_keras2.json")
    shared = copy.deepcopy(data)
    dense = shared["config"]["layers"][-1]
    dense["inbound_nodes"].append([["dropout", 0, 0, {}]])
    data["config"]["input_layers"].append(["input_2", 0, 0])
    with pytest.raises(InteropError, match="'dense' \\(Dense\\) is applied 2 times \\(shared weights\\)"):
        graph_from_keras(shared)
    with pytest.raises(InteropError, match="the model has 2 inputs; a studio model has one"):
        graph_from_keras(data)


def test_shape_mistakes_are_reported_with_the_layer():
    data = read_keras_json(KERAS / "mnist_mlp_keras22.json")
    data["config"]["layers"].insert(1, {"class_name": "Conv2D", "config": {
        "name": "conv2d", "filters": 4, "kernel_size": [3, 3], "activation": "relu"}})
    with pytest.raises(InteropError, match=r"'conv2d' \(Conv2D\) expects an image"):
        graph_from_keras(data)


def test_not_a_keras_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": "model-studio-project"}))
    with pytest.raises(InteropError, match="not a Keras model.to_json\\(\\) file"):
        import_keras(path)
    path.write_text("{")
    with pytest.raises(InteropError, match="not a Keras model.to_json\\(\\) file"):
        import_keras(path)


def test_cli_import_writes_a_project_and_refuses_to_overwrite(tmp_path, capsys):
    output = tmp_path / "cats.studio"
    assert main(["import", str(KERAS / "cats_vs_dogs_keras3.json"), "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "Total params: 4,828,481 (18.42 MB)" in out and f"Wrote {output}" in out
    project = load_project(output)
    assert project.name == "cats" and summarize(project.graph).total == 4_828_481
    assert main(["import", str(KERAS / "cats_vs_dogs_keras3.json"), "--output", str(output)]) == 2
    assert "already exists; use --force" in capsys.readouterr().err
