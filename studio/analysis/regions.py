"""Decision regions of a classifier on 2-D points: its prediction at every point of a grid."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from studio.analysis import AnalysisError
from studio.analysis.evaluation import class_probabilities, predicted_classes

if TYPE_CHECKING:
    from studio.core.build import GraphModule
    from studio.data import LoadedData


class DecisionGrid(NamedTuple):
    xs: np.ndarray  # (resolution,) grid columns, in the coordinates of the data's samples
    ys: np.ndarray  # (resolution,) grid rows
    classes: np.ndarray  # (resolution, resolution) predicted class at (ys[i], xs[j])
    probabilities: np.ndarray  # (resolution, resolution, classes); a sigmoid model has [1 - p, p]


def decision_grid(model: GraphModule, data: LoadedData, resolution: int = 100, *,
                  margin: float = 0.1) -> DecisionGrid:
    """The model's prediction on a `resolution` x `resolution` grid covering every sample.

    The grid spans the training and validation points plus `margin` (a share of each axis' range) on
    every side, in the coordinates the model sees: the data's own, which are standardised only if
    the dataset standardised them (the generated point sets are not).
    """
    from studio.train.predict import predict

    if data.info.input_shape != (2,) or data.info.task != "classification":
        raise AnalysisError(f"decision regions need a classifier of 2-D points; dataset '{data.info.name}' "
                            f"has samples of shape {data.info.input_shape} ({data.info.task})")
    if resolution < 2:
        raise AnalysisError(f"the grid needs a resolution of at least 2, got {resolution}")
    points = np.concatenate([data.train_x.numpy(), data.val_x.numpy()])
    low, high = points.min(axis=0), points.max(axis=0)
    pad = np.maximum(high - low, 1e-6) * margin
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution, dtype=np.float32)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution, dtype=np.float32)
    grid_x, grid_y = np.meshgrid(xs, ys)
    samples = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    outputs = predict(model, samples, output_activation=model.output_activation, batch_size=4096)
    shape = (resolution, resolution)
    return DecisionGrid(xs, ys, predicted_classes(outputs).reshape(shape),
                        class_probabilities(outputs).reshape(*shape, -1))
