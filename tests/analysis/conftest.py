"""Fixtures for the analysis tests: one example project trained for real, once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from studio.core.project import Project, load_project
from studio.data import LoadedData

from .helpers import copy_project

DIGITS_EPOCHS = 5  # enough for the learned features to separate the digits (purity > 0.9 for seeds 0-2)


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """The machines these tests run on are shared; one thread keeps the load predictable."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass
class Trained:
    path: Path
    project: Project
    record: dict
    model: nn.Module
    data: LoadedData


@pytest.fixture(scope="session")
def trained_digits(tmp_path_factory) -> Trained:
    """The digits CNN trained for a few epochs with its own settings (seed 0)."""
    from studio.runs import latest_trained_run, load_trained_model, prepare_training

    path = copy_project("digits_cnn", tmp_path_factory.mktemp("digits"))
    project = load_project(path)
    job = prepare_training(project, overrides={"epochs": DIGITS_EPOCHS, "threads": 1})
    job.run()
    record = latest_trained_run(project)
    return Trained(path, project, record, load_trained_model(project, record), job.data)


@pytest.fixture
def untrained_moons(tmp_path) -> Path:
    """A copy of the moons example that has never been trained."""
    return copy_project("moons_mlp", tmp_path / "moons")
