"""Generated datasets hold what they promise: the label is in the data, and only where it should be."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from studio.data import SHAPE_NAMES, DataError, load_dataset
from studio.data.shapes import balanced_labels, render_shapes


def all_samples(data):
    return torch.cat([data.train_x, data.val_x]), torch.cat([data.train_y, data.val_y])


@pytest.mark.parametrize("encoding", ["one_hot", "float"])
def test_memory_label_is_the_flagged_symbol_in_the_first_steps(encoding):
    data = load_dataset("memory", {"n_samples": 400, "steps": 40, "classes": 4, "cue_window": 5,
                                   "encoding": encoding})
    x, y = all_samples(data)
    marker = x[:, :, -1]
    assert torch.equal(marker.sum(1), torch.ones(len(x)))  # exactly one flagged step
    cue_at = marker.argmax(1)
    assert cue_at.max() < 5 and len(torch.unique(cue_at)) == 5
    symbol_at_cue = x[torch.arange(len(x)), cue_at, :-1]
    if encoding == "one_hot":
        assert torch.equal(symbol_at_cue.argmax(1), y)
    else:
        assert torch.allclose(symbol_at_cue[:, 0], -1 + 2 * y.float() / 3)


def test_memory_steps_after_the_cue_carry_no_information():
    data = load_dataset("memory", {"n_samples": 2000, "steps": 50, "classes": 4})
    x, y = all_samples(data)
    # The most frequent symbol after the cue window guesses the label no better than chance.
    majority = x[:, 5:, :-1].sum(1).argmax(1)
    assert (majority == y).float().mean() < 0.32


def test_memory_sequence_must_outlast_the_cue_window():
    with pytest.raises(DataError, match="setting 'steps': must be longer than cue_window"):
        load_dataset("memory", {"steps": 5, "cue_window": 5})


def test_tokens_label_is_the_most_frequent_marker():
    data = load_dataset("tokens", {"n_samples": 500, "steps": 24, "classes": 3, "vocab_size": 20})
    x, y = all_samples(data)
    assert x.min() >= 1 and x.max() <= 19  # 0 stays free for padding
    counts = torch.stack([(x == marker).sum(1) for marker in (1, 2, 3)], dim=1)
    top2 = counts.topk(2, dim=1).values
    assert torch.all(top2[:, 0] > top2[:, 1])  # never a tie
    assert torch.equal(counts.argmax(1), y)
    assert data.info.vocab_size == 20 and len(torch.unique(x)) == 19


@pytest.mark.parametrize(("settings", "field"), [
    ({"classes": 5, "vocab_size": 6}, "vocab_size"),
    ({"classes": 5, "steps": 11}, "steps"),
])
def test_tokens_settings_that_cannot_work_are_refused(settings, field):
    with pytest.raises(DataError) as caught:
        load_dataset("tokens", settings)
    assert caught.value.setting == field


def test_sine_target_continues_the_wave():
    data = load_dataset("sine", {"n_samples": 50, "steps": 10, "noise": 0.0})
    x, y = all_samples(data)
    seq = x[:, :, 0].double()
    # A sampled sine obeys x[t+1] + x[t-1] = c * x[t]; fit c per sequence, then extrapolate one step.
    c = ((seq[:, 2:] + seq[:, :-2]) * seq[:, 1:-1]).sum(1) / (seq[:, 1:-1] ** 2).sum(1)
    predicted = c * seq[:, -1] - seq[:, -2]
    assert torch.allclose(predicted.float(), y[:, 0], atol=1e-4)


def test_sine_noise_is_on_the_inputs_only():
    clean = load_dataset("sine", {"n_samples": 50, "noise": 0.0})
    noisy = load_dataset("sine", {"n_samples": 50, "noise": 0.3})
    assert torch.equal(clean.train_y, noisy.train_y)
    assert 0.2 < (noisy.train_x - clean.train_x).std() < 0.4


def test_shapes_are_drawn_inside_the_image_with_their_own_outline():
    rng = np.random.default_rng(0)
    labels = balanced_labels(120, len(SHAPE_NAMES), rng)
    images = render_shapes(labels, height=40, width=40, channels=3, noise=0.0, rng=rng)
    ring = SHAPE_NAMES.index("ring")
    for image, label in zip(images, labels, strict=True):
        background = image[:, 0, 0]
        shape = np.abs(image - background[:, None, None]).sum(0) > 1e-6
        assert not shape[0].any() and not shape[-1].any() and not shape[:, 0].any() and not shape[:, -1].any()
        assert 0.02 < shape.mean() < 0.6
        rows, cols = np.nonzero(shape)
        centre_is_drawn = shape[round(rows.mean()), round(cols.mean())]
        assert centre_is_drawn == (label != ring), SHAPE_NAMES[label]


def test_shapes_have_balanced_classes_and_follow_the_channels_setting():
    data = load_dataset("shapes", {"n_samples": 100, "classes": 2, "image_size": [16, 16], "channels": "1",
                                   "validation_split": 0.0})
    assert data.info.class_names == ["circle", "square"] and data.train_x.shape == (100, 1, 16, 16)
    assert torch.bincount(data.train_y).tolist() == [50, 50]
    auto = load_dataset("shapes", {"n_samples": 20, "image_size": [0, 0]}, input_shape=(1, 12, 10))
    assert auto.train_x.shape[1:] == (1, 12, 10)


def test_shapes_at_150_pixels_are_generated_fast():
    start = time.perf_counter()
    images = render_shapes(np.arange(500) % 2, height=150, width=150, channels=3, noise=0.1,
                           rng=np.random.default_rng(0))
    elapsed = time.perf_counter() - start
    assert images.shape == (500, 3, 150, 150) and images.dtype == np.float32
    assert elapsed < 3.0, f"500 images of 150x150 took {elapsed:.2f} s"


def test_circles_inner_ring_is_scaled_by_the_factor():
    data = load_dataset("circles", {"n_samples": 400, "noise": 0.0, "factor": 0.3, "validation_split": 0.0})
    radius = data.train_x.norm(dim=1)
    assert torch.allclose(radius[data.train_y == 0], torch.tensor(1.0), atol=1e-5)
    assert torch.allclose(radius[data.train_y == 1], torch.tensor(0.3), atol=1e-5)


def test_spiral_arms_are_interleaved_and_within_the_unit_disc():
    data = load_dataset("spirals", {"n_samples": 300, "classes": 3, "noise": 0.0})
    x, y = all_samples(data)
    assert x.norm(dim=1).max() <= 1.0 + 1e-6
    assert torch.bincount(y).tolist() == [100, 100, 100]
    # With no noise, a point's angle minus its arm's offset is turns * 2 pi * radius.
    angle = torch.atan2(x[:, 1], x[:, 0]).double() - y.double() * 2 * torch.pi / 3
    expected = x.norm(dim=1).double() * 2 * torch.pi
    assert torch.allclose(torch.remainder(angle - expected + 1, 2 * torch.pi), torch.tensor(1.0).double(),
                          atol=1e-4)
