"""The seed slides' Keras CNN for cats vs dogs: the numbers Keras' model.summary() printed."""

from __future__ import annotations

import torch

from studio.core.build import build_model
from studio.core.inference import analyse
from studio.core.summary import format_summary, summarize

from .builders import seed_cnn

# From the slides' model.summary() (Keras), layer by layer after the Input.
KERAS_ROWS = [
    ("conv2d", "Conv2D", (32, 148, 148), 896),
    ("max_pooling2d", "MaxPool2D", (32, 74, 74), 0),
    ("conv2d_1", "Conv2D", (64, 72, 72), 18_496),
    ("max_pooling2d_1", "MaxPool2D", (64, 36, 36), 0),
    ("conv2d_2", "Conv2D", (128, 34, 34), 73_856),
    ("max_pooling2d_2", "MaxPool2D", (128, 17, 17), 0),
    ("flatten", "Flatten", (36_992,), 0),
    ("dense", "Dense", (128,), 4_735_104),
    ("dense_1", "Dense", (1,), 129),
]
KERAS_TOTAL = 4_828_481


def test_per_layer_names_shapes_and_counts_match_keras():
    summary = summarize(seed_cnn())
    assert summary.problems == []
    rows = summary.rows
    assert (rows[0].type, rows[0].shape, rows[0].params) == ("Input", "(N, 3, 150, 150)", 0)
    got = [(r.name, r.type, r.shape, r.params) for r in rows[1:]]
    want = [(name, type_name, "(" + ", ".join(["N", *map(str, dims)]) + ")", count)
            for name, type_name, dims, count in KERAS_ROWS]
    assert got == want
    assert summary.total == summary.trainable == KERAS_TOTAL
    assert summary.non_trainable == 0


def test_formatted_summary_has_keras_totals():
    text = format_summary(summarize(seed_cnn()), title="cats_vs_dogs")
    assert "Total params: 4,828,481 (18.42 MB)" in text
    assert "Trainable params: 4,828,481 (18.42 MB)" in text
    assert "Non-trainable params: 0 (0.00 B)" in text
    assert "(N, 128, 17, 17)" in text and "(N, 36992)" in text
    assert "dense_1 (Dense)" in text and "4,735,104" in text
    assert "Problems" not in text


def test_multiply_accumulates_follow_the_textbook_formula():
    # out positions x out channels x (in channels x kernel area), and in x out for Dense.
    expected = (148 * 148 * 32 * 3 * 9 + 72 * 72 * 64 * 32 * 9 + 34 * 34 * 128 * 64 * 9
                + 36_992 * 128 + 128 * 1)
    assert summarize(seed_cnn()).macs == expected


def test_built_seed_model_has_the_keras_weights_and_output():
    graph = seed_cnn()
    model = build_model(graph).eval()
    assert sum(p.numel() for p in model.parameters()) == KERAS_TOTAL
    with torch.no_grad():
        features = model.features(torch.rand(1, 3, 150, 150), ["max_pooling2d_2", "flatten", "dense_1"])
    assert features["max_pooling2d_2"].shape == (1, 128, 17, 17)
    assert features["flatten"].shape == (1, 36_992)
    probability = features["dense_1"]
    assert probability.shape == (1, 1) and 0.0 < probability.item() < 1.0  # ends in a sigmoid
    analysis = analyse(graph)
    for name, _type, dims, count in KERAS_ROWS:
        node = graph.node_by_name(name)
        assert analysis.nodes[node.id].shape.dims == dims
        assert sum(p.numel() for p in model.layers[name].parameters()) == count
