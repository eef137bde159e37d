"""Learned-feature clustering: the studio's path against scikit-learn alone on the same array.

The studio's path extracts the 128 features of a digits-like MLP's hidden layer for 10,000 generated
samples, then standardises them, runs k-means (k = 10, 4 restarts) and a 2-D PCA. The reference runs
scikit-learn's StandardScaler + KMeans(n_init=4) + PCA on the extracted array with the same settings.
Both use one thread (the machines are shared), and the median of a few repeats is reported.

    .venv/bin/python benchmarks/bench_clustering.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a checkout without installing

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from studio.analysis.clustering import kmeans, standardized  # noqa: E402
from studio.analysis.features import extract_features  # noqa: E402
from studio.analysis.projection import project_2d  # noqa: E402
from studio.core.build import build_model  # noqa: E402
from studio.core.graph import ModelGraph  # noqa: E402

SAMPLES, INPUTS, HIDDEN, K, N_INIT, SEED = 10_000, 64, 128, 10, 4, 0
REPEATS = 7
TARGET_S = 2.0


def digits_like_mlp() -> torch.nn.Module:
    """Input (64) -> Dense 128 relu ("dense") -> Dense 10 softmax, with seeded random weights."""
    graph = ModelGraph()
    previous = None
    for type_name, params in (("Input", {"kind": "vector", "features": INPUTS}),
                              ("Dense", {"units": HIDDEN, "activation": "relu"}),
                              ("Dense", {"units": K, "activation": "softmax"})):
        node = graph.add_node(type_name, params=params)
        if previous is not None:
            graph.connect(previous.id, node.id)
        previous = node
    torch.manual_seed(SEED)
    return build_model(graph, logits=True).eval()


def generated_samples() -> np.ndarray:
    """10 Gaussian clusters in 64 dimensions, like flattened 8x8 digits."""
    from sklearn.datasets import make_blobs

    x, _ = make_blobs(n_samples=SAMPLES, n_features=INPUTS, centers=K, cluster_std=4.0, random_state=SEED)
    return x.astype(np.float32)


def studio_path(model: torch.nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """(seconds for extraction, seconds for everything) through studio.analysis."""
    start = time.perf_counter()
    features = extract_features(model, x, "dense")
    extracted = time.perf_counter()
    space = standardized(features)
    kmeans(space, K, seed=SEED, n_init=N_INIT)
    project_2d(space, "pca")
    return extracted - start, time.perf_counter() - start


def sklearn_alone(features: np.ndarray) -> float:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    start = time.perf_counter()
    space = StandardScaler().fit_transform(features)
    KMeans(n_clusters=K, n_init=N_INIT, random_state=SEED).fit(space)
    PCA(n_components=2, random_state=0).fit_transform(space)
    return time.perf_counter() - start


def main() -> int:
    torch.set_num_threads(1)
    model, x = digits_like_mlp(), torch.from_numpy(generated_samples())
    features = extract_features(model, x, "dense")
    assert features.shape == (SAMPLES, HIDDEN)
    with threadpool_limits(limits=1):
        studio_path(model, x)  # warm-up: first calls import scikit-learn's modules
        sklearn_alone(features)
        # Alternating the two paths spreads any change in the machine's load over both.
        runs, references = [], []
        for _ in range(REPEATS):
            runs.append(studio_path(model, x))
            references.append(sklearn_alone(features))
    extraction = statistics.median(r[0] for r in runs)
    total = statistics.median(r[1] for r in runs)
    reference = statistics.median(references)
    print(f"Clustering learned features: {SAMPLES:,} samples x {HIDDEN} features, k = {K}, "
          f"{N_INIT} restarts, PCA to 2-D; median of {REPEATS}, 1 thread")
    print(f"  studio path (extract + standardise + k-means + PCA): {total:.3f} s "
          f"(of which feature extraction {extraction:.3f} s)")
    print(f"  scikit-learn alone on the same array:                {reference:.3f} s")
    print(f"  overhead ratio (studio / scikit-learn):              {total / reference:.2f}x")
    verdict = "met" if total <= TARGET_S else "MISSED"
    print(f"  target: studio path <= {TARGET_S:.1f} s on this machine: {verdict}")
    return 0 if total <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
