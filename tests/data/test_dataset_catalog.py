"""The catalog as a whole: registry rules, settings validation, shapes and dtypes, splits, seeds."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from studio.core.params import params
from studio.data import (
    DataError,
    DatasetSpec,
    all_dataset_specs,
    get_dataset_spec,
    load_dataset,
    register,
)
from studio.data.base import CATEGORIES

# Datasets that load without any file: (name, small settings, input shape, classes or regression outputs)
IN_MEMORY = [
    ("digits", {}, (1, 8, 8), 10),
    ("iris", {}, (4,), 3),
    ("wine", {}, (13,), 3),
    ("breast_cancer", {}, (30,), 2),
    ("moons", {}, (2,), 2),
    ("circles", {}, (2,), 2),
    ("spirals", {"classes": 4}, (2,), 4),
    ("blobs", {"classes": 5}, (2,), 5),
    ("shapes", {"n_samples": 60, "classes": 4, "image_size": [20, 30]}, (3, 20, 30), 4),
    ("sine", {"n_samples": 100, "steps": 12}, (12, 1), 1),
    ("memory", {"n_samples": 100, "steps": 30, "classes": 3}, (30, 4), 3),  # 3 symbols + marker
    ("tokens", {"n_samples": 100, "steps": 16, "vocab_size": 30}, (16,), 3),
]
SAMPLE_KIND = {"digits": "image", "shapes": "image", "iris": "row", "wine": "row", "breast_cancer": "row",
               "moons": "points", "circles": "points", "spirals": "points", "blobs": "points",
               "sine": "sequence", "memory": "sequence", "tokens": "tokens"}
# Byte images stay bytes; digits (0..16 in the source) are scaled floats; the rest keep float32.
X_DTYPE = {"shapes": torch.uint8, "tokens": torch.int64}


def test_every_dataset_of_the_brief_is_registered():
    names = {spec.name for spec in all_dataset_specs()}
    assert names >= {"digits", "iris", "wine", "breast_cancer", "moons", "circles", "spirals", "blobs",
                     "shapes", "sine", "memory", "tokens", "image_folder", "csv", "mnist", "fashion_mnist",
                     "cifar10"}


def test_specs_are_grouped_by_category_and_described():
    specs = all_dataset_specs()
    order = [CATEGORIES.index(spec.category) for spec in specs]
    assert order == sorted(order)
    for spec in specs:
        assert spec.title and spec.description and "\n" not in spec.description
        assert "seed" in spec.settings.names()


def test_registering_a_name_twice_is_an_error():
    spec = get_dataset_spec("iris")
    with pytest.raises(ValueError, match="iris"):
        register(DatasetSpec(name="iris", title="x", category="built-in", description="x",
                             settings=params(), loader=spec.loader))


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(DataError, match="dataset 'nope'.*known datasets: .*iris"):
        load_dataset("nope", {})


@pytest.mark.parametrize(("settings", "field", "words"), [
    ({"colour": 3}, "colour", "unknown setting"),
    ({"validation_split": 0.95}, "validation_split", "at most 0.9"),
    ({"seed": "abc"}, "seed", "whole number"),
    ({"noise": -1.0}, "noise", "at least 0"),
])
def test_bad_settings_name_the_dataset_and_the_field(settings, field, words):
    with pytest.raises(DataError) as caught:
        load_dataset("moons", settings)
    assert caught.value.dataset == "moons" and caught.value.setting == field
    assert f"dataset 'moons', setting '{field}'" in str(caught.value) and words in str(caught.value)


@pytest.mark.parametrize(("name", "settings", "shape", "outputs"), IN_MEMORY, ids=[c[0] for c in IN_MEMORY])
def test_dataset_loads_with_the_declared_shapes_and_dtypes(name, settings, shape, outputs):
    data = load_dataset(name, settings)
    info = data.info
    assert info.name == name and tuple(info.input_shape) == shape and info.num_outputs == outputs
    assert info.sample_kind == SAMPLE_KIND[name]
    assert tuple(data.train_x.shape[1:]) == shape == tuple(data.val_x.shape[1:])
    assert data.train_x.dtype == X_DTYPE.get(name, torch.float32) == data.val_x.dtype
    assert len(data.train_x) == len(data.train_y) and len(data.val_x) == len(data.val_y) > 0
    if info.task == "classification":
        assert data.train_y.dtype == torch.int64 and data.train_y.ndim == 1
        assert len(info.class_names) == outputs
        assert set(data.train_y.tolist()) == set(range(outputs))
    else:
        assert data.train_y.dtype == torch.float32 and tuple(data.train_y.shape[1:]) == (outputs,)
        assert info.class_names == [] and len(info.target_names) == outputs
    assert torch.isfinite(data.train_x.float()).all()


def test_digits_are_images_scaled_to_unit_range():
    data = load_dataset("digits", {})
    assert data.train_x.min() == 0.0 and data.train_x.max() == 1.0
    assert data.num_train + data.num_val == 1797


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer"])
def test_tables_are_standardised_with_the_training_statistics(name):
    data = load_dataset(name, {})
    assert torch.allclose(data.train_x.mean(0), torch.zeros(data.train_x.shape[1]), atol=1e-5)
    assert torch.allclose(data.train_x.std(0, unbiased=False), torch.ones(data.train_x.shape[1]), atol=1e-4)
    # The validation part is scaled with the training statistics, so its mean is not exactly 0.
    assert not torch.allclose(data.val_x.mean(0), torch.zeros(data.val_x.shape[1]), atol=1e-5)
    raw = np.asarray(data.train_x[0]) * data.info.feature_std + np.asarray(data.info.feature_mean)
    assert data.info.sample_text(data.train_x[0]).startswith(f"{data.info.feature_names[0]}={raw[0]:.4g}")


@pytest.mark.parametrize("name", ["moons", "spirals", "shapes", "sine", "memory", "tokens", "iris"])
def test_the_same_seed_gives_the_same_data_and_another_seed_does_not(name):
    small = {"n_samples": 60} if name != "iris" else {}
    first, again = load_dataset(name, {**small, "seed": 5}), load_dataset(name, {**small, "seed": 5})
    other = load_dataset(name, {**small, "seed": 6})
    for a, b in ((first.train_x, again.train_x), (first.train_y, again.train_y), (first.val_x, again.val_x)):
        assert torch.equal(a, b)
    assert not torch.equal(first.train_x, other.train_x)


def test_split_is_stratified_and_every_sample_lands_in_exactly_one_part():
    # blobs with 3 classes of 100: 20 of each class in validation, whatever the seed.
    for seed in (0, 1, 2):
        data = load_dataset("blobs", {"n_samples": 300, "validation_split": 0.2, "seed": seed})
        assert torch.bincount(data.val_y).tolist() == [20, 20, 20]
        assert torch.bincount(data.train_y).tolist() == [80, 80, 80]
        rows = torch.cat([data.train_x, data.val_x])
        assert len(torch.unique(rows, dim=0)) == 300


def test_validation_split_zero_keeps_everything_for_training():
    data = load_dataset("moons", {"n_samples": 50, "validation_split": 0.0})
    assert data.num_train == 50 and data.num_val == 0 and data.val_x.shape == (0, 2)


def test_small_classes_still_reach_the_validation_part():
    data = load_dataset("spirals", {"n_samples": 12, "classes": 6, "validation_split": 0.1})
    assert sorted(data.val_y.tolist()) == [0, 1, 2, 3, 4, 5]
    assert sorted(set(data.train_y.tolist())) == [0, 1, 2, 3, 4, 5]


def test_importing_the_package_does_not_import_torch_or_qt():
    code = ("import sys, studio.data; "
            "print(sorted(m for m in ('torch', 'torchvision', 'sklearn', 'PySide6', 'pyqtgraph') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_sample_image_and_text_for_display():
    shapes = load_dataset("shapes", {"n_samples": 20, "image_size": [16, 16], "channels": "1"})
    picture = shapes.info.sample_image(shapes.train_x[0])
    assert picture.shape == (16, 16, 3) and picture.dtype == np.uint8
    assert np.array_equal(picture[..., 0], picture[..., 2])  # grey repeated into RGB
    assert np.array_equal(picture[..., 0], shapes.train_x[0, 0].numpy())  # pixels shown as they are
    digits = load_dataset("digits", {})  # floats 0..1 are scaled to bytes
    expected = np.clip(digits.train_x[0, 0].numpy() * 255 + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(digits.info.sample_image(digits.train_x[0])[..., 1], expected)
    tokens = load_dataset("tokens", {"n_samples": 20, "steps": 12})
    assert tokens.info.sample_text(tokens.train_x[0], max_items=20).split() == [
        str(v) for v in tokens.train_x[0].tolist()]
    with pytest.raises(ValueError, match="use sample_image"):
        shapes.info.sample_text(shapes.train_x[0])
    with pytest.raises(ValueError, match="not images"):
        tokens.info.sample_image(tokens.train_x[0])


def test_input_layer_settings_describe_an_input_that_fits():
    assert load_dataset("memory", {"n_samples": 20, "steps": 9}).info.input_layer_settings() == {
        "kind": "sequence", "length": 9, "features": 5}
    assert load_dataset("tokens", {"n_samples": 20}).info.input_layer_settings() == {
        "kind": "tokens", "length": 32, "vocab_size": 50}
    assert load_dataset("iris", {}).info.input_layer_settings() == {"kind": "vector", "features": 4}
