"""Every optimizer, schedule and loss the settings offer builds and trains for an epoch."""

from __future__ import annotations

import pytest
import torch
from conftest import Data, Info, blobs, images, mlp, regression, settings
from torch import nn

from studio.core.training_settings import LOSSES, OPTIMIZERS, SCHEDULES
from studio.train import Trainer, TrainingError


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_each_optimizer_runs_an_epoch(optimizer):
    result = Trainer(mlp(), blobs(), settings(epochs=1, optimizer=optimizer, weight_decay=1e-4,
                                              nesterov=optimizer == "sgd", grad_clip=1.0,
                                              learning_rate=0.01)).fit()
    assert result.status == "completed", result.message
    assert result.epochs[0]["loss"] > 0


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_each_schedule_runs_and_moves_the_rate_as_documented(schedule):
    result = Trainer(mlp(), blobs(), settings(epochs=3, schedule=schedule, step_size=1, gamma=0.5,
                                              optimizer="sgd", learning_rate=0.1)).fit()
    assert result.status == "completed", result.message
    rates = [e["lr"] for e in result.epochs]
    if schedule == "none":
        assert rates == [0.1, 0.1, 0.1]
    elif schedule == "step":
        assert rates == pytest.approx([0.1, 0.05, 0.025])
    elif schedule in ("cosine", "onecycle"):
        assert rates[-1] < rates[0]


@pytest.mark.parametrize("loss", LOSSES)
def test_each_loss_runs_an_epoch_on_a_task_it_fits(loss):
    if loss in ("mse", "mae", "huber"):
        model, data = mlp(3, 2), regression()
    elif loss == "binary_cross_entropy":
        model, data = mlp(outputs=1, final=nn.Sigmoid()), blobs(classes=2)
    else:
        model, data = mlp(), blobs()
    result = Trainer(model, data, settings(epochs=1, loss=loss)).fit()
    assert result.status == "completed", result.message


def test_regression_with_a_sigmoid_output_applies_it_before_the_loss():
    data = regression(outputs=1)
    data.train_y, data.val_y = data.train_y.sigmoid(), data.val_y.sigmoid()
    result = Trainer(mlp(3, 1), data, settings(epochs=1), output_activation="sigmoid").fit()
    assert result.status == "completed"
    assert 0 < result.epochs[0]["val_mae"] < 0.5


def test_nesterov_without_momentum_is_refused():
    with pytest.raises(TrainingError, match="Nesterov"):
        Trainer(mlp(), blobs(), settings(optimizer="sgd", nesterov=True, momentum=0.0)).fit()


def test_frozen_model_is_refused():
    model = mlp()
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(TrainingError, match="no trainable parameters"):
        Trainer(model, blobs(), settings()).fit()


def test_image_model_with_batch_norm_and_dropout_trains():
    data = images()
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Dropout(0.2),
                          nn.Linear(4 * 6 * 6, 2))
    result = Trainer(model, data, settings(epochs=2, channels_last=False)).fit()
    assert result.status == "completed", result.message


def test_token_ids_train_through_an_embedding():
    class Bag(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(20, 8)
            self.out = nn.Linear(8, 2)

        def forward(self, ids):
            return self.out(self.embed(ids).mean(1))

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 20, (64, 5), generator=g)
    labels = (ids < 10).sum(1).gt(2).long()
    data = Data(ids[:48], labels[:48], ids[48:], labels[48:], Info("classification", ["a", "b"], 2, (5,)))
    result = Trainer(Bag(), data, settings(epochs=2)).fit()
    assert result.status == "completed", result.message
