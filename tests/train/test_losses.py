"""Loss choice: fused losses on logits equal the textbook ones, and mismatches are refused early."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import blobs, history_values, mlp, regression, settings
from torch import nn

from studio.train import Trainer, TrainingError
from studio.train.losses import resolve_objective


def binary_blobs():
    return blobs(classes=2)


def test_fused_binary_loss_equals_sigmoid_then_bce():
    torch.manual_seed(0)
    logits = torch.randn(64, 1) * 4
    target = torch.randint(0, 2, (64,))
    binary = {"task": "classification", "outputs": 1, "classes": 2}
    fused = resolve_objective("auto", **binary, output_activation="sigmoid")
    plain = resolve_objective("auto", **binary, output_activation=None)
    assert fused.fused and fused.loss == "binary_cross_entropy" and not plain.fused
    t = fused.targets(target)
    predicted, plain_predicted = fused.prediction_buffer(64, t.device), plain.prediction_buffer(64, t.device)
    loss = fused.loss_and_record(logits, t, predicted)
    manual = F.binary_cross_entropy(torch.sigmoid(logits), target.float().unsqueeze(1))
    assert loss.item() == pytest.approx(manual.item(), rel=1e-5)
    plain_loss = plain.loss_and_record(torch.sigmoid(logits), t, plain_predicted)
    assert plain_loss.item() == pytest.approx(manual.item(), rel=1e-5)
    hits = ((logits.squeeze(1) > 0).long() == target).sum().item()
    assert fused.metric_sum(predicted, t).item() == plain.metric_sum(plain_predicted, t).item() == hits


def test_fused_softmax_loss_equals_softmax_then_nll():
    torch.manual_seed(0)
    logits = torch.randn(32, 4)
    target = torch.randint(0, 4, (32,))
    objective = resolve_objective("cross_entropy", task="classification", outputs=4, classes=4,
                                  output_activation="softmax")
    predicted = objective.prediction_buffer(32, logits.device)
    loss = objective.loss_and_record(logits, objective.targets(target), predicted)
    manual = F.nll_loss(torch.log(torch.softmax(logits, 1)), target)
    assert loss.item() == pytest.approx(manual.item(), rel=1e-5)
    assert torch.equal(predicted, logits.argmax(1))
    assert objective.metric_sum(predicted, target).item() == (logits.argmax(1) == target).sum().item()


def test_stripped_sigmoid_model_trains_like_the_model_with_its_sigmoid():
    with_sigmoid = mlp(outputs=1, final=nn.Sigmoid())
    stripped = mlp(outputs=1)  # same seed, same weights, no final sigmoid
    run = settings(epochs=2, loss="binary_cross_entropy")
    a = Trainer(with_sigmoid, binary_blobs(), run).fit()
    b = Trainer(stripped, binary_blobs(), run, output_activation="sigmoid").fit()
    assert a.status == b.status == "completed"
    for ours, theirs in zip(history_values(a), history_values(b), strict=True):
        assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-6)


def test_model_attribute_names_a_stripped_activation():
    model = mlp(outputs=1)
    model.output_activation = "sigmoid"
    trainer = Trainer(model, binary_blobs(), settings(epochs=1))
    assert trainer.objective.fused and trainer.objective.loss == "binary_cross_entropy"


@pytest.mark.parametrize("task,outputs,classes,activation,expected", [
    ("classification", 1, 2, "sigmoid", "binary_cross_entropy"),
    ("classification", 1, 2, None, "binary_cross_entropy"),
    ("classification", 3, 3, "softmax", "cross_entropy"),
    ("classification", 3, 3, None, "cross_entropy"),
    ("regression", 2, None, None, "mse"),
])
def test_auto_loss(task, outputs, classes, activation, expected):
    objective = resolve_objective("auto", task=task, outputs=outputs, classes=classes,
                                  output_activation=activation)
    assert objective.loss == expected
    assert objective.metric == ("accuracy" if task == "classification" else "mae")


@pytest.mark.parametrize("loss,task,outputs,classes,activation,match", [
    ("binary_cross_entropy", "classification", 10, 10, "softmax", "one sigmoid output"),
    ("binary_cross_entropy", "regression", 1, None, "sigmoid", "regression"),
    ("cross_entropy", "regression", 2, None, None, "regression"),
    ("cross_entropy", "classification", 1, 2, "sigmoid", "binary_cross_entropy"),
    ("cross_entropy", "classification", 3, 3, "sigmoid", "softmax"),
    ("cross_entropy", "classification", 5, 3, None, "3 classes"),
    ("mse", "classification", 3, 3, None, "classes"),
    ("huber", "classification", 1, 2, "sigmoid", "classes"),
])
def test_loss_that_does_not_fit_the_task_is_refused(loss, task, outputs, classes, activation, match):
    with pytest.raises(TrainingError, match=match) as info:
        resolve_objective(loss, task=task, outputs=outputs, classes=classes, output_activation=activation)
    assert info.value.setting == "loss"


def test_mismatch_is_reported_by_the_trainer_before_training():
    model = mlp(outputs=3)
    with pytest.raises(TrainingError, match="regression"):
        Trainer(mlp(3, 2), regression(), settings(loss="cross_entropy"))
    with pytest.raises(TrainingError, match="binary cross-entropy"):
        Trainer(model, blobs(), settings(loss="binary_cross_entropy"))


def test_binary_loss_on_raw_outputs_asks_for_a_sigmoid():
    with pytest.raises(TrainingError, match="needs probabilities"):
        Trainer(mlp(outputs=1), binary_blobs(), settings())


def test_labels_outside_the_outputs_are_reported():
    data = blobs()
    data.train_y[0] = 7
    with pytest.raises(TrainingError, match="labels run from 0 to 7"):
        Trainer(mlp(), data, settings())
