"""Generated 2-D point clouds: small classification problems whose decision boundary can be drawn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from studio.core.params import Param, params
from studio.data.assemble import split_and_assemble
from studio.data.base import DatasetInfo, DatasetSpec, LoadContext, LoadedData
from studio.data.registry import register
from studio.data.settings import SPLIT_SETTINGS, classes_setting, n_samples_setting, noise_setting

# generate(settings) -> (points (N, 2), labels (N,), class names)
Generator = Callable[[dict[str, Any]], tuple[np.ndarray, np.ndarray, list[str]]]


def _moons(s: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=s["n_samples"], noise=s["noise"], random_state=s["seed"])
    return x, y, ["upper moon", "lower moon"]


def _circles(s: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from sklearn.datasets import make_circles

    x, y = make_circles(n_samples=s["n_samples"], noise=s["noise"], factor=s["factor"],
                        random_state=s["seed"])
    return x, y, ["outer circle", "inner circle"]


def _blobs(s: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=s["n_samples"], centers=s["classes"], cluster_std=s["spread"],
                      random_state=s["seed"])
    return x, y, [f"blob {i}" for i in range(s["classes"])]


def _spirals(s: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Interleaved spiral arms from the centre outwards, one class per arm."""
    rng = np.random.default_rng(s["seed"])
    arms, n = s["classes"], s["n_samples"]
    y = np.arange(n) % arms
    t = rng.uniform(0.0, 1.0, n)  # position along the arm: 0 at the centre, 1 at the tip
    angle = t * s["turns"] * 2 * np.pi + y * (2 * np.pi / arms)
    angle += rng.normal(0.0, s["noise"], n)
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return x, y, [f"arm {i}" for i in range(arms)]


def _loader(name: str, generate: Generator):
    def load(settings: dict[str, Any], _context: LoadContext) -> LoadedData:
        x, y, class_names = generate(settings)
        info = DatasetInfo(name=name, input_shape=(2,), task="classification", class_names=class_names,
                           num_outputs=len(class_names), sample_kind="points", feature_names=["x", "y"],
                           source="generated")
        return split_and_assemble(x, y, info, settings)

    return load


for _name, _title, _description, _extra, _generate in (
    ("moons", "Two moons", "Two interleaving half circles.",
     (noise_setting(0.1, "Std of Gaussian noise added to each point."),), _moons),
    ("circles", "Circles", "A small circle inside a large one.",
     (noise_setting(0.05, "Std of Gaussian noise added to each point."),
      Param("factor", "float", 0.5, "Radius of the inner circle relative to the outer one.",
            minimum=0.05, maximum=0.95)), _circles),
    ("spirals", "Spirals", "Interleaved spiral arms, one class per arm.",
     (classes_setting(3, "Number of spiral arms (classes)."),
      Param("turns", "float", 1.0, "How many times each arm winds around the centre.",
            minimum=0.25, maximum=5.0),
      noise_setting(0.2, "Std of the angular noise (radians) added to each point.")), _spirals),
    ("blobs", "Blobs", "Gaussian clusters around random centres, one class per cluster.",
     (classes_setting(3, "Number of clusters (classes)."),
      Param("spread", "float", 1.0, "Std of each cluster.", minimum=0.01, maximum=20.0)), _blobs),
):
    register(DatasetSpec(
        name=_name, title=_title, category="generated", description=_description,
        settings=params(n_samples_setting(500), _extra, SPLIT_SETTINGS), loader=_loader(_name, _generate)))
