"""Two-dimensional views of features: PCA (fast, every sample) or t-SNE (on a seeded subsample)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from studio.analysis import AnalysisError

Method = Literal["pca", "tsne"]
METHODS: tuple[Method, ...] = ("pca", "tsne")
# t-SNE's cost grows quickly with the number of points; beyond this a seeded subsample is shown.
TSNE_MAX_POINTS = 3000
# t-SNE works on this many principal components of wider features (faster, and less noisy).
TSNE_PCA_DIMS = 50


@dataclass
class Projection:
    method: Method
    coords: np.ndarray  # (M, 2)
    rows: np.ndarray  # which rows of the features each point is (all of them unless subsampled)
    explained: tuple[float, ...] | None = None  # PCA: the share of the variance along each axis


def project_2d(features: np.ndarray, method: Method = "pca", *, seed: int = 0,
               max_points: int = TSNE_MAX_POINTS) -> Projection:
    """Features (N, D) as points in the plane; t-SNE uses at most `max_points` of them."""
    x = np.asarray(features, dtype=np.float32)
    if method not in METHODS:
        raise AnalysisError(f"unknown projection '{method}': use one of {', '.join(METHODS)}")
    if x.ndim != 2 or len(x) < 2:
        raise AnalysisError(f"a 2-D projection needs at least 2 samples, got {len(x)}")
    if method == "pca":
        coords, explained = _pca(x, 2)
        return Projection("pca", _two_columns(coords), np.arange(len(x)), tuple(explained))
    rows = np.arange(len(x))
    if len(x) > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
    return Projection("tsne", _tsne(x[rows], seed), rows)


def _pca(x: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA

    components = min(dims, *x.shape)
    pca = PCA(n_components=components, random_state=0)
    return pca.fit_transform(x), pca.explained_variance_ratio_


def _tsne(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    if len(x) < 4:
        raise AnalysisError(f"t-SNE needs at least 4 samples, got {len(x)}; use PCA")
    if x.shape[1] > TSNE_PCA_DIMS:
        x = _pca(x, TSNE_PCA_DIMS)[0].astype(np.float32)
    # The perplexity must stay below the number of points; 30 is the usual value when there are enough.
    perplexity = min(30.0, (len(x) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def _two_columns(coords: np.ndarray) -> np.ndarray:
    """Pads one-dimensional features with a zero column so that every projection is (N, 2)."""
    if coords.shape[1] >= 2:
        return coords.astype(np.float32)
    return np.hstack([coords, np.zeros((len(coords), 2 - coords.shape[1]))]).astype(np.float32)
