"""Scores of a trained model on labelled samples: accuracy, confusion matrix, per-class scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ClassificationReport:
    class_names: list[str]
    accuracy: float
    confusion: np.ndarray  # rows: true class, columns: predicted class
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    def normalised_confusion(self) -> np.ndarray:
        """Each row divided by its total (the share of each true class predicted as each class)."""
        totals = self.confusion.sum(axis=1, keepdims=True)
        return np.divide(self.confusion, totals, out=np.zeros(self.confusion.shape), where=totals > 0)


@dataclass
class RegressionReport:
    mse: float
    mae: float
    r2: float


def predicted_classes(probabilities: np.ndarray) -> np.ndarray:
    """Class indices from a model's probabilities: one sigmoid column means classes 0/1 split at 0.5."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 1 or probabilities.shape[1] == 1:
        return (probabilities.reshape(-1) >= 0.5).astype(np.int64)
    return probabilities.argmax(axis=1)


def class_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities as one column per class (a single sigmoid column becomes [1 - p, p])."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim == 1 or probabilities.shape[1] == 1:
        p = probabilities.reshape(-1)
        return np.stack([1.0 - p, p], axis=1)
    return probabilities


def classify_report(targets: np.ndarray, predictions: np.ndarray,
                    class_names: list[str]) -> ClassificationReport:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        targets, predictions, labels=labels, zero_division=0)
    return ClassificationReport(
        class_names=list(class_names), accuracy=float(accuracy_score(targets, predictions)),
        confusion=confusion_matrix(targets, predictions, labels=labels), precision=precision, recall=recall,
        f1=f1, support=support)


def regression_report(targets: np.ndarray, predictions: np.ndarray) -> RegressionReport:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    targets = np.asarray(targets).reshape(len(targets), -1)
    predictions = np.asarray(predictions).reshape(len(predictions), -1)
    return RegressionReport(mse=float(mean_squared_error(targets, predictions)),
                            mae=float(mean_absolute_error(targets, predictions)),
                            r2=float(r2_score(targets, predictions)))


def format_classification(report: ClassificationReport) -> str:
    names = report.class_names
    width = max(12, *(len(n) for n in names)) + 2
    lines = [f"Validation accuracy: {report.accuracy:.4f} ({int(report.confusion.trace())}/"
             f"{int(report.confusion.sum())})", "", "Confusion matrix (rows: true, columns: predicted)"]
    cell = max(5, len(str(int(report.confusion.max(initial=0)))) + 1)
    lines.append(" " * width + "".join(_abbrev(n, cell).rjust(cell) for n in names))
    for name, row in zip(names, report.confusion, strict=True):
        lines.append(name.ljust(width) + "".join(str(int(v)).rjust(cell) for v in row))
    lines += ["", "class".ljust(width) + "precision".rjust(11) + "recall".rjust(9) + "f1".rjust(9)
              + "support".rjust(9)]
    for i, name in enumerate(names):
        lines.append(name.ljust(width) + f"{report.precision[i]:11.4f}{report.recall[i]:9.4f}"
                     f"{report.f1[i]:9.4f}{int(report.support[i]):9d}")
    lines.append("macro avg".ljust(width) + f"{report.precision.mean():11.4f}{report.recall.mean():9.4f}"
                 f"{report.f1.mean():9.4f}{int(report.support.sum()):9d}")
    return "\n".join(lines)


def format_regression(report: RegressionReport) -> str:
    return (f"Validation MSE: {report.mse:.6g}\nValidation MAE: {report.mae:.6g}\n"
            f"Validation R^2: {report.r2:.4f}")


def _abbrev(name: str, width: int) -> str:
    return name if len(name) < width else name[: width - 2] + "."
