"""Shared fixtures: tiny in-memory datasets shaped like `studio.data`'s LoadedData, and tiny models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn


@dataclass
class Info:
    task: str
    class_names: list[str]
    num_outputs: int
    input_shape: tuple[int, ...]


@dataclass
class Data:
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    info: Info
    augment: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None)


def blobs(classes: int = 3, n: int = 240, features: int = 4, seed: int = 0) -> Data:
    """Well separated Gaussian blobs: a problem a small MLP learns in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, features, generator=g) * 3
    y = torch.randint(0, classes, (n,), generator=g)
    x = centres[y] + torch.randn(n, features, generator=g)
    cut = n * 3 // 4
    info = Info("classification", [f"c{i}" for i in range(classes)], classes, (features,))
    return Data(x[:cut], y[:cut], x[cut:], y[cut:], info)


def regression(n: int = 200, features: int = 3, outputs: int = 2, seed: int = 0) -> Data:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    w = torch.randn(features, outputs, generator=g)
    y = x @ w + 0.05 * torch.randn(n, outputs, generator=g)
    cut = n * 3 // 4
    info = Info("regression", [], outputs, (features,))
    return Data(x[:cut], y[:cut], x[cut:], y[cut:], info)


def images(n: int = 48, classes: int = 2, seed: int = 0) -> Data:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = torch.rand(n, 3, 8, 8, generator=g) + y.view(-1, 1, 1, 1).float()
    cut = n * 3 // 4
    info = Info("classification", [f"c{i}" for i in range(classes)], classes, (3, 8, 8))
    return Data(x[:cut], y[:cut], x[cut:], y[cut:], info)


def mlp(features: int = 4, outputs: int = 3, hidden: int = 16, seed: int = 0, dropout: float = 0.0,
        final: nn.Module | None = None) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(features, hidden), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, outputs))
    if final is not None:
        layers.append(final)
    return nn.Sequential(*layers)


def cnn(classes: int = 2, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, classes))


def settings(**overrides) -> dict:
    """Small, fast settings on the CPU; tests override what they exercise."""
    base = {"epochs": 3, "batch_size": 16, "learning_rate": 0.05, "device": "cpu", "seed": 1,
            "threads": 1, "grad_norm_every": 0}
    base.update(overrides)
    return base


def history_values(result, keys=("loss", "val_loss", "lr")) -> list[list[float]]:
    """The numbers of a run's epochs that must repeat exactly (not the timings)."""
    metric = result.metric
    keys = (*keys, metric, f"val_{metric}")
    return [[e[k] for k in keys] for e in result.epochs]


class StopAt:
    """Stops `trainer` (set after construction) at an epoch and batch (batch None: at the epoch's end)."""

    def __init__(self, epoch: int, batch: int | None = None):
        self.epoch, self.batch, self.trainer = epoch, batch, None

    def on_batch_end(self, info):
        if self.batch is not None and (info["epoch"], info["batch"]) == (self.epoch, self.batch):
            self.trainer.stop()

    def on_epoch_end(self, info):
        if self.batch is None and info["epoch"] == self.epoch:
            self.trainer.stop()


class Recorder:
    """A callback that keeps every info it receives, by event."""

    def __init__(self):
        self.events: dict[str, list[dict]] = {}

    def __getattr__(self, name):
        if not name.startswith("on_"):
            raise AttributeError(name)
        return lambda info: self.events.setdefault(name, []).append(info)

    def __getitem__(self, event: str) -> list[dict]:
        return self.events.get(event, [])


@pytest.fixture
def tmp_ckpt(tmp_path):
    return tmp_path / "run"
