"""Device choice: auto falls back to the CPU; a device that is not there is a clear error."""

from __future__ import annotations

import pytest
import torch
from conftest import blobs, mlp, settings

from studio.train import Trainer, TrainingError, device_choices, resolve_device


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_auto_is_the_cpu_without_a_gpu(no_gpu):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert device_choices() == [("cpu", device_choices()[0][1])]
    assert device_choices()[-1][1].startswith("CPU")


@pytest.mark.parametrize("name,match", [("cuda", "CUDA was asked for"), ("cuda:1", "CUDA was asked for"),
                                        ("mps", "Apple GPU"), ("tpu", "unknown device")])
def test_missing_device_is_a_training_error(no_gpu, name, match):
    with pytest.raises(TrainingError, match=match) as info:
        resolve_device(name)
    assert info.value.setting == "device"


def test_trainer_refuses_cuda_where_there_is_none(no_gpu):
    with pytest.raises(TrainingError, match="choose 'auto' or 'cpu'"):
        Trainer(mlp(), blobs(), settings(device="cuda"))


def test_gpu_index_beyond_the_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(TrainingError, match="no GPU cuda:3"):
        resolve_device("cuda:3")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_run_with_mixed_precision_and_channels_last():
    from conftest import cnn, images

    model = cnn()
    result = Trainer(model, images(), settings(device="cuda", epochs=2, mixed_precision=True,
                                               grad_norm_every=1)).fit()
    assert result.status == "completed", result.message
    assert result.device.startswith("cuda") and len(result.batch_loss) == 2 * 3
