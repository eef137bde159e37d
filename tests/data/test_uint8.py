"""Byte images stay uint8 in memory and become the model's float input batch by batch, on the device."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from studio.analysis.features import extract_features
from studio.analysis.images import image_batch
from studio.core.pixels import PIXEL_SCALE, model_input
from studio.core.project import load_project
from studio.data import LoadedData, load_dataset, write_image_folder
from studio.data import image_folder as image_folder_module
from studio.runs import build_for_training, load_project_data
from studio.train import Trainer, predict
from studio.train import trainer as trainer_module

PROJECTS = Path(__file__).resolve().parents[2] / "projects"
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                 reason="needs a CUDA device"))]


def old_unit_float(pixels: np.ndarray) -> np.ndarray:
    """How image datasets used to hold their pixels: float32 0..1, scaled when loaded."""
    out = pixels.astype(np.float32)
    out *= np.float32(1 / 255)
    return out


def folder(shapes_folder: Path, **settings) -> LoadedData:
    return load_dataset("image_folder", {"path": str(shapes_folder), "image_size": [24, 24], **settings})


def converted_up_front(data: LoadedData) -> LoadedData:
    """The same data with every image scaled to float32 at once, as it was held before."""
    return dataclasses.replace(data, train_x=model_input(data.train_x), val_x=model_input(data.val_x))


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                         nn.Linear(16, 2))


def digits_project(dataset: dict | None = None, classes: int = 10):
    """The digits CNN project, optionally on another dataset of 1x8x8 images with `classes` classes."""
    project = load_project(PROJECTS / "digits_cnn.studio")
    if dataset is not None:
        project.dataset = dataset
        output = project.graph.node_by_name("dense_1")
        project.graph.set_params(output.id, {"units": classes})
    return project


def train_twice(project, device: str = "cpu") -> list[tuple[LoadedData, object, object]]:
    """(data, model, result) trained with the same seed on the data as held and converted up front."""
    data = load_project_data(project)
    settings = {**project.training, "epochs": 2, "batch_size": 16, "device": device, "threads": 1,
                "grad_norm_every": 0}
    runs = []
    for held in (data, converted_up_front(data)):
        model = build_for_training(project, seed=3)
        runs.append((held, model, Trainer(model, held, settings).fit()))
    return runs


def curves(result) -> tuple[list[float], list[list[float]]]:
    metric = result.metric
    return result.batch_loss, [[e[k] for k in ("loss", "val_loss", metric, f"val_{metric}")]
                               for e in result.epochs]


def assert_same_evaluation(runs, tolerance: float) -> None:
    """Same curves, and the trained models predict and give features alike on either data."""
    (data, model, ours), (floats, other, theirs) = runs
    assert ours.status == theirs.status == "completed"
    for mine, reference in zip(curves(ours), curves(theirs), strict=True):
        np.testing.assert_allclose(mine, reference, rtol=tolerance, atol=tolerance)
    np.testing.assert_array_equal(predict(model, data.val_x), predict(model, floats.val_x))
    for layer in (model.input_name, None):  # raw input, then the learned features
        np.testing.assert_array_equal(extract_features(model, data.val_x, layer),
                                      extract_features(model, floats.val_x, layer))
    np.testing.assert_allclose(predict(model, data.val_x), predict(other, floats.val_x), rtol=tolerance,
                               atol=max(tolerance, 1e-6))


def test_image_datasets_are_uint8_and_a_quarter_of_float32(shapes_folder, fake_mnist):
    loaded = {"image_folder": folder(shapes_folder),
              "shapes": load_dataset("shapes", {"n_samples": 40, "image_size": [16, 16]}),
              "mnist": load_dataset("mnist", {"root": str(fake_mnist())})}
    for name, data in loaded.items():
        for x in (data.train_x, data.val_x):
            assert x.dtype == torch.uint8, name
            assert x.nbytes * 4 == model_input(x).nbytes == x.numel() * 4, name
    pixels = loaded["image_folder"].train_x
    assert int(pixels.max()) > 1  # bytes 0..255, not 0..1 stored as bytes


def test_datasets_that_are_not_byte_pixels_keep_their_dtype():
    digits = load_dataset("digits", {})  # 0..16 in the source, scaled by 1/16: not bytes
    assert digits.train_x.dtype == torch.float32 and float(digits.train_x.max()) == 1.0
    assert load_dataset("iris", {}).train_x.dtype == torch.float32
    assert load_dataset("tokens", {"n_samples": 40}).train_x.dtype == torch.int64
    floats = digits.train_x[:4]
    assert model_input(floats) is floats  # passed through untouched


@pytest.mark.parametrize("device", DEVICES)
def test_a_batch_converted_on_the_device_equals_the_old_float_values(device):
    every_byte = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    on_device = model_input(torch.from_numpy(every_byte).to(device))
    assert on_device.device.type == device and on_device.dtype == torch.float32
    old = old_unit_float(every_byte)
    assert np.array_equal(on_device.cpu().numpy(), old)  # bit for bit, not only close
    np.testing.assert_allclose(old, every_byte / 255, rtol=1e-6)  # and that is x / 255 in float32
    assert float(PIXEL_SCALE) == float(np.float32(1 / 255))


def test_the_decoded_folder_cache_holds_uint8(shapes_folder):
    data = folder(shapes_folder)
    (decoded,) = image_folder_module._cache.values()
    assert decoded.images.dtype == np.uint8 and decoded.images.shape == (24, 3, 24, 24)
    assert decoded.images.nbytes == (data.num_train + data.num_val) * 3 * 24 * 24
    held = torch.cat([data.train_x, data.val_x]).flatten(1)
    cached = torch.from_numpy(decoded.images).flatten(1)
    assert torch.equal(torch.sort(held, 0)[0], torch.sort(cached, 0)[0])  # the same pixels, split


@pytest.mark.timeout(180)
@pytest.mark.parametrize("device", DEVICES)
def test_an_image_folder_trains_and_evaluates_as_if_converted_up_front(tmp_path, device, monkeypatch):
    sizes = []
    fits = trainer_module._fits_on_device

    def recording(where: torch.device, size: int) -> bool:
        sizes.append(size)
        return fits(where, size)

    monkeypatch.setattr(trainer_module, "_fits_on_device", recording)
    pets = write_image_folder(tmp_path / "pets", per_class=24, size=8, seed=3)
    project = digits_project({"name": "image_folder", "settings": {
        "path": str(pets), "image_size": [8, 8], "channels": "1", "augment_flip": True}}, classes=2)
    runs = train_twice(project, device)
    data, floats = runs[0][0], runs[1][0]
    assert data.train_x.dtype == torch.uint8 and floats.train_x.dtype == torch.float32
    # The GPU's kernels need not repeat bit for bit; on the CPU the runs are the same.
    assert_same_evaluation(runs, 0.0 if device == "cpu" else 1e-4)
    # The data goes to the device as it is held: the size check counts uint8 bytes plus int64 targets.
    targets = (data.num_train + data.num_val) * 8
    assert sizes == [data.train_x.nbytes + data.val_x.nbytes + targets,
                     floats.train_x.nbytes + floats.val_x.nbytes + targets]
    assert sizes[1] - targets == 4 * (sizes[0] - targets)


@pytest.mark.timeout(180)
def test_the_digits_project_trains_and_evaluates_as_before():
    runs = train_twice(digits_project())
    assert runs[0][0].train_x.dtype == torch.float32  # digits are not byte pixels: nothing to convert
    assert_same_evaluation(runs, 0.0)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_digits_project_still_reaches_97_percent():
    project = digits_project()
    model = build_for_training(project, seed=0)
    settings = {**project.training, "device": "cpu", "grad_norm_every": 0}
    result = Trainer(model, load_project_data(project), settings).fit()
    assert result.status == "completed" and result.epochs[-1]["val_accuracy"] >= 0.97


@pytest.mark.parametrize("device", DEVICES)
def test_the_trainer_places_uint8_data_on_its_device(shapes_folder, device):
    data = folder(shapes_folder)
    trainer = Trainer(small_cnn(), data, {"epochs": 1, "device": device, "threads": 1, "grad_norm_every": 0})
    trainer.fit()
    assert trainer._train_x.dtype == trainer._val_x.dtype == torch.uint8
    assert trainer._train_x.device.type == device


def test_image_files_to_predict_are_the_pixels_training_saw(shapes_folder):
    data = folder(shapes_folder)
    files = sorted((shapes_folder / "validation").rglob("*.png"))
    batch = image_batch(files, (3, 24, 24))
    assert batch.dtype == np.uint8
    held = {x.numpy().tobytes() for x in data.val_x}
    assert {image.tobytes() for image in batch} == held
