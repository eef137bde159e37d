"""Checkpoints: a stopped run resumes exactly, and state files load without running code."""

from __future__ import annotations

import pytest
import torch
from conftest import StopAt, blobs, history_values, mlp, settings

from studio.train import Trainer, TrainingError
from studio.train.checkpoints import STATE_FILE


def stopped_then_resumed(folder, stop: StopAt, **overrides):
    """A run stopped by `stop`, then continued by a new Trainer on a differently initialised model."""
    trainer = Trainer(mlp(dropout=0.2), blobs(), settings(**overrides), callbacks=[stop],
                      checkpoint_dir=folder)
    stop.trainer = trainer
    first = trainer.fit()
    assert first.status == "stopped"
    assert len(first.epochs) == (stop.epoch if stop.batch is None else stop.epoch - 1)
    model = mlp(dropout=0.2, seed=99)
    return first, Trainer(model, blobs(), settings(**overrides), checkpoint_dir=folder).fit(resume=True)


@pytest.mark.parametrize("stop", [StopAt(2), StopAt(2, batch=5)], ids=["epoch-boundary", "mid-epoch"])
@pytest.mark.parametrize("schedule", ["none", "onecycle"])
def test_resumed_run_repeats_the_straight_run(tmp_path, stop, schedule):
    overrides = {"epochs": 4, "schedule": schedule, "optimizer": "adam"}
    straight = Trainer(mlp(dropout=0.2), blobs(), settings(**overrides)).fit()
    first, resumed = stopped_then_resumed(tmp_path / "run", stop, **overrides)
    assert resumed.status == "completed", resumed.message
    assert resumed.id == first.id and resumed.started == first.started
    assert [e["epoch"] for e in resumed.epochs] == [1, 2, 3, 4]
    for ours, theirs in zip(history_values(resumed), history_values(straight), strict=True):
        assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-9)
    assert resumed.batch_loss == pytest.approx(straight.batch_loss, rel=1e-6)


@pytest.mark.parametrize("optimizer,schedule", [("sgd", "step"), ("adamw", "cosine"), ("rmsprop", "plateau"),
                                                ("adam", "onecycle")])
def test_state_file_loads_with_weights_only(tmp_path, optimizer, schedule):
    Trainer(mlp(), blobs(), settings(epochs=1, optimizer=optimizer, schedule=schedule),
            checkpoint_dir=tmp_path).fit()
    state = torch.load(tmp_path / STATE_FILE, weights_only=True)
    assert state["settings"]["optimizer"] == optimizer
    assert state["optimizer"]["state"] and state["progress"]["epochs_done"] == 1
    assert state["scheduler"] is not None


def test_nothing_to_resume_is_a_clear_error(tmp_path):
    with pytest.raises(TrainingError, match="nothing to resume"):
        Trainer(mlp(), blobs(), settings(), checkpoint_dir=tmp_path).fit(resume=True)
    with pytest.raises(TrainingError, match="checkpoint folder"):
        Trainer(mlp(), blobs(), settings()).fit(resume=True)


def test_resume_with_another_optimizer_is_refused(tmp_path):
    Trainer(mlp(), blobs(), settings(epochs=1), checkpoint_dir=tmp_path).fit()
    with pytest.raises(TrainingError, match="optimizer"):
        Trainer(mlp(), blobs(), settings(epochs=2, optimizer="sgd"), checkpoint_dir=tmp_path).fit(resume=True)


def test_resume_extends_a_finished_run(tmp_path):
    Trainer(mlp(), blobs(), settings(epochs=2), checkpoint_dir=tmp_path).fit()
    more = Trainer(mlp(), blobs(), settings(epochs=3), checkpoint_dir=tmp_path).fit(resume=True)
    assert more.status == "completed" and [e["epoch"] for e in more.epochs] == [1, 2, 3]


@pytest.fixture
def deferred_reads(monkeypatch):
    """Keeps losses on the device and peeks only now and then, as on a GPU (here on the CPU)."""
    monkeypatch.setattr(Trainer, "_reads_every_batch", property(lambda self: False))


def test_deferred_loss_reading_gives_the_same_run(tmp_path, deferred_reads, monkeypatch):
    monkeypatch.setattr("studio.train.trainer.GPU_PEEK_INTERVAL_S", 0.0)  # so StopAt sees batch 5
    overrides = {"epochs": 3}
    straight = Trainer(mlp(dropout=0.2), blobs(), settings(**overrides)).fit()
    first, resumed = stopped_then_resumed(tmp_path / "run", StopAt(2, batch=5), **overrides)
    assert resumed.status == "completed", resumed.message
    for ours, theirs in zip(history_values(resumed), history_values(straight), strict=True):
        assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-9)
    assert len(straight.batch_loss) == 3 * 12


def test_deferred_reading_still_catches_a_nan_batch(deferred_reads):
    from test_trainer import Poisonable, PoisonAfter

    model = Poisonable()
    result = Trainer(model, blobs(), settings(epochs=3), callbacks=[PoisonAfter(model, 1)]).fit()
    assert result.status == "failed" and "epoch 2, batch 1" in result.message
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
