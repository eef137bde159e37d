"""Choosing the loss and metric for a task and output layer, and checking they fit together.

When the model builder strips a final sigmoid/softmax, the model returns logits and the loss is the
fused, numerically stable one (BCE-with-logits, cross-entropy on logits); metrics and predictions
still describe probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from studio.train.errors import TrainingError

ACTIVATIONS = ("sigmoid", "softmax")
REGRESSION_LOSSES = ("mse", "mae", "huber")

_REGRESSION_FNS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss,
}


def activate(outputs: Tensor, activation: str | None) -> Tensor:
    """Probabilities from logits for a stripped activation; other outputs pass through."""
    if activation == "sigmoid":
        return torch.sigmoid(outputs)
    if activation == "softmax":
        return torch.softmax(outputs, dim=1)
    return outputs


@dataclass(frozen=True)
class Objective:
    """The loss to minimise and the metric to report for one model and dataset.

    `fused`: the loss takes the model's logits directly. Otherwise `activation` (if any) is applied
    to the outputs before the loss. The metric is "accuracy" (classification) or "mae" (regression).
    """

    loss: str
    task: str
    outputs: int
    activation: str | None
    fused: bool

    @property
    def metric(self) -> str:
        return "accuracy" if self.task == "classification" else "mae"

    @property
    def binary(self) -> bool:
        return self.loss == "binary_cross_entropy"

    def targets(self, y: Tensor) -> Tensor:
        """Targets in the form the loss wants, converted once before training (never per batch)."""
        if self.binary:
            return y.reshape(-1, 1).to(torch.float32)
        if self.task == "regression":
            return y.reshape(y.shape[0], -1).to(torch.float32)
        return y.to(torch.int64)

    def check_targets(self, y: Tensor, split: str) -> None:
        """A clear error for labels the loss cannot take (instead of a device assert mid-run)."""
        if y.shape[0] == 0:
            return
        if self.task == "regression":
            width = y.reshape(y.shape[0], -1).shape[1]
            if width != self.outputs:
                raise TrainingError(f"the model gives {self.outputs} outputs but the {split} targets have "
                                    f"{width} values per sample")
            return
        low, high = int(y.min()), int(y.max())
        top = 1 if self.binary else self.outputs - 1
        if low < 0 or high > top:
            raise TrainingError(f"{split} labels run from {low} to {high}, but the model's {self.outputs} "
                                f"output(s) only cover classes 0 to {top}")

    def check_outputs(self, outputs: Tensor) -> None:
        """Binary cross-entropy without a stripped sigmoid takes probabilities: say so if they are not."""
        if self.binary and not self.fused and outputs.numel():
            low, high = float(outputs.min()), float(outputs.max())
            if low < 0 or high > 1:
                raise TrainingError("binary cross-entropy needs probabilities but the model gives values "
                                    f"from {low:.3g} to {high:.3g}; end the model with a sigmoid (or pass "
                                    "output_activation='sigmoid' when it returns logits)", setting="loss")

    def prediction_buffer(self, samples: int, device: torch.device) -> Tensor:
        """Room for one epoch's predictions: class indices, above-threshold flags, or values."""
        if self.binary:
            return torch.empty(samples, 1, dtype=torch.bool, device=device)
        if self.task == "classification":
            return torch.empty(samples, dtype=torch.int64, device=device)
        return torch.empty(samples, self.outputs, dtype=torch.float32, device=device)

    def loss_and_record(self, outputs: Tensor, target: Tensor, predictions: Tensor) -> Tensor:
        """The batch's mean loss; writes the batch's predictions into `predictions` (its rows of the
        epoch's prediction buffer), so the metric costs one small op per batch and one per epoch."""
        if not self.fused:
            outputs = activate(outputs, self.activation)
        if self.binary:
            # A logit above 0 is a probability above 0.5: no sigmoid needed to count hits.
            torch.gt(outputs, 0.0 if self.fused else 0.5, out=predictions)
            if self.fused:
                return F.binary_cross_entropy_with_logits(outputs, target)
            # BCE on probabilities refuses to run under autocast (it is unsafe in half precision).
            with torch.autocast(outputs.device.type, enabled=False):
                return F.binary_cross_entropy(outputs.float(), target)
        if self.task == "classification":
            torch.argmax(outputs, 1, out=predictions)
            return F.cross_entropy(outputs, target)
        predictions.copy_(outputs.detach())
        return _REGRESSION_FNS[self.loss](outputs, target)

    def metric_sum(self, predictions: Tensor, targets: Tensor) -> Tensor:
        """Correct predictions (classification) or summed absolute error (regression), as a 0-d tensor."""
        if self.task == "classification":
            return predictions.eq(targets).sum()
        return (predictions - targets).abs().sum()

    def metric_count(self, samples: int) -> int:
        """What the summed metric is divided by: samples, or every output of every sample for MAE."""
        return samples * (self.outputs if self.metric == "mae" else 1)


def resolve_objective(loss: str, *, task: str, outputs: int, classes: int | None,
                      output_activation: str | None) -> Objective:
    """The objective for the `loss` setting, or TrainingError saying why it does not fit.

    `outputs` is the width of the model's output, `classes` the dataset's class count (None for
    regression). "auto" picks binary cross-entropy for one sigmoid (or single) output, cross-entropy
    for several classes and mean squared error for regression.
    """
    if output_activation not in (None, *ACTIVATIONS):
        raise TrainingError(f"unknown output activation {output_activation!r}; expected sigmoid, softmax "
                            "or none")
    if task not in ("classification", "regression"):
        raise TrainingError(f"unknown task {task!r}; expected classification or regression")
    if loss == "auto":
        if task == "regression":
            loss = "mse"
        else:
            loss = "binary_cross_entropy" if outputs == 1 else "cross_entropy"
    fused = False
    if loss == "binary_cross_entropy":
        _need_classification(loss, task)
        if outputs != 1 or (classes is not None and classes != 2):
            raise TrainingError(f"binary cross-entropy needs one sigmoid output and two classes; the model "
                                f"gives {outputs} outputs for {classes} classes. Use cross_entropy with a "
                                "softmax output instead", setting="loss")
        if output_activation == "softmax":
            raise TrainingError("binary cross-entropy needs a sigmoid output, not softmax", setting="loss")
        fused = output_activation == "sigmoid"
    elif loss == "cross_entropy":
        _need_classification(loss, task)
        if outputs < 2:
            raise TrainingError("cross-entropy needs one output per class (two or more); with a single "
                                "sigmoid output use binary_cross_entropy", setting="loss")
        if classes is not None and outputs != classes:
            raise TrainingError(f"the model gives {outputs} outputs but the dataset has {classes} classes; "
                                f"set the last layer to {classes} units", setting="loss")
        if output_activation == "sigmoid":
            raise TrainingError("cross-entropy needs a softmax output (or raw scores), not sigmoid",
                                setting="loss")
        # Without a stripped softmax the outputs are taken as raw scores, as torch's cross-entropy does.
        fused = True
    elif loss in REGRESSION_LOSSES:
        if task != "regression":
            raise TrainingError(f"{loss} compares numbers, but this dataset has classes; use cross_entropy "
                                "or binary_cross_entropy", setting="loss")
    else:
        raise TrainingError(f"unknown loss {loss!r}", setting="loss")
    return Objective(loss=loss, task=task, outputs=outputs, activation=output_activation, fused=fused)


def _need_classification(loss: str, task: str) -> None:
    if task != "classification":
        raise TrainingError(f"{loss.replace('_', ' ')} is for classes, but this dataset is regression; "
                            "use mse, mae or huber", setting="loss")
