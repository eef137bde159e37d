"""The Evaluation tab shows scikit-learn's confusion matrix and scores; a cell opens its samples."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def shown_matrix(panel) -> list[list[str]]:
    model = panel.evaluation.confusion.model
    n = model.rowCount()
    return [[model.data(model.index(i, j)) for j in range(n)] for i in range(n)]


def test_the_confusion_matrix_is_sklearns(digits_panel):
    p = digits_panel.results.predictions
    expected = confusion_matrix(p.true, p.predicted, labels=range(10))
    assert np.array_equal(np.array(shown_matrix(digits_panel), dtype=int), expected)
    model = digits_panel.evaluation.confusion.model
    names = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(10)]
    assert names == [model.headerData(i, Qt.Orientation.Vertical) for i in range(10)] == p.class_names
    assert digits_panel.evaluation.accuracy.text() == f"Accuracy {np.mean(p.true == p.predicted) * 100:.1f} %"


def test_row_shares_on_request(digits_panel):
    p = digits_panel.results.predictions
    QTest.mouseClick(digits_panel.evaluation.share_button, Qt.MouseButton.LeftButton)
    expected = confusion_matrix(p.true, p.predicted, labels=range(10), normalize="true")
    shown = shown_matrix(digits_panel)
    for i in range(10):
        assert shown[i][i] == f"{expected[i, i] * 100:.0f}%"
    QTest.mouseClick(digits_panel.evaluation.counts_button, Qt.MouseButton.LeftButton)
    assert shown_matrix(digits_panel)[0][0] == str(int(confusion_matrix(p.true, p.predicted)[0, 0]))


def test_per_class_scores_are_sklearns(digits_panel):
    p = digits_panel.results.predictions
    precision, recall, f1, support = precision_recall_fscore_support(p.true, p.predicted, labels=range(10),
                                                                     zero_division=0)
    scores = digits_panel.evaluation.scores
    for i in range(10):
        row = [scores.data(scores.index(i, column)) for column in range(5)]
        assert row == [p.class_names[i], f"{precision[i]:.3f}", f"{recall[i]:.3f}", f"{f1[i]:.3f}",
                       str(support[i])]
    assert scores.data(scores.index(10, 0)) == "Macro average"
    assert scores.data(scores.index(10, 3)) == f"{f1.mean():.3f}"


def test_clicking_a_cell_shows_exactly_its_samples(digits_panel):
    panel = digits_panel
    p = panel.results.predictions
    counts = confusion_matrix(p.true, p.predicted, labels=range(10))
    np.fill_diagonal(counts, 0)
    true, predicted = np.unravel_index(counts.argmax(), counts.shape)  # the most common mistake
    table = panel.evaluation.confusion
    QTest.mouseClick(table.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=table.cell_rect(true, predicted).center())
    assert panel.tabs.currentWidget() is panel.gallery
    expected = np.flatnonzero((p.true == true) & (p.predicted == predicted))
    assert sorted(panel.gallery.rows.tolist()) == expected.tolist()
    assert panel.gallery.filter_box.currentText() == f"True {true}, predicted {predicted}"
    assert panel.gallery.count_label.text().startswith(f"{len(expected)} of {len(p)} samples")
