"""The model's prediction for every validation sample, as a table a gallery can filter, sort and page.

Selections are arrays of row numbers; a row number is the sample's position in its part of the data
(`index`), so a view can fetch the sample (and draw its thumbnail) only when it shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from studio.analysis import AnalysisError
from studio.analysis.evaluation import (
    ClassificationReport,
    class_probabilities,
    classify_report,
    predicted_classes,
)
from studio.analysis.samples import Split, split_samples

if TYPE_CHECKING:
    from studio.core.build import GraphModule
    from studio.data import LoadedData

ClassRef = int | str  # a class by index or by name


@dataclass
class Predictions:
    task: str  # "classification" or "regression"
    class_names: list[str]
    index: np.ndarray  # each row's position in its part of the data
    true: np.ndarray  # classification: class (N,); regression: values (N, outputs)
    predicted: np.ndarray  # the same layout as `true`
    probabilities: np.ndarray | None = None  # (N, classes); a sigmoid model has [1 - p, p]
    confidence: np.ndarray | None = None  # probability of the predicted class
    error: np.ndarray | None = None  # regression: mean absolute error of each sample

    def __len__(self) -> int:
        return len(self.index)

    @property
    def is_classification(self) -> bool:
        return self.task == "classification"

    def report(self) -> ClassificationReport:
        """Accuracy, confusion matrix (rows true, columns predicted) and per-class scores."""
        self._need_classes("a confusion matrix")
        return classify_report(self.true, self.predicted, self.class_names)

    def select(self, *, mistakes: bool = False, true_class: ClassRef | None = None,
               predicted_class: ClassRef | None = None) -> np.ndarray:
        """Rows that pass every given filter, in sample order."""
        keep = np.ones(len(self), dtype=bool)
        if mistakes or true_class is not None or predicted_class is not None:
            self._need_classes("class filters")
        if mistakes:
            keep &= self.true != self.predicted
        if true_class is not None:
            keep &= self.true == self.class_index(true_class)
        if predicted_class is not None:
            keep &= self.predicted == self.class_index(predicted_class)
        return np.flatnonzero(keep)

    def cell(self, true_class: ClassRef, predicted_class: ClassRef) -> np.ndarray:
        """Rows behind one confusion-matrix cell: true `true_class`, predicted `predicted_class`."""
        return self.select(true_class=true_class, predicted_class=predicted_class)

    def by_confidence(self, rows: np.ndarray | None = None, *, descending: bool = True) -> np.ndarray:
        """`rows` (default: all) ordered by the probability of their prediction; ties keep sample order."""
        self._need_classes("sorting by confidence")
        return _ordered(self.confidence, rows, descending)

    def by_error(self, rows: np.ndarray | None = None, *, descending: bool = True) -> np.ndarray:
        """`rows` (default: all) ordered by their error (regression)."""
        if self.error is None:
            raise AnalysisError("sorting by error needs a regression model; sort by confidence instead")
        return _ordered(self.error, rows, descending)

    def class_index(self, value: ClassRef) -> int:
        if isinstance(value, str):
            if value not in self.class_names:
                raise AnalysisError(f"no class '{value}'; classes: {', '.join(self.class_names)}")
            return self.class_names.index(value)
        if not 0 <= int(value) < len(self.class_names):
            raise AnalysisError(f"class {value} is out of range: there are {len(self.class_names)} classes")
        return int(value)

    def describe(self, row: int) -> str:
        """The caption of one sample, like "Dog, prob. 0.51" (regression: "value 3.2, error 0.4")."""
        if self.is_classification:
            name = self.class_names[int(self.predicted[row])]
            return f"{name[:1].upper()}{name[1:]}, prob. {self.confidence[row]:.2f}"
        values = ", ".join(f"{v:.4g}" for v in self.predicted[row])
        noun = "value" if self.predicted.shape[1] == 1 else "values"
        return f"{noun} {values}, error {self.error[row]:.4g}"

    def _need_classes(self, what: str) -> None:
        if not self.is_classification:
            raise AnalysisError(f"{what} needs a classifier; this model does regression")


def build_predictions(model: GraphModule, data: LoadedData, *, split: Split = "val",
                      batch_size: int = 256) -> Predictions:
    """Predict every sample of one part of the data (batched, without gradients) into a table."""
    from studio.train.predict import predict

    x, y = split_samples(data, split)
    outputs = predict(model, x, output_activation=model.output_activation, batch_size=batch_size)
    index = np.arange(len(outputs))
    if data.info.task != "classification":
        true = y.numpy().reshape(len(y), -1)
        values = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
        return Predictions("regression", [], index, true, values, error=np.abs(values - true).mean(axis=1))
    probabilities = class_probabilities(outputs)
    predicted = predicted_classes(outputs)  # the same rule as the evaluation (a sigmoid splits at 0.5)
    return Predictions("classification", list(data.info.class_names), index, y.numpy().astype(np.int64),
                       predicted, probabilities, probabilities[index, predicted])


def page_count(rows: int, size: int) -> int:
    """How many pages of `size` hold `rows` rows (at least one, shown empty)."""
    if size < 1:
        raise ValueError(f"page size must be at least 1, got {size}")
    return max(1, -(-rows // size))


def page(rows: np.ndarray, number: int, size: int) -> np.ndarray:
    """Page `number` (from 0) of `size` rows: a slice of `rows`, empty past the end."""
    if number < 0 or size < 1:
        raise ValueError(f"page {number} of size {size}: the page counts from 0 and holds at least 1 row")
    return np.asarray(rows)[number * size:(number + 1) * size]


def _ordered(values: np.ndarray, rows: np.ndarray | None, descending: bool) -> np.ndarray:
    rows = np.arange(len(values)) if rows is None else np.asarray(rows, dtype=np.int64)
    keys = values[rows]
    order = np.argsort(-keys if descending else keys, kind="stable")
    return rows[order]
