"""The training engine: Trainer, callbacks, optimizers, losses, schedules, checkpoints.

Never imports Qt. Importing this package does not import torch: the names below load their module
on first use, so a window can open while torch is still importing.

    from studio.train import Trainer, KerasProgress
    result = Trainer(model, data, settings, callbacks=[KerasProgress()]).fit()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from studio.train.callbacks import Callback
from studio.train.errors import TrainingError
from studio.train.predict import predict
from studio.train.progress import KerasProgress
from studio.train.record import RunResult

if TYPE_CHECKING:
    from studio.train.checkpoints import load_weights, save_weights
    from studio.train.devices import device_choices, resolve_device
    from studio.train.losses import Objective, resolve_objective
    from studio.train.trainer import Trainer

# Names whose modules import torch, and where they live.
_LAZY = {
    "Trainer": "studio.train.trainer",
    "save_weights": "studio.train.checkpoints",
    "load_weights": "studio.train.checkpoints",
    "device_choices": "studio.train.devices",
    "resolve_device": "studio.train.devices",
    "Objective": "studio.train.losses",
    "resolve_objective": "studio.train.losses",
}

__all__ = ["Callback", "KerasProgress", "Objective", "RunResult", "Trainer", "TrainingError",
           "device_choices", "load_weights", "predict", "resolve_device", "resolve_objective", "save_weights"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'studio.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
