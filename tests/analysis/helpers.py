"""Small stand-ins and example projects for the analysis tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from studio.core.project import load_project
from studio.data import DatasetInfo, LoadedData

PROJECTS = Path(__file__).resolve().parents[2] / "projects"


def copy_project(name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(PROJECTS / f"{name}.studio", folder / f"{name}.studio"))


def built(project_name: str) -> tuple[nn.Module, LoadedData]:
    """An example project's model with fresh weights (eval mode, logits out) and its data."""
    from studio.runs import build_for_training, load_project_data

    project = load_project(PROJECTS / f"{project_name}.studio")
    return build_for_training(project, seed=0).eval(), load_project_data(project)


class FixedOutputs(nn.Module):
    """A stand-in model: sample i (its only input value is i) gets row i of `outputs`."""

    def __init__(self, outputs: list[list[float]], output_activation: str | None):
        super().__init__()
        self.register_buffer("outputs", torch.tensor(outputs, dtype=torch.float32))
        self.output_activation = output_activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outputs[x[:, 0].long()]


def labelled(targets: list, class_names: list[str]) -> LoadedData:
    """Data whose validation sample i is the single value i; no class names means regression."""
    n = len(targets)
    x = torch.arange(n, dtype=torch.float32).reshape(n, 1)
    if class_names:
        y, task = torch.tensor(targets, dtype=torch.int64), "classification"
    else:
        y, task = torch.tensor(targets, dtype=torch.float32).reshape(n, -1), "regression"
    info = DatasetInfo(name="fixed", input_shape=(1,), task=task, class_names=class_names,
                       num_outputs=len(class_names) or y.shape[1], sample_kind="row")
    return LoadedData(x, y, x, y, info)


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))
