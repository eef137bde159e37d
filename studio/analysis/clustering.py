"""K-means on learned features, scored against the true classes.

The numpy-level functions (`kmeans`, `score_clusters`, `inertia_by_k`, `analyse_clusters`) take plain
arrays and an optional `progress(done, total)` callback, so a window can run them on a worker thread.
`cluster_layer` and `compare_layers` add the model: features of a layer, then the same analysis.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from studio.analysis import AnalysisError
from studio.analysis.features import FeaturesTooLarge, candidate_layers, default_layer, extract_features
from studio.analysis.projection import Method, Projection, project_2d
from studio.analysis.samples import Split, split_samples
from studio.core.atomic import write_atomic

if TYPE_CHECKING:
    from studio.core.build import GraphModule
    from studio.data import LoadedData

Progress = Callable[[int, int], None]
N_INIT = 4  # k-means restarts from different seeds; the lowest inertia wins
SILHOUETTE_MAX_SAMPLES = 2000  # the silhouette costs N^2 distances, so it is taken on a seeded subsample


@dataclass
class KMeansResult:
    labels: np.ndarray  # the cluster of each sample
    centers: np.ndarray  # (k, D), in the space that was clustered
    inertia: float  # sum of squared distances of the samples to their centre


@dataclass
class ClusterScores:
    """How well clusters match the true classes (None without classes) and how compact they are."""

    ari: float | None  # adjusted Rand index: 1 = the same grouping, about 0 = chance
    nmi: float | None  # normalised mutual information, 0..1
    purity: float | None  # share of samples in their cluster's most common class
    silhouette: float  # -1..1, NaN when every sample fell in one cluster
    silhouette_samples: int  # how many samples the silhouette was taken on
    inertia: float


@dataclass
class ClusterAnalysis:
    k: int
    standardized: bool
    clusters: KMeansResult
    scores: ClusterScores
    inertia_by_k: list[tuple[int, float]]
    projection: Projection | None
    true: np.ndarray | None  # class of each sample, when the data has classes
    layer: str | None = None
    features: int = 0  # values per sample


@dataclass
class LayerScores:
    layer: str
    features: int | None  # values per sample (None when the layer was skipped)
    scores: ClusterScores | None
    skipped: str = ""  # why a layer has no scores


def check_k(k: int, samples: int) -> None:
    if k < 2:
        raise AnalysisError(f"k = {k}: k-means needs at least 2 clusters")
    if k > samples:
        raise AnalysisError(f"k = {k} is more than the {samples} samples; choose k <= {samples}")


def standardized(features: np.ndarray) -> np.ndarray:
    """Each feature scaled to mean 0 and std 1 (a constant feature becomes 0), as float32."""
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(np.asarray(features, dtype=np.float32))


def kmeans(features: np.ndarray, k: int, *, standardize: bool = False, seed: int = 0, n_init: int = N_INIT,
           progress: Progress | None = None) -> KMeansResult:
    """K-means (k-means++ starts, `n_init` restarts seeded from `seed`) on an (N, D) array."""
    from sklearn.cluster import KMeans

    x = _matrix(features)
    check_k(k, len(x))
    if standardize:
        x = standardized(x)
    best = None
    # One restart per call, so that progress can be reported between restarts.
    for attempt in range(n_init):
        fit = KMeans(n_clusters=k, n_init=1, random_state=seed + attempt).fit(x)
        if best is None or fit.inertia_ < best.inertia_:
            best = fit
        if progress is not None:
            progress(attempt + 1, n_init)
    return KMeansResult(best.labels_.astype(np.int64), best.cluster_centers_, float(best.inertia_))


def purity(true: Sequence[int] | np.ndarray, clusters: Sequence[int] | np.ndarray) -> float:
    """Sum over clusters of the count of their most common class, divided by the number of samples."""
    from sklearn.metrics.cluster import contingency_matrix

    true, clusters = np.asarray(true).reshape(-1), np.asarray(clusters).reshape(-1)
    if len(true) != len(clusters) or len(true) == 0:
        raise ValueError(f"needs as many classes as clusters (> 0), got {len(true)} and {len(clusters)}")
    table = contingency_matrix(true, clusters)  # rows: classes, columns: clusters
    return float(table.max(axis=0).sum() / len(true))


def score_clusters(x: np.ndarray, clusters: KMeansResult, true: np.ndarray | None = None, *,
                   seed: int = 0) -> ClusterScores:
    """Scores of a clustering of `x` (the array that was clustered); class scores need `true`."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

    labels = clusters.labels
    sample = min(len(x), SILHOUETTE_MAX_SAMPLES)
    silhouette = math.nan
    if 2 <= len(np.unique(labels)) < len(x):
        silhouette = float(silhouette_score(x, labels, sample_size=sample if sample < len(x) else None,
                                            random_state=seed))
    if true is None:
        return ClusterScores(None, None, None, silhouette, sample, clusters.inertia)
    return ClusterScores(ari=float(adjusted_rand_score(true, labels)),
                         nmi=float(normalized_mutual_info_score(true, labels)),
                         purity=purity(true, labels), silhouette=silhouette, silhouette_samples=sample,
                         inertia=clusters.inertia)


def default_ks(classes: int, samples: int) -> list[int]:
    """k from 2 to max(10, 2 x classes), at most the number of samples: the range an elbow plot shows."""
    return list(range(2, min(max(10, 2 * classes), samples) + 1))


def inertia_by_k(x: np.ndarray, ks: Sequence[int], *, seed: int = 0, n_init: int = N_INIT,
                 progress: Progress | None = None) -> list[tuple[int, float]]:
    """(k, inertia) for each k: where the curve bends is a natural number of clusters."""
    curve = []
    for done, k in enumerate(ks, start=1):
        curve.append((k, kmeans(x, k, seed=seed, n_init=n_init).inertia))
        if progress is not None:
            progress(done, len(ks))
    return curve


def analyse_clusters(features: np.ndarray, k: int, *, true: np.ndarray | None = None,
                     standardize: bool = True, seed: int = 0, n_init: int = N_INIT,
                     ks: Sequence[int] | None = None, projection: Method | None = "pca",
                     progress: Progress | None = None) -> ClusterAnalysis:
    """K-means with k clusters, its scores, inertia for each of `ks` and a 2-D projection (None: none).

    `progress(done, total)` counts k-means restarts, elbow points and the projection together.
    """
    x = _matrix(features)
    check_k(k, len(x))
    if standardize:
        x = standardized(x)
    classes = len(np.unique(true)) if true is not None else k
    ks = list(ks) if ks is not None else default_ks(classes, len(x))
    for value in ks:
        check_k(value, len(x))
    steps = _Steps(n_init + len(ks) + (projection is not None), progress)
    result = kmeans(x, k, seed=seed, n_init=n_init, progress=steps.part(0))
    scores = score_clusters(x, result, true, seed=seed)
    curve = inertia_by_k(x, ks, seed=seed, n_init=n_init, progress=steps.part(n_init))
    view = None
    if projection is not None:
        view = project_2d(x, projection, seed=seed)
        steps.advance(n_init + len(ks) + 1)
    return ClusterAnalysis(k, standardize, result, scores, curve, view, true, features=x.shape[1])


def cluster_layer(model: GraphModule, data: LoadedData, *, layer: str | None = None, k: int | None = None,
                  split: Split = "val", standardize: bool = True, seed: int = 0, n_init: int = N_INIT,
                  ks: Sequence[int] | None = None, projection: Method | None = "pca",
                  progress: Progress | None = None) -> ClusterAnalysis:
    """`analyse_clusters` on the features of `layer` (default: the penultimate) for one part of the data.

    k defaults to the number of classes.
    """
    x, y = split_samples(data, split)
    true = _classes(data, y)
    k = _k_for(data, k)
    name = layer or default_layer(model)
    features = extract_features(model, x, name)
    analysis = analyse_clusters(features, k, true=true, standardize=standardize, seed=seed, n_init=n_init,
                                ks=ks, projection=projection, progress=progress)
    analysis.layer = name
    return analysis


def compare_layers(model: GraphModule, data: LoadedData, *, k: int | None = None, split: Split = "val",
                   standardize: bool = True, seed: int = 0, n_init: int = N_INIT,
                   progress: Progress | None = None) -> list[LayerScores]:
    """K-means scores for every candidate layer, raw input first: where do the classes separate?

    A layer too wide to hold in memory for every sample is listed without scores, with the reason.
    """
    x, y = split_samples(data, split)
    true = _classes(data, y)
    k = _k_for(data, k)
    check_k(k, int(x.shape[0]))
    layers = candidate_layers(model)
    table = []
    for done, name in enumerate(layers, start=1):
        try:
            features = extract_features(model, x, name)  # one layer at a time: memory for one layer only
        except FeaturesTooLarge as exc:
            table.append(LayerScores(name, None, None, skipped=str(exc)))
        else:
            space = standardized(features) if standardize else features
            scores = score_clusters(space, kmeans(space, k, seed=seed, n_init=n_init), true, seed=seed)
            table.append(LayerScores(name, features.shape[1], scores))
        if progress is not None:
            progress(done, len(layers))
    return table


def assignments_csv(analysis: ClusterAnalysis, class_names: Sequence[str] = ()) -> str:
    """One row per sample: index, true label, cluster, and x, y of the projection (empty if not shown)."""
    view = analysis.projection
    placed = {} if view is None else dict(zip(view.rows.tolist(), view.coords.tolist(), strict=True))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["index", "true_label", "cluster", "x", "y"])
    for index, cluster in enumerate(analysis.clusters.labels.tolist()):
        label = "" if analysis.true is None else _label(int(analysis.true[index]), class_names)
        x, y = placed.get(index, ("", ""))
        writer.writerow([index, label, cluster, _number(x), _number(y)])
    return buffer.getvalue()


def write_assignments_csv(path: str | Path, analysis: ClusterAnalysis,
                          class_names: Sequence[str] = ()) -> Path:
    """Write `assignments_csv` to `path` atomically (a failed write leaves an older file intact)."""
    target = Path(path)
    try:
        write_atomic(target, assignments_csv(analysis, class_names).encode("utf-8"))
    except OSError as exc:
        raise AnalysisError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


class _Steps:
    """Turns the progress of consecutive parts into one `progress(done, total)` over all of them."""

    def __init__(self, total: int, progress: Progress | None):
        self.total, self.progress = total, progress

    def part(self, offset: int) -> Progress | None:
        if self.progress is None:
            return None
        return lambda done, _total: self.advance(offset + done)

    def advance(self, done: int) -> None:
        if self.progress is not None:
            self.progress(done, self.total)


def _matrix(features: np.ndarray) -> np.ndarray:
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2:
        raise AnalysisError(f"features must be one row per sample (N, D), got an array of shape {x.shape}")
    return x


def _classes(data: LoadedData, y) -> np.ndarray | None:
    return y.numpy().astype(np.int64) if data.info.task == "classification" else None


def _k_for(data: LoadedData, k: int | None) -> int:
    if k is not None:
        return k
    if data.info.task != "classification":
        raise AnalysisError(f"dataset '{data.info.name}' has no classes: choose the number of clusters k")
    return len(data.info.class_names)


def _label(index: int, class_names: Sequence[str]) -> str:
    return class_names[index] if class_names else str(index)


def _number(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.6g}"
