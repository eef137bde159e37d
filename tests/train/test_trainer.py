"""The training loop: learning, repeatability, control from other threads, failures that end cleanly."""

from __future__ import annotations

import math
import threading
import time

import pytest
import torch
from conftest import Recorder, blobs, cnn, history_values, images, mlp, regression, settings
from torch import nn

from studio.train import Callback, Trainer
from studio.train.checkpoints import read_weights


def run_in_thread(trainer: Trainer, **kwargs) -> tuple[threading.Thread, dict]:
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(result=trainer.fit(**kwargs)), daemon=True)
    thread.start()
    return thread, out


class Slow(Callback):
    """Makes batches take a little while and says when a given batch has been reached."""

    def __init__(self, at_batch: int, delay: float = 0.002):
        self.at_batch, self.delay = at_batch, delay
        self.reached = threading.Event()
        self.batches = 0

    def on_batch_end(self, info):
        self.batches += 1
        if self.batches >= self.at_batch:
            self.reached.set()
        time.sleep(self.delay)


def test_training_reduces_the_loss_and_learns_the_classes():
    result = Trainer(mlp(), blobs(), settings(epochs=6)).fit()
    assert result.status == "completed", result.message
    losses = [e["loss"] for e in result.epochs]
    assert losses[-1] < 0.3 * losses[0]
    assert result.epochs[-1]["val_accuracy"] > 0.9
    assert [e["epoch"] for e in result.epochs] == [1, 2, 3, 4, 5, 6]
    assert len(result.batch_loss) == 6 * math.ceil(180 / 16)


def test_regression_reports_mae_and_learns():
    result = Trainer(mlp(3, 2), regression(), settings(epochs=8, learning_rate=0.02)).fit()
    assert result.status == "completed", result.message
    first, last = result.epochs[0], result.epochs[-1]
    assert set(first) >= {"mae", "val_mae"} and "accuracy" not in first
    assert last["val_mae"] < 0.5 * first["val_mae"]


def test_same_seed_repeats_history_exactly_and_another_seed_does_not():
    def run(seed, unrelated_rng_seed):
        model = mlp(dropout=0.3)
        torch.manual_seed(unrelated_rng_seed)  # whatever ran before must not matter
        return Trainer(model, blobs(), settings(seed=seed)).fit()

    first, second, other = run(5, 1), run(5, 2), run(6, 1)
    assert history_values(first) == history_values(second)
    assert first.batch_loss == second.batch_loss
    assert history_values(first) != history_values(other)


def test_record_is_json_ready_with_the_documented_fields(tmp_ckpt):
    import json

    result = Trainer(mlp(), blobs(), settings(epochs=2), checkpoint_dir=tmp_ckpt).fit()
    record = json.loads(json.dumps(result.to_dict()))
    assert set(record) == {"id", "started", "duration_s", "device", "precision", "status", "message",
                           "settings", "epochs", "batch_loss", "best_epoch", "weights"}
    assert record["precision"] in ("bfloat16", "float32")
    assert set(record["epochs"][0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr",
                                        "time_s", "samples_per_s"}
    assert record["weights"] == "last.safetensors" and record["device"] == "cpu"
    assert record["settings"]["epochs"] == 2 and record["best_epoch"] in (1, 2)
    assert (tmp_ckpt / "last.safetensors").exists() and (tmp_ckpt / "best.safetensors").exists()


def test_callbacks_get_plain_data_only_and_layer_gradient_norms():
    recorder = Recorder()
    result = Trainer(mlp(), blobs(), settings(epochs=2, grad_norm_every=4), callbacks=[recorder]).fit()
    assert result.status == "completed"

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (bool, int, float, str))

    for event in ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_grad_norms",
                  "on_train_end"):
        assert recorder[event], event
        assert all(plain(info) for info in recorder[event]), event
    batches = recorder["on_batch_end"]
    assert len(batches) == 2 * 12 and batches[-1]["batch"] == 12 and batches[-1]["epoch"] == 2
    assert set(batches[0]) >= {"epoch", "epochs", "batch", "batches", "loss", "metrics", "lr",
                               "samples_per_s", "elapsed", "eta"}
    assert batches[-1]["eta"] == 0.0
    # The running means at an epoch's last batch are that epoch's figures.
    ends = recorder["on_epoch_end"]
    for last, epoch in ((batches[11], ends[0]), (batches[-1], ends[1])):
        assert last["metrics"]["loss"] == pytest.approx(epoch["metrics"]["loss"])
        assert last["metrics"]["accuracy"] == pytest.approx(epoch["metrics"]["accuracy"])
    norms = recorder["on_grad_norms"]
    assert len(norms) == 24 // 4
    # Grouped by top-level layer: the two Linear layers of the Sequential ("0" and "2"); ReLU has none.
    assert set(norms[0]["norms"]) == {"0", "2"}
    assert all(v > 0 for v in norms[0]["norms"].values())
    assert recorder["on_train_end"][0]["status"] == "completed"


def test_stop_from_another_thread_ends_mid_epoch_and_keeps_the_weights(tmp_ckpt):
    model = mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    slow = Slow(at_batch=5)
    trainer = Trainer(model, blobs(n=2000), settings(epochs=3, batch_size=8), callbacks=[slow],
                      checkpoint_dir=tmp_ckpt)
    thread, out = run_in_thread(trainer)
    assert slow.reached.wait(20)
    trainer.stop()
    thread.join(20)
    assert not thread.is_alive()
    result = out["result"]
    assert result.status == "stopped" and "epoch 1" in result.message
    assert result.epochs == [] and 5 <= slow.batches < 188
    saved = read_weights(tmp_ckpt / "last.safetensors")
    for name, value in model.state_dict().items():
        assert torch.isfinite(value).all()
        assert torch.equal(saved[name], value)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_pause_holds_the_run_until_resume():
    slow = Slow(at_batch=5)
    trainer = Trainer(mlp(), blobs(n=800), settings(epochs=1, batch_size=8), callbacks=[slow])
    thread, out = run_in_thread(trainer)
    assert slow.reached.wait(20)
    trainer.pause()
    assert trainer.paused
    time.sleep(0.2)  # lets the batch in flight finish
    held = slow.batches
    time.sleep(0.5)
    assert slow.batches == held, "batches ran while paused"
    assert thread.is_alive() and held < 75
    trainer.resume()
    thread.join(20)
    assert not thread.is_alive()
    assert out["result"].status == "completed"
    assert slow.batches == 75  # every batch of the epoch, none lost or repeated


def test_stop_wakes_a_paused_run():
    slow = Slow(at_batch=3)
    trainer = Trainer(mlp(), blobs(n=800), settings(epochs=2, batch_size=8), callbacks=[slow])
    thread, out = run_in_thread(trainer)
    assert slow.reached.wait(20)
    trainer.pause()
    time.sleep(0.1)
    trainer.stop()
    thread.join(10)
    assert not thread.is_alive() and out["result"].status == "stopped"


class Poisonable(nn.Module):
    """A model whose output turns to NaN once `poisoned` is set."""

    def __init__(self):
        super().__init__()
        self.net = mlp()
        self.poisoned = False

    def forward(self, x):
        out = self.net(x)
        return out * math.nan if self.poisoned else out


class PoisonAfter(Callback):
    def __init__(self, model, epoch):
        self.model, self.epoch = model, epoch

    def on_epoch_end(self, info):
        if info["epoch"] == self.epoch:
            self.model.poisoned = True


def test_nan_loss_fails_naming_epoch_and_batch_and_restores_last_good_weights(tmp_ckpt):
    model = Poisonable()
    result = Trainer(model, blobs(), settings(epochs=4), callbacks=[PoisonAfter(model, 2)],
                     checkpoint_dir=tmp_ckpt).fit()
    assert result.status == "failed"
    assert "nan" in result.message and "epoch 3, batch 1" in result.message
    assert len(result.epochs) == 2 and result.weights == "last.safetensors"
    saved = read_weights(tmp_ckpt / "last.safetensors")  # written at the end of epoch 2
    for name, value in model.state_dict().items():
        assert torch.isfinite(value).all()
        assert torch.equal(saved[name], value), name


def test_diverging_learning_rate_fails_with_finite_weights():
    data = regression()
    data.train_x *= 100
    model = mlp(3, 2)
    result = Trainer(model, data, settings(epochs=20, optimizer="sgd", learning_rate=5.0, momentum=0.9)).fit()
    assert result.status == "failed" and "became" in result.message
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())


def test_error_in_the_model_fails_the_run_naming_the_batch():
    class Breaks(nn.Module):
        def __init__(self):
            super().__init__()
            self.net, self.calls = mlp(), 0

        def forward(self, x):
            self.calls += 1
            if self.calls == 5:  # the probe is call 1, so this is batch 4 of epoch 1
                raise RuntimeError("the layer broke")
            return self.net(x)

    result = Trainer(Breaks(), blobs(), settings()).fit()
    assert result.status == "failed"
    assert result.message == "RuntimeError: the layer broke (failed at epoch 1, batch 4 of 12)"


class Boom(Callback):
    def on_batch_end(self, info):
        if info["batch"] == 3:
            raise ValueError("boom in the callback")


def test_exception_in_a_callback_fails_the_run_without_hanging():
    ended = Recorder()
    trainer = Trainer(mlp(), blobs(), settings(), callbacks=[Boom(), ended])
    thread, out = run_in_thread(trainer)
    thread.join(30)
    assert not thread.is_alive()
    result = out["result"]
    assert result.status == "failed" and "boom in the callback" in result.message
    assert ended["on_train_end"][0]["status"] == "failed"  # the other callbacks still hear the end
    assert not trainer.running


def test_early_stopping_keeps_last_weights_and_best_file_separately(tmp_ckpt):
    class NoLearning(Callback):
        """Freezes learning after epoch 1 so the validation loss cannot improve."""

        def __init__(self):
            self.trainer = None

        def on_epoch_end(self, info):
            if info["epoch"] == 1:
                for group in self.trainer._optimizer.param_groups:
                    group["lr"] = 0.0

    freeze = NoLearning()
    trainer = Trainer(mlp(), blobs(), settings(epochs=10, early_stopping=2), callbacks=[freeze],
                      checkpoint_dir=tmp_ckpt)
    freeze.trainer = trainer
    result = trainer.fit()
    assert result.status == "early_stopped" and "best was epoch 1" in result.message
    assert len(result.epochs) == 3 and result.best_epoch == 1
    assert (tmp_ckpt / "best.safetensors").exists()


def test_convolutional_model_trains_channels_last_with_augmentation():
    data = images()
    seen = []

    def augment(x):
        seen.append(tuple(x.shape))
        return torch.flip(x, dims=[3])

    data.augment = augment
    model = cnn()
    result = Trainer(model, data, settings(epochs=2, channels_last=True)).fit()
    assert result.status == "completed", result.message
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert len(seen) == 2 * math.ceil(36 / 16)


def test_fit_restores_the_thread_count_and_runs_without_validation_data():
    data = blobs()
    data.val_x, data.val_y = data.val_x[:0], data.val_y[:0]
    before = torch.get_num_threads()
    result = Trainer(mlp(), data, settings(epochs=2, early_stopping=1, schedule="plateau")).fit()
    assert torch.get_num_threads() == before
    assert result.status in ("completed", "early_stopped")
    assert result.epochs[0]["val_loss"] is None and result.epochs[0]["val_accuracy"] is None


def test_model_output_that_cannot_fit_the_data_is_reported_before_training():
    from studio.train import TrainingError

    with pytest.raises(TrainingError, match="cannot run on this data"):
        Trainer(mlp(features=7), blobs(), settings())
    with pytest.raises(TrainingError, match="3 classes"):
        Trainer(mlp(outputs=5), blobs(), settings())


def test_bad_settings_name_the_setting():
    from studio.train import TrainingError

    with pytest.raises(TrainingError) as info:
        Trainer(mlp(), blobs(), settings(batch_size=0))
    assert info.value.setting == "batch_size"
