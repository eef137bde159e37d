"""The predictions table: confusion matrix, filters, sorting, paging and captions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from studio.analysis import AnalysisError
from studio.analysis.evaluation import classify_report
from studio.analysis.predictions import Predictions, build_predictions, page, page_count

from .helpers import FixedOutputs, built, labelled, logit

ANIMALS = ["cat", "dog", "bird"]


def table(true: list[int], probabilities: list[list[float]]) -> Predictions:
    """Predictions of a softmax model whose probabilities are given (as logits: their log)."""
    model = FixedOutputs(np.log(probabilities).tolist(), "softmax")
    return build_predictions(model, labelled(true, ANIMALS))


@pytest.fixture
def animals() -> Predictions:
    #            true  predicted (probability)
    return table([0, 0, 1, 1, 2, 2, 0],
                 [[0.70, 0.20, 0.10],  # cat   cat 0.70
                  [0.30, 0.60, 0.10],  # cat   dog 0.60
                  [0.10, 0.80, 0.10],  # dog   dog 0.80
                  [0.50, 0.40, 0.10],  # dog   cat 0.50
                  [0.05, 0.05, 0.90],  # bird  bird 0.90
                  [0.20, 0.15, 0.65],  # bird  bird 0.65
                  [0.20, 0.55, 0.25]])  # cat  dog 0.55


def test_confusion_matrix_equals_sklearns():
    rng = np.random.default_rng(3)
    true, predicted = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    report = classify_report(true, predicted, ["a", "b", "c", "d"])
    np.testing.assert_array_equal(report.confusion, confusion_matrix(true, predicted, labels=[0, 1, 2, 3]))
    assert report.accuracy == pytest.approx(np.mean(true == predicted))


def test_the_tables_confusion_matrix_counts_its_rows(animals):
    expected = confusion_matrix(animals.true, animals.predicted, labels=[0, 1, 2])
    np.testing.assert_array_equal(animals.report().confusion, expected)
    assert animals.report().confusion[0, 1] == 2  # two cats taken for dogs


def test_columns(animals):
    np.testing.assert_array_equal(animals.true, [0, 0, 1, 1, 2, 2, 0])
    np.testing.assert_array_equal(animals.predicted, [0, 1, 1, 0, 2, 2, 1])
    np.testing.assert_allclose(animals.confidence, [0.7, 0.6, 0.8, 0.5, 0.9, 0.65, 0.55], rtol=1e-5)
    np.testing.assert_allclose(animals.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(animals.index, np.arange(7))


def test_filters(animals):
    np.testing.assert_array_equal(animals.select(), np.arange(7))
    np.testing.assert_array_equal(animals.select(mistakes=True), [1, 3, 6])
    np.testing.assert_array_equal(animals.select(true_class="cat"), [0, 1, 6])
    np.testing.assert_array_equal(animals.select(predicted_class=1), [1, 2, 6])
    np.testing.assert_array_equal(animals.select(mistakes=True, true_class=0), [1, 6])
    np.testing.assert_array_equal(animals.cell("cat", "dog"), [1, 6])
    np.testing.assert_array_equal(animals.cell(1, 0), [3])
    assert len(animals.cell(2, 0)) == 0


def test_every_cell_selects_as_many_rows_as_the_matrix_counts(animals):
    confusion = animals.report().confusion
    for i in range(3):
        for j in range(3):
            assert len(animals.cell(i, j)) == confusion[i, j]


def test_unknown_class_is_an_error_naming_the_classes(animals):
    with pytest.raises(AnalysisError, match="no class 'horse'; classes: cat, dog, bird"):
        animals.select(true_class="horse")
    with pytest.raises(AnalysisError, match="out of range"):
        animals.cell(0, 3)


def test_sorting_by_confidence(animals):
    np.testing.assert_array_equal(animals.by_confidence(), [4, 2, 0, 5, 1, 6, 3])
    np.testing.assert_array_equal(animals.by_confidence(descending=False), [3, 6, 1, 5, 0, 2, 4])
    mistakes = animals.select(mistakes=True)
    np.testing.assert_array_equal(animals.by_confidence(mistakes, descending=False), [3, 6, 1])


def test_ties_keep_sample_order_in_both_directions():
    confidence = np.array([0.6, 0.9, 0.6, 0.6])
    predictions = Predictions("classification", ["a", "b"], np.arange(4), np.zeros(4, int), np.zeros(4, int),
                              np.stack([confidence, 1 - confidence], axis=1), confidence)
    np.testing.assert_array_equal(predictions.by_confidence(), [1, 0, 2, 3])
    np.testing.assert_array_equal(predictions.by_confidence(descending=False), [0, 2, 3, 1])


def test_paging():
    rows = np.arange(10, 33)
    assert page_count(len(rows), 10) == 3
    assert page_count(0, 10) == 1
    np.testing.assert_array_equal(page(rows, 0, 10), np.arange(10, 20))
    np.testing.assert_array_equal(page(rows, 2, 10), [30, 31, 32])
    assert len(page(rows, 3, 10)) == 0
    with pytest.raises(ValueError):
        page(rows, -1, 10)


def test_caption_of_a_binary_sigmoid_model_names_the_probability_of_the_predicted_class():
    model = FixedOutputs([[logit(0.51)], [logit(0.2)], [logit(0.5)]], "sigmoid")
    predictions = build_predictions(model, labelled([1, 0, 0], ["cat", "dog"]))
    assert predictions.describe(0) == "Dog, prob. 0.51"
    assert predictions.describe(1) == "Cat, prob. 0.80"  # 1 - p for class 0
    assert predictions.describe(2) == "Dog, prob. 0.50"  # 0.5 goes to class 1, as in the evaluation
    np.testing.assert_array_equal(predictions.select(mistakes=True), [2])


def test_caption_of_a_softmax_model(animals):
    assert animals.describe(4) == "Bird, prob. 0.90"
    assert animals.describe(3) == "Cat, prob. 0.50"


def test_regression_rows_have_values_and_errors():
    model = FixedOutputs([[1.0], [2.5], [-1.0]], None)
    predictions = build_predictions(model, labelled([1.5, 2.5, 0.0], []))
    np.testing.assert_allclose(predictions.error, [0.5, 0.0, 1.0])
    assert predictions.describe(0) == "value 1, error 0.5"
    np.testing.assert_array_equal(predictions.by_error(), [2, 0, 1])
    with pytest.raises(AnalysisError, match="needs a classifier"):
        predictions.select(mistakes=True)
    with pytest.raises(AnalysisError, match="needs a classifier"):
        predictions.report()


def test_a_studio_model_on_its_own_data():
    model, data = built("moons_mlp")
    predictions = build_predictions(model, data)
    assert len(predictions) == data.num_val
    rows = np.arange(len(predictions))
    np.testing.assert_allclose(predictions.confidence, predictions.probabilities[rows, predictions.predicted])
    assert (predictions.confidence >= 0.5).all()  # two classes: the predicted one is the likelier
    train = build_predictions(model, data, split="train")
    assert len(train) == data.num_train
