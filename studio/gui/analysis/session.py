"""The trained run behind the Results views, loaded and analysed on the worker thread.

A `Session` keeps the model and the data between jobs, so clustering does not load them again. Only
jobs touch it (on the worker thread, one at a time); what its methods return is plain data. Nothing
here imports Qt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.analysis import AnalysisError
from studio.core.errors import StudioError

if TYPE_CHECKING:
    from studio.analysis.clustering import ClusterAnalysis, LayerScores
    from studio.analysis.evaluation import ClassificationReport, RegressionReport
    from studio.analysis.images import Ranking
    from studio.analysis.predictions import Predictions
    from studio.analysis.projection import Method
    from studio.analysis.regions import DecisionGrid
    from studio.core.build import GraphModule
    from studio.core.project import Project
    from studio.data import DatasetInfo, LoadedData

Progress = Callable[[int, int], None]
REGION_RESOLUTION = 200  # grid points per axis: smooth boundaries for 40,000 quick predictions


@dataclass
class RegionsData:
    grid: DecisionGrid
    points: np.ndarray  # (N, 2) training points, then validation points
    labels: np.ndarray  # class of each point
    validation: np.ndarray  # True for the validation points
    predicted: np.ndarray  # predicted class of each point


@dataclass
class RunResults:
    """Everything the Results tabs show first, computed once per loaded run."""

    run_id: str
    info: DatasetInfo
    predictions: Predictions
    # The validation inputs as held (uint8 for byte images, rows read from disk when streamed); row i is
    # predictions row i.
    samples: Any
    layers: list[str]  # layers whose features can be clustered, raw input first
    default_layer: str
    report: ClassificationReport | None
    regression: RegressionReport | None
    regions: RegionsData | None
    regions_note: str  # why there are no decision regions


@dataclass(frozen=True)
class ClusterRequest:
    layer: str
    k: int
    standardize: bool
    projection: Method


@dataclass
class ImagePrediction:
    path: str
    pixels: np.ndarray  # the image as the model saw it, H x W x 3 uint8
    ranking: Ranking  # every class with its probability, most probable first


def trained_runs(project: Project) -> list[dict[str, Any]]:
    """The runs that have weights, newest first."""
    return [r for r in reversed(project.runs) if r.get("weights")]


def describe_run(record: Mapping[str, Any]) -> str:
    """A run in a few words: "run 8dfd88 · 28 Nov 13:39 · 2 epochs · val. accuracy 0.908"."""
    from datetime import datetime

    parts = [f"run {str(record.get('id', '?'))[:6]}"]
    try:
        parts.append(datetime.fromisoformat(str(record.get("started"))).strftime("%d %b %H:%M"))
    except ValueError:
        pass
    epochs = record.get("epochs") or []
    if epochs:
        parts.append(f"{len(epochs)} epoch{'s' if len(epochs) != 1 else ''}")
        accuracy = epochs[-1].get("val_accuracy")
        if accuracy is not None:
            parts.append(f"val. accuracy {accuracy:.3f}")
    return " · ".join(parts)


class Session:
    """The model and data of one run; lives on the worker thread."""

    def __init__(self) -> None:
        self.project: Project | None = None
        self.run: dict[str, Any] | None = None
        self.model: GraphModule | None = None
        self.data: LoadedData | None = None
        self._features: tuple[str, np.ndarray] | None = None  # the last layer's features

    def load(self, project: Project, run_id: str | None, progress: Progress) -> RunResults:
        """Load run `run_id` (None: the latest trained) and predict every validation sample."""
        from studio.analysis.evaluation import regression_report
        from studio.analysis.features import candidate_layers, default_layer
        from studio.analysis.predictions import build_predictions
        from studio.analysis.samples import split_samples
        from studio.runs import latest_trained_run, load_project_data, load_trained_model
        from studio.train import TrainingError

        run = latest_trained_run(project, run_id)
        progress(1, 10)
        try:
            model = load_trained_model(project, run)
        except TrainingError as exc:
            raise StudioError(f"{exc}. The model was changed after run {run['id'][:6]} was trained: "
                              "train it again to see its results") from exc
        progress(3, 10)
        data = load_project_data(project, progress=lambda done, total: progress(3 + 4 * done // max(total, 1),
                                                                               10))
        progress(7, 10)
        predictions = build_predictions(model, data)
        x, _ = split_samples(data, "val")
        classify = predictions.is_classification
        regions, note = self._regions(model, data, predictions)
        progress(10, 10)
        # Replaced only now: a load that fails or is cancelled leaves the shown run's model in place.
        self.project, self.run, self.model, self.data = project, run, model, data
        self._features = None
        return RunResults(
            run_id=str(run["id"]), info=data.info, predictions=predictions, samples=_held(x),
            layers=candidate_layers(model), default_layer=default_layer(model),
            report=predictions.report() if classify else None,
            regression=None if classify else regression_report(predictions.true, predictions.predicted),
            regions=regions, regions_note=note)

    def cluster(self, request: ClusterRequest, progress: Progress) -> ClusterAnalysis:
        """K-means on the features of one layer, with scores, an elbow curve and a 2-D view."""
        from studio.analysis.clustering import analyse_clusters

        features = self._layer_features(request.layer, _share(progress, 0, 30))
        if features.shape[1] == 0:
            raise AnalysisError(f"layer '{request.layer}' gives no features to cluster; choose another layer")
        analysis = analyse_clusters(features, request.k, true=self._true_classes(),
                                    standardize=request.standardize, projection=request.projection,
                                    progress=_share(progress, 30, 100))
        analysis.layer = request.layer
        return analysis

    def compare(self, k: int, standardize: bool, progress: Progress) -> list[LayerScores]:
        """K-means scores for every candidate layer (raw input first)."""
        from studio.analysis.clustering import compare_layers

        model, data = self._loaded()
        return compare_layers(model, data, k=k, standardize=standardize, progress=progress)

    def predict_files(self, paths: Sequence[str]) -> list[ImagePrediction]:
        """The model's ranking of the classes for each image file, with the image as the model saw it."""
        from studio.analysis.images import image_batch, predict_images

        _, data = self._loaded()
        if data.info.sample_kind != "image":
            raise AnalysisError(f"this model takes {data.info.sample_kind} samples, not images")
        batch = image_batch(paths, data.info.input_shape)  # names a file that is no image, before predicting
        rankings = predict_images(self.project, self.run, paths)
        return [ImagePrediction(path, data.info.sample_image(pixels), ranking)
                for pixels, (path, ranking) in zip(batch, rankings, strict=True)]

    def _loaded(self) -> tuple[GraphModule, LoadedData]:
        if self.model is None or self.data is None:
            raise AnalysisError("no trained model is loaded: train the model first")
        return self.model, self.data

    def _layer_features(self, layer: str, progress: Progress) -> np.ndarray:
        from studio.analysis.features import check_layer, extract_features
        from studio.analysis.samples import split_samples

        model, data = self._loaded()
        if self._features is not None and self._features[0] == layer:
            return self._features[1]
        x, _ = split_samples(data, "val")
        features = extract_features(model, x, check_layer(model, layer), progress=progress)
        self._features = (layer, features)
        return features

    def _true_classes(self) -> np.ndarray | None:
        _, data = self._loaded()
        if data.info.task != "classification":
            return None
        return data.val_y.numpy().astype(np.int64)

    @staticmethod
    def _regions(model: GraphModule, data: LoadedData,
                 predictions: Predictions) -> tuple[RegionsData | None, str]:
        from studio.analysis.evaluation import predicted_classes
        from studio.analysis.regions import decision_grid
        from studio.train.predict import predict

        info = data.info
        if info.input_shape != (2,) or info.task != "classification":
            return None, ("Decision regions are drawn for classifiers of 2-D points (moons, circles, "
                          f"spirals, blobs). This model takes samples of shape {info.input_shape} "
                          f"({info.sample_kind}, {info.task}).")
        grid = decision_grid(model, data, REGION_RESOLUTION)
        train_x = data.train_x.numpy()
        train_predicted = predicted_classes(predict(model, train_x))
        points = np.concatenate([train_x, data.val_x.numpy()]).astype(np.float32)
        labels = np.concatenate([data.train_y.numpy(), data.val_y.numpy()]).astype(np.int64)
        validation = np.arange(len(points)) >= len(train_x)
        predicted = np.concatenate([train_predicted, predictions.predicted])
        return RegionsData(grid, points, labels, validation, predicted), ""


def _held(x: Any) -> Any:
    """The samples the views show one at a time: a copy in memory, or the rows streamed from disk
    (each read when it is shown), so a folder too big for memory stays on disk here too."""
    return x.numpy().copy() if hasattr(x, "numpy") else x


def _share(progress: Progress, start: int, stop: int) -> Progress:
    """Progress of one part of a job, reported as percent start..stop of the whole job."""
    return lambda done, total: progress(start + (stop - start) * done // max(total, 1), 100)
