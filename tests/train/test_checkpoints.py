"""Weights files: atomic writes, exact reloads, clear errors; batched prediction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import blobs, cnn, images, mlp, settings

from studio.core.errors import StudioError
from studio.train import Trainer, TrainingError, load_weights, predict, save_weights


def test_saved_weights_reload_and_predict_the_same(tmp_path):
    data = blobs()
    model = mlp()
    Trainer(model, data, settings(epochs=2)).fit()
    save_weights(model, tmp_path / "w.safetensors")
    fresh = mlp(seed=42)
    load_weights(fresh, tmp_path / "w.safetensors")
    ours = predict(model, data.val_x, output_activation="softmax", batch_size=7)
    theirs = predict(fresh, data.val_x, output_activation="softmax", batch_size=1000)
    assert isinstance(ours, np.ndarray) and ours.shape == (60, 3)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-5)


def test_channels_last_weights_save_and_predict(tmp_path):
    data = images()
    model = cnn()
    Trainer(model, data, settings(epochs=1, channels_last=True)).fit()
    save_weights(model, tmp_path / "cnn.safetensors")
    fresh = cnn(seed=3)
    load_weights(fresh, tmp_path / "cnn.safetensors")
    np.testing.assert_allclose(predict(model, data.val_x), predict(fresh, data.val_x), atol=1e-5)


def test_save_replaces_atomically_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(mlp(seed=1), path)
    save_weights(mlp(seed=2), path)
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]
    model = mlp(seed=5)
    load_weights(model, path)
    assert torch.equal(model[0].weight, mlp(seed=2)[0].weight)


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    save_weights(mlp(seed=1), path)
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr("os.replace", disk_full)
    with pytest.raises(StudioError, match="no space left on device; the previous file is unchanged"):
        save_weights(mlp(seed=2), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


def test_weights_of_another_model_are_a_clear_error(tmp_path):
    save_weights(mlp(hidden=8), tmp_path / "w.safetensors")
    with pytest.raises(TrainingError, match="different shapes"):
        load_weights(mlp(hidden=16), tmp_path / "w.safetensors")
    with pytest.raises(TrainingError, match="does not exist"):
        load_weights(mlp(), tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a weights file")
    with pytest.raises(TrainingError, match="cannot be read"):
        load_weights(mlp(), tmp_path / "junk.safetensors")


def test_predict_restores_training_mode_and_takes_numpy():
    model = mlp(outputs=1, dropout=0.5)
    model.train()
    x = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    first = predict(model, x, output_activation="sigmoid", batch_size=3)
    second = predict(model, torch.from_numpy(x), output_activation="sigmoid")
    assert model.training
    np.testing.assert_array_equal(first, second)  # eval mode: dropout off, so repeatable
    assert ((first > 0) & (first < 1)).all() and first.shape == (10, 1)
    assert predict(model, x[:0]).shape == (0,)
