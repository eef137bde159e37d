"""An image folder over its memory limit streams from the disk cache: it trains, resumes and repeats
exactly as the same folder held in memory, and the run says which way it was read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from studio.data import load_dataset
from studio.data.base import DataError
from studio.data.disk_cache import CACHE_ENV
from studio.data.streamed import StreamedRows
from studio.train import Trainer
from studio.train.predict import predict

SIZE = 64  # 64x64x3 bytes a image: the folder's 100 images decode to 1.2 MB, over a 1 MB limit
PER_CLASS = 50


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Two classes of noisy pictures that differ in colour, so a tiny model learns them."""
    root = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    for label, name in enumerate(("cat", "dog")):
        (root / name).mkdir()
        for index in range(PER_CLASS):
            pixels = rng.integers(0, 120, (SIZE, SIZE, 3), dtype=np.uint8)
            pixels[..., label] += 100
            Image.fromarray(pixels).save(root / name / f"{index:03d}.png")
    return root


@pytest.fixture(autouse=True)
def cache_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def load(folder: Path, limit_mb: int, **settings):
    return load_dataset("image_folder", {"path": str(folder), "image_size": [SIZE, SIZE],
                                         "memory_limit_mb": limit_mb, **settings})


def model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 16 * 16, 2))


def fit(data, checkpoint_dir=None, callbacks=(), resume=False, **overrides):
    settings = {"epochs": 3, "batch_size": 16, "learning_rate": 0.01, "device": "cpu", "seed": 3,
                "threads": 1, "grad_norm_every": 0, "mixed_precision": False, **overrides}
    trainer = Trainer(model(), data, settings, callbacks=callbacks, checkpoint_dir=checkpoint_dir)
    for callback in callbacks:
        callback.trainer = trainer
    return trainer.fit(resume=resume)


def test_a_folder_over_its_limit_streams_the_same_samples(folder, cache_folder):
    held, streamed = load(folder, 0), load(folder, 1)
    assert not held.streamed and held.storage.startswith("in memory, ")
    assert streamed.streamed and isinstance(streamed.train_x, StreamedRows)
    assert streamed.storage.startswith("streamed from disk, cache 1.2 MiB in ") \
        and str(cache_folder) in streamed.storage
    for part in ("train", "val"):
        assert torch.equal(getattr(streamed, f"{part}_x")[:], getattr(held, f"{part}_x"))
        assert torch.equal(getattr(streamed, f"{part}_y"), getattr(held, f"{part}_y"))
    assert streamed.info.class_names == held.info.class_names == ["cat", "dog"]


def test_streamed_training_repeats_the_in_memory_run_exactly(folder):
    held = fit(load(folder, 0))
    streamed = fit(load(folder, 1))
    again = fit(load(folder, 1))
    assert held.status == streamed.status == "completed"
    assert streamed.epochs[-1]["val_accuracy"] >= 0.9  # it learned from what it read
    for run in (streamed, again):
        assert run.batch_loss == held.batch_loss
        assert [e["val_loss"] for e in run.epochs] == [e["val_loss"] for e in held.epochs]


class _StopAt:
    def __init__(self, epoch: int, batch: int):
        self.epoch, self.batch, self.trainer = epoch, batch, None

    def on_batch_end(self, info):
        if (info["epoch"], info["batch"]) == (self.epoch, self.batch):
            self.trainer.stop()


def test_a_streamed_run_stopped_mid_epoch_resumes_exactly(folder, tmp_path):
    straight = fit(load(folder, 1))
    first = fit(load(folder, 1), checkpoint_dir=tmp_path / "run", callbacks=[_StopAt(2, 3)])
    assert first.status == "stopped"
    resumed = fit(load(folder, 1), checkpoint_dir=tmp_path / "run", resume=True)
    assert resumed.status == "completed", resumed.message
    assert resumed.batch_loss == pytest.approx(straight.batch_loss, rel=1e-6)


def test_the_read_ahead_thread_ends_with_the_run(folder, monkeypatch):
    monkeypatch.setattr("studio.data.streamed.read_ahead_pays", lambda device, threads: True)
    data = load(folder, 1)
    seen = []
    original = StreamedRows.prefetch

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append(self.reading_ahead)

    monkeypatch.setattr(StreamedRows, "prefetch", spy)
    result = fit(data, epochs=2)
    assert result.status == "completed"
    assert len(seen) == 4 and any(seen)  # two epochs, two validations
    assert not data.train_x.reading_ahead and not data.val_x.reading_ahead


def test_predictions_of_streamed_samples_equal_those_held(folder):
    net = model()
    held, streamed = load(folder, 0), load(folder, 1)
    assert np.array_equal(predict(net, streamed.val_x, batch_size=7), predict(net, held.val_x, batch_size=7))


def test_an_unwritable_cache_is_one_line_naming_it(folder, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    with pytest.raises(DataError) as caught:
        load(folder, 1)
    message = str(caught.value)
    assert "\n" not in message and str(blocker) in message and str(folder) in message


def test_a_cache_truncated_between_runs_is_rebuilt(folder, cache_folder):
    first = load(folder, 1)
    data_file = first.train_x.path
    with open(data_file, "r+b") as handle:
        handle.truncate(os.path.getsize(data_file) // 2)
    again = load(folder, 1)
    assert torch.equal(again.train_x[:], load(folder, 0).train_x)
    with pytest.raises(DataError, match="ended early"):  # the first load's file was cut under it
        first.train_x[:]


MEMORY_SCRIPT = r"""
import sys
import numpy as np
import torch
from torch import nn
from studio.data.base import DatasetInfo, LoadedData
from studio.data.streamed import StreamedRows
from studio.train import Trainer

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

path, count = sys.argv[1], int(sys.argv[2])
shape = (count, 3, 64, 64)
labels = torch.from_numpy((np.arange(count) % 2).astype(np.int64))
cut = count * 9 // 10
info = DatasetInfo(name="raw", input_shape=shape[1:], task="classification", class_names=["a", "b"],
                   num_outputs=2, sample_kind="image")
data = LoadedData(StreamedRows(path, shape, np.arange(cut)), labels[:cut],
                  StreamedRows(path, shape, np.arange(cut, count)), labels[cut:], info)
torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 16 * 16, 2))
settings = {"epochs": 1, "batch_size": 64, "device": "cpu", "threads": 1, "mixed_precision": False}
result = Trainer(model, data, settings).fit()
print(result.status, peak_kib() // 1024)
"""


@pytest.mark.timeout(200)
def test_memory_does_not_grow_with_the_streamed_data(tmp_path):
    def peak_mib(count: int) -> int:
        path = tmp_path / f"images-{count}.u8"
        rng = np.random.default_rng(0)
        with open(path, "wb") as handle:
            for _ in range(count // 1000):
                handle.write(rng.integers(0, 256, 1000 * 3 * 64 * 64, dtype=np.uint8).tobytes())
        done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(path), str(count)],
                              capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stderr[-2000:]
        status, peak = done.stdout.split()
        assert status == "completed"
        return int(peak)

    # Eight times the samples (12 MiB against 98 MiB on disk): the process' peak stays a few batches
    # apart, where holding the samples would add the 86 MiB between them.
    assert peak_mib(8000) - peak_mib(1000) < 30


@pytest.mark.timeout(120)
def test_the_command_line_says_the_run_streams_and_where_its_cache_is(folder, tmp_path, cache_folder):
    slides = Path(__file__).resolve().parents[2] / "projects" / "cats_vs_dogs.studio"
    project = json.loads(slides.read_text())
    project["dataset"]["settings"] = {"path": str(folder), "memory_limit_mb": 1}
    path = tmp_path / "streamed.studio"
    path.write_text(json.dumps(project))
    done = subprocess.run([sys.executable, "-m", "studio", "train", str(path), "--epochs", "1",
                           "--device", "cpu", "--events", "-"], capture_output=True, text=True, timeout=110,
                          env={**os.environ, CACHE_ENV: str(cache_folder)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"data streamed from disk, cache 6.4 MiB in {cache_folder}" in done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    (begin,) = [e for e in events if e["event"] == "begin"]
    assert begin["data"].startswith("streamed from disk")
    assert events[-1]["event"] == "end" and events[-1]["status"] == "completed"


def test_the_window_log_names_how_the_data_is_held(folder):
    from studio.gui.training.text import begin_line
    from studio.train import events
    from studio.train.event_stream import EventStream

    for limit, held in ((0, "data in memory, "), (1, "data streamed from disk, cache ")):
        sent: list[events.Event] = []
        fit(load(folder, limit), callbacks=[EventStream(sent.append)], epochs=1)
        begin = next(e for e in sent if isinstance(e, events.Begin))
        assert held in begin_line(events.decode(events.encode(begin)).__dict__)
