"""Predictions for image files, each read and resized exactly as the image-folder dataset does, and held
as the same uint8 pixels, so `predict` scales them as training did."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.analysis import AnalysisError
from studio.analysis.evaluation import class_probabilities

if TYPE_CHECKING:
    from studio.core.project import Project
    from studio.core.shapes import TensorShape

Ranking = list[tuple[str, float]]  # (class name, probability), most probable first


def image_batch(paths: Sequence[str | os.PathLike], shape: Sequence[int]) -> np.ndarray:
    """The files as one (N, C, H, W) uint8 batch, as the image datasets hold their samples; a file that is
    no image is a DataError.

    A named pipe or a device among `paths` is refused at once, never waited on."""
    from studio.data.image_folder import read_image

    if not paths:
        raise AnalysisError("no image files given")
    channels, height, width = shape
    if channels not in (1, 3):
        raise AnalysisError(f"the model takes images with {channels} channels; image files give 1 (grey) or "
                            "3 (colour)")
    return np.stack([read_image(path, channels, height, width) for path in paths])


def predict_images(project: Project, run: Mapping[str, Any] | str | None,
                   paths: Sequence[str | os.PathLike]) -> list[tuple[str, Ranking]]:
    """For each file, every class with its probability, most probable first.

    `run` is a run record, a run id, or None for the latest trained run.
    """
    from studio.runs import input_shape, latest_trained_run, load_project_data, load_trained_model
    from studio.train.predict import predict

    model_input = input_shape(project)
    if model_input.rank != 3:
        raise AnalysisError(f"the model's Input takes {_kind(model_input)}, not images")
    record = run if isinstance(run, Mapping) else latest_trained_run(project, run)
    model = load_trained_model(project, record)
    batch = image_batch(paths, model_input.dims)
    info = load_project_data(project).info  # the class names (and a check that model and data agree)
    if info.task != "classification":
        raise AnalysisError(f"the model predicts values ({info.name} is a regression dataset), not classes")
    probabilities = class_probabilities(predict(model, batch, output_activation=model.output_activation))
    results = []
    for path, row in zip(paths, probabilities, strict=True):
        order = np.argsort(-row, kind="stable")
        results.append((str(path), [(info.class_names[i], float(row[i])) for i in order]))
    return results


def _kind(shape: TensorShape) -> str:
    return "token ids" if shape.is_tokens else "feature vectors" if shape.rank == 1 else "sequences"
