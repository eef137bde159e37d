"""Features of a chosen layer: which layers, which values, and errors for names that do not exist."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.analysis import AnalysisError
from studio.analysis.features import candidate_layers, default_layer, extract_features

from .helpers import built


@pytest.fixture(scope="module")
def digits():
    return built("digits_cnn")


def test_candidate_layers_start_with_the_raw_input_and_skip_repeats(digits):
    model, _ = digits
    # flatten repeats max_pooling2d and dropout repeats dense; dense_1 (the output) gives logits.
    assert candidate_layers(model) == ["input", "conv2d", "conv2d_1", "max_pooling2d", "dense", "dense_1"]


def test_default_layer_is_the_one_feeding_the_output(digits):
    model, _ = digits
    assert default_layer(model) == "dense"  # passing over the dropout between it and the output
    moons, _ = built("moons_mlp")
    assert default_layer(moons) == "dense_1"


def test_the_layer_choice_changes_the_features(digits):
    model, data = digits
    x = data.val_x[:50]
    raw = extract_features(model, x, "input")
    conv = extract_features(model, x, "conv2d")
    dense = extract_features(model, x)
    assert raw.shape == (50, 64) and conv.shape == (50, 32 * 8 * 8) and dense.shape == (50, 128)
    assert raw.dtype == conv.dtype == dense.dtype == np.float32
    np.testing.assert_array_equal(raw, x.reshape(50, -1).numpy())
    expected = torch.relu(model.layers["dense"](model.layers["flatten"](
        model.layers["max_pooling2d"](model.layers["conv2d_1"](model.layers["conv2d"](x))))))
    np.testing.assert_allclose(dense, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    logits = extract_features(model, x, "dense_1")
    assert logits.shape == (50, 10) and not np.allclose(logits[:, :10], dense[:, :10])


def test_batches_and_training_mode_do_not_change_the_features(digits):
    model, data = digits
    x = data.val_x[:40]
    whole = extract_features(model, x, "dense_1", batch_size=256)
    model.train()  # the dropout before dense_1 would change its outputs if extraction stayed in training mode
    try:
        seen = []
        in_batches = extract_features(model, x, "dense_1", batch_size=7,
                                      progress=lambda done, total: seen.append((done, total)))
        assert model.training  # restored
    finally:
        model.eval()
    np.testing.assert_allclose(in_batches, whole, rtol=1e-5, atol=1e-6)
    assert seen[-1] == (40, 40) and len(seen) == 6


def test_unknown_layer_is_an_error_listing_the_layers(digits):
    model, data = digits
    message = ("no layer named 'dense_9' in this model; layers with features: input, conv2d, conv2d_1, "
               "max_pooling2d, dense, dense_1")
    with pytest.raises(AnalysisError, match=message):
        extract_features(model, data.val_x[:4], "dense_9")
