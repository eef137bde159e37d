"""The k-means tab: layers, k, scores, the scatter, its legend, CSV export and the layer comparison."""

from __future__ import annotations

import csv

import numpy as np

from studio.analysis.features import candidate_layers
from studio.runs import latest_trained_run, load_trained_model

from .conftest import wait_idle


def cluster(panel, qtbot, layer: str | None = None, k: int | None = None):
    view = panel.clusters
    if layer is not None:
        view.layer_box.setCurrentIndex(view.layer_box.findData(layer))
    if k is not None:
        view.k_box.setValue(k)
    view.cluster_button.click()
    wait_idle(qtbot, panel)
    return view.analysis


def test_defaults_follow_the_model(digits_panel, trained_digits):
    from studio.core.project import load_project

    project = load_project(trained_digits)
    model = load_trained_model(project, latest_trained_run(project))
    view = digits_panel.clusters
    assert [view.layer_box.itemData(i) for i in range(view.layer_box.count())] == candidate_layers(model)
    assert view.layer_box.currentData() == "dense"  # the layer before the output
    assert view.k_box.value() == 10  # one cluster per class
    assert view.layer_box.itemText(0) == "input (raw input)"


def test_the_layer_changes_the_features(digits_panel, qtbot):
    raw = cluster(digits_panel, qtbot, "input")
    assert raw is not None and raw.layer == "input" and raw.features == 64
    raw_points = digits_panel.clusters.scatter.getData()
    learned = cluster(digits_panel, qtbot, "dense")
    assert learned.layer == "dense" and learned.features == 128
    assert not np.allclose(digits_panel.clusters.scatter.getData()[0], raw_points[0])
    assert learned.scores.ari != raw.scores.ari
    labels = digits_panel.clusters.score_labels
    assert labels["ARI"].text() == f"{learned.scores.ari:.3f}"
    assert labels["Purity"].text() == f"{learned.scores.purity:.3f}"
    assert len(learned.inertia_by_k) > 5  # the elbow curve
    assert len(digits_panel.clusters.scatter.data) == len(digits_panel.results.predictions)


def test_k_larger_than_the_samples_is_a_message(digits_panel, qtbot):
    view = digits_panel.clusters
    view.k_box.setValue(5000)
    view.cluster_button.click()
    assert not digits_panel.runner.busy  # refused before any work started
    assert view.message.isVisibleTo(view) and "more than the 359 samples" in view.message.text()
    assert view.analysis is None


def test_legend_point_and_gallery(digits_panel, qtbot):
    panel = digits_panel
    analysis = cluster(panel, qtbot, k=4)
    view = panel.clusters
    assert view.legend.count() == 4
    item = view.legend.item(2)
    view.legend.itemClicked.emit(item)
    assert panel.tabs.currentWidget() is panel.gallery
    assert sorted(panel.gallery.rows.tolist()) == np.flatnonzero(analysis.clusters.labels == 2).tolist()
    assert panel.gallery.filter_box.currentText().startswith("Cluster 2")
    view.set_colour_by_class(True)
    assert view.legend.count() == 10 and view.legend_title.text() == "True classes"
    spot = view.scatter.points()[7]
    view.scatter.sigClicked.emit(view.scatter, [spot], None)
    row = int(spot.data())
    assert view.preview_text.text().startswith(f"<b>Sample {row}</b>")
    assert f"Cluster {analysis.clusters.labels[row]}" in view.preview_text.text()
    assert not view.preview_image.pixmap().isNull()


def test_csv_export(digits_panel, qtbot, tmp_path):
    analysis = cluster(digits_panel, qtbot, k=3)
    view = digits_panel.clusters
    target = tmp_path / "clusters.csv"
    view.ask_csv_path = lambda: str(target)
    view.export_button.click()
    with open(target, newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["index", "true_label", "cluster", "x", "y"]
    assert len(rows) == 1 + len(analysis.clusters.labels)
    p = digits_panel.results.predictions
    assert [r[1] for r in rows[1:]] == [p.class_names[t] for t in p.true]
    assert [int(r[2]) for r in rows[1:]] == analysis.clusters.labels.tolist()
    assert str(target) in view.message.text()


def test_compare_layers_fills_the_table(digits_panel, qtbot):
    view = digits_panel.clusters
    view.k_box.setValue(10)
    view.compare_button.click()
    wait_idle(qtbot, digits_panel)
    table = view.layers_table.table
    layers = [view.layer_box.itemData(i) for i in range(view.layer_box.count())]
    assert [table.item(row, 0).text() for row in range(table.rowCount())] == layers
    assert view.centre.currentWidget() is view.layers_table
    scores = {s.layer: s.scores for s in view.layers_table.scores}
    assert table.item(layers.index("dense"), 2).text() == f"{scores['dense'].ari:.3f}"
    assert scores["dense"].ari > scores["input"].ari  # the classes separate in the learned features


def test_t_sne_on_request(digits_panel, qtbot):
    view = digits_panel.clusters
    view.projection_box.setCurrentIndex(view.projection_box.findData("tsne"))
    analysis = cluster(digits_panel, qtbot, "dense")
    assert analysis.projection.method == "tsne"
    assert view.projection_label.text().startswith("t-SNE of layer 'dense'")
    assert view.plot.getAxis("bottom").labelText == "t-SNE 1"
    assert len(view.scatter.data) == len(analysis.projection.rows)
