"""K-means on features: scores, impossible choices, the elbow, projections and the CSV export."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from studio.analysis import AnalysisError
from studio.analysis.clustering import (
    ClusterAnalysis,
    analyse_clusters,
    cluster_layer,
    compare_layers,
    default_ks,
    kmeans,
    purity,
    score_clusters,
    write_assignments_csv,
)
from studio.analysis.features import candidate_layers
from studio.analysis.projection import project_2d

from .helpers import FixedOutputs, built, labelled


def blobs(classes: int = 3, per_class: int = 30, features: int = 5, seed: int = 0):
    """Far-apart Gaussian blobs: k-means must find the classes exactly."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 20, (classes, features))
    true = np.repeat(np.arange(classes), per_class)
    return (centres[true] + rng.normal(0, 1, (len(true), features))).astype(np.float32), true


def test_purity_of_a_hand_counted_example():
    true = [0, 0, 0, 1, 1, 2]
    clusters = [5, 5, 7, 7, 7, 7]
    # Cluster 5 holds two 0s (majority 2); cluster 7 holds 0, 1, 1, 2 (majority 2): (2 + 2) / 6.
    assert purity(true, clusters) == pytest.approx(4 / 6)
    assert purity([1, 1, 2, 2], [0, 0, 1, 1]) == 1.0
    assert purity([0, 1, 2, 3], [0, 0, 0, 0]) == 0.25


def test_kmeans_finds_well_separated_classes():
    x, true = blobs()
    seen = []
    result = kmeans(x, 3, seed=1, progress=lambda done, total: seen.append((done, total)))
    scores = score_clusters(x, result, true)
    assert scores.ari == pytest.approx(1.0) and scores.nmi == pytest.approx(1.0) and scores.purity == 1.0
    assert scores.silhouette > 0.8
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    again = kmeans(x, 3, seed=1)
    np.testing.assert_array_equal(result.labels, again.labels)  # seeded


def test_the_silhouette_is_taken_on_a_subsample_of_large_sets():
    x, true = blobs(per_class=800, features=3)
    scores = score_clusters(x, kmeans(x, 3, n_init=1), true)
    assert scores.silhouette_samples == 2000 and scores.silhouette > 0.8


@pytest.mark.parametrize("k, message", [(1, "at least 2 clusters"), (0, "at least 2 clusters"),
                                        (91, "k = 91 is more than the 90 samples")])
def test_impossible_k_is_an_error(k, message):
    x, _ = blobs()
    with pytest.raises(AnalysisError, match=message):
        kmeans(x, k)
    with pytest.raises(AnalysisError, match=message):
        analyse_clusters(x, k)


def test_impossible_k_on_a_model_is_an_error():
    model, data = built("moons_mlp")
    with pytest.raises(AnalysisError, match="more than the"):
        cluster_layer(model, data, k=data.num_val + 1)
    with pytest.raises(AnalysisError, match="at least 2"):
        compare_layers(model, data, k=1)
    with pytest.raises(AnalysisError, match="no layer named 'nope'"):
        cluster_layer(model, data, layer="nope")


def test_analysis_reports_progress_scores_and_the_elbow():
    x, true = blobs(classes=4)
    seen = []
    analysis = analyse_clusters(x, 4, true=true, progress=lambda done, total: seen.append((done, total)))
    ks = default_ks(4, len(x))
    assert ks == list(range(2, 11))
    assert [k for k, _ in analysis.inertia_by_k] == ks
    inertias = [value for _, value in analysis.inertia_by_k]
    assert inertias[2] < inertias[1] < inertias[0]  # more clusters, tighter
    assert dict(analysis.inertia_by_k)[4] == pytest.approx(analysis.clusters.inertia, rel=1e-4)
    total = 4 + len(ks) + 1  # restarts, elbow points, projection
    assert [done for done, _ in seen] == list(range(1, total + 1)) and {t for _, t in seen} == {total}
    assert analysis.scores.purity == 1.0 and analysis.projection.coords.shape == (len(x), 2)


def test_the_elbow_range_follows_the_number_of_classes():
    assert default_ks(3, 500) == list(range(2, 11))
    assert default_ks(8, 500) == list(range(2, 17))
    assert default_ks(8, 6) == list(range(2, 7))


def test_standardising_puts_every_feature_on_one_scale():
    rng = np.random.default_rng(0)
    true = np.repeat([0, 1], 40)
    # The class shows in a feature of spread 1; a feature of spread 1000 is noise that swamps it unscaled.
    x = np.stack([true * 6.0 + rng.normal(0, 1, 80), rng.normal(0, 1000, 80)], axis=1)
    scaled = analyse_clusters(x, 2, true=true, standardize=True, projection=None, ks=[2])
    raw = analyse_clusters(x, 2, true=true, standardize=False, projection=None, ks=[2])
    assert scaled.scores.ari > 0.5 > raw.scores.ari
    assert scaled.projection is None


def test_compare_layers_covers_every_candidate_layer():
    model, data = built("moons_mlp")
    table = compare_layers(model, data, n_init=1)
    assert [row.layer for row in table] == candidate_layers(model) == ["input", "dense", "dense_1", "dense_2"]
    assert [row.features for row in table] == [2, 16, 16, 1]
    for row in table:
        assert 0 <= row.scores.purity <= 1 and -1 <= row.scores.ari <= 1


def test_regression_data_needs_a_k():
    data = labelled([float(i) for i in range(12)], [])
    with pytest.raises(AnalysisError, match="has no classes: choose the number of clusters k"):
        cluster_layer(FixedOutputs([[0.0]] * 12, None), data)


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_export(tmp_path):
    x, true = blobs(classes=2, per_class=5)
    analysis = analyse_clusters(x, 2, true=true, ks=[2])
    path = write_assignments_csv(tmp_path / "clusters.csv", analysis, ["left", "right"])
    rows = read_csv(path)
    assert list(rows[0]) == ["index", "true_label", "cluster", "x", "y"]
    assert [r["index"] for r in rows] == [str(i) for i in range(10)]
    assert [r["true_label"] for r in rows] == ["left"] * 5 + ["right"] * 5
    assert [int(r["cluster"]) for r in rows] == analysis.clusters.labels.tolist()
    coords = np.array([[float(r["x"]), float(r["y"])] for r in rows])
    np.testing.assert_allclose(coords, analysis.projection.coords, rtol=1e-5, atol=1e-5)
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


def test_csv_rows_outside_a_subsampled_projection_have_no_coordinates(tmp_path):
    x, true = blobs(classes=2, per_class=5)
    base = analyse_clusters(x, 2, true=true, ks=[2], projection=None)
    view = project_2d(x, "tsne", max_points=6, seed=2)
    assert len(view.rows) == 6 and view.coords.shape == (6, 2)
    analysis = ClusterAnalysis(2, True, base.clusters, base.scores, [], view, true)
    rows = read_csv(write_assignments_csv(tmp_path / "t.csv", analysis))
    placed = [int(r["index"]) for r in rows if r["x"]]
    assert placed == view.rows.tolist()
    assert rows[0]["true_label"] == "0"  # no class names: the class index


def test_projection_choices():
    x, _ = blobs(features=6)
    pca = project_2d(x, "pca")
    assert pca.coords.shape == (len(x), 2) and sum(pca.explained) > 0.9
    with pytest.raises(AnalysisError, match="unknown projection 'umap'"):
        project_2d(x, "umap")
    assert math.isclose(float(np.abs(pca.coords.mean(axis=0)).max()), 0.0, abs_tol=1e-3)  # centred


def test_layers_too_wide_for_memory_are_refused_or_skipped(monkeypatch):
    from studio.analysis import features

    model, data = built("digits_cnn")
    monkeypatch.setattr(features, "MAX_FEATURE_BYTES", 1024**2)  # 1 MiB: more than 730 values per sample
    with pytest.raises(AnalysisError, match="layer 'conv2d' gives 2,048 values per sample .* choose a later"):
        cluster_layer(model, data, layer="conv2d")
    table = compare_layers(model, data, n_init=1)
    skipped = [row.layer for row in table if row.scores is None]
    assert skipped == ["conv2d", "conv2d_1", "max_pooling2d"]
    assert all("values per sample" in row.skipped for row in table if row.scores is None)
    assert [row.features for row in table if row.scores is not None] == [64, 128, 10]
