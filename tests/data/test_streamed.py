"""Streamed images: rows read from a cache file equal the in-memory ones, read ahead or not, with the
process' memory independent of the file's size."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.data.base import DataError
from studio.data.disk_cache import CACHE_ENV, open_folder_cache
from studio.data.image_folder import _list_folder, read_image
from studio.data.streamed import StreamedRows, read_ahead_pays
from studio.train.distributed import shard

SHAPE = (3, 5, 4)


@pytest.fixture
def cache_file(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A cache file of 203 random images of SHAPE, and the same images in memory."""
    images = np.random.default_rng(0).integers(0, 256, (203, *SHAPE), dtype=np.uint8)
    path = tmp_path / "images.u8"
    path.write_bytes(images.tobytes())
    return path, images


@pytest.fixture
def streamed(cache_file):
    path, images = cache_file
    with StreamedRows(path, images.shape) as x:
        yield x


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The trainer's shuffle: a permutation seeded from (seed, epoch)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def _batches(x, order: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    return [x.index_select(0, order[b:b + batch_size]) for b in range(0, len(order), batch_size)]


def _read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "image read-ahead"]


@pytest.fixture(autouse=True)
def no_thread_left():
    yield
    gc.collect()
    for thread in _read_ahead_threads():
        thread.join(5)
    assert _read_ahead_threads() == []


def test_it_answers_like_the_tensor_it_stands_for(streamed, cache_file):
    _, images = cache_file
    assert streamed.shape == torch.Size(images.shape) and streamed.dtype == torch.uint8
    assert len(streamed) == 203 and streamed.dim() == 4 and streamed.device == torch.device("cpu")
    assert streamed.element_size() * streamed.nelement() == images.nbytes
    assert streamed.to("cpu") is streamed and streamed.to(torch.device("cpu"), non_blocking=True) is streamed
    with pytest.raises(ValueError, match="move each batch"):
        streamed.to("cuda")


def test_index_select_and_slices_equal_the_array(streamed, cache_file):
    _, images = cache_file
    index = torch.tensor([7, 3, 3, 200, 0, 8, 9, 10, 1])  # unsorted, repeated, neighbours
    batch = streamed.index_select(0, index)
    assert batch.dtype == torch.uint8 and batch.shape == (9, *SHAPE)
    assert np.array_equal(batch.numpy(), images[index.numpy()])
    assert np.array_equal(streamed[17:60].numpy(), images[17:60])
    assert np.array_equal(streamed[190:500].numpy(), images[190:])
    assert np.array_equal(streamed[-1].numpy(), images[-1])
    assert streamed[5:5].shape == (0, *SHAPE)
    with pytest.raises(IndexError):
        streamed.index_select(0, torch.tensor([203]))


def test_a_subset_of_rows_is_selected_through(cache_file):
    path, images = cache_file
    rows = np.random.default_rng(1).permutation(203)[:50]
    with StreamedRows(path, images.shape, rows) as part:
        assert part.shape[0] == 50
        assert np.array_equal(part.index_select(0, torch.arange(49, -1, -1)).numpy(), images[rows[::-1]])
        assert np.array_equal(part[10:20].numpy(), images[rows[10:20]])


@pytest.mark.timeout(20)
def test_read_ahead_returns_the_same_bytes_and_its_thread_ends(streamed, cache_file):
    _, images = cache_file
    order = _epoch_order(203, seed=4, epoch=1)
    streamed.prefetch(order, 16)
    assert streamed.reading_ahead
    batches = _batches(streamed, order, 16)
    assert np.array_equal(torch.cat(batches).numpy(), images[order.numpy()])
    for thread in _read_ahead_threads():
        thread.join(5)
    assert not streamed.reading_ahead


@pytest.mark.timeout(20)
def test_the_same_seed_gives_the_same_batches(cache_file):
    path, images = cache_file
    runs = []
    for _ in range(2):
        with StreamedRows(path, images.shape) as x:
            order = _epoch_order(203, seed=7, epoch=3)
            x.prefetch(order, 10, ahead=3)
            runs.append(_batches(x, order, 10))
    in_memory = _batches(torch.from_numpy(images), _epoch_order(203, seed=7, epoch=3), 10)
    for a, b, c in zip(*runs, in_memory, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)


@pytest.mark.timeout(20)
def test_a_resumed_epoch_and_a_sharded_order_are_read_ahead_too(streamed, cache_file):
    _, images = cache_file
    order = shard(_epoch_order(203, seed=1, epoch=2), 1, 2)  # wraps around: one row twice
    streamed.prefetch(order, 8, ahead=2)
    start = 5 * 8  # a resumed run starts mid-epoch
    for b in range(start, len(order), 8):
        index = order[b:b + 8]
        assert np.array_equal(streamed.index_select(0, index).numpy(), images[index.numpy()])
    # Batches that are not of the order (validation slices) are read directly meanwhile, and going
    # back to an earlier batch still gives its rows.
    assert np.array_equal(streamed[0:8].numpy(), images[0:8])
    for b in (2 * 8, 0, 9 * 8):
        index = order[b:b + 8]
        assert np.array_equal(streamed.index_select(0, index).numpy(), images[index.numpy()])


@pytest.mark.timeout(20)
def test_threads_selecting_at_once_each_get_their_rows(streamed, cache_file):
    _, images = cache_file
    order = _epoch_order(203, seed=5, epoch=1)
    streamed.prefetch(order, 7, ahead=3)
    wrong: list[int] = []

    def select(offset: int) -> None:
        for b in range(offset, 203, 14):
            index = order[b:b + 7]
            if not np.array_equal(streamed.index_select(0, index).numpy(), images[index.numpy()]):
                wrong.append(b)

    threads = [threading.Thread(target=select, args=(offset,)) for offset in (0, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert wrong == [] and not any(thread.is_alive() for thread in threads)


@pytest.mark.timeout(20)
def test_stop_ends_the_thread_and_a_new_prefetch_replaces_the_old(streamed):
    order = _epoch_order(203, seed=0, epoch=1)
    streamed.prefetch(order, 4, ahead=2)
    streamed.prefetch(order, 4, ahead=2)
    assert len(_read_ahead_threads()) == 1
    streamed.index_select(0, order[:4])
    streamed.stop()
    assert _read_ahead_threads() == [] and not streamed.reading_ahead
    assert streamed.index_select(0, order[4:8]).shape == (4, *SHAPE)


@pytest.mark.timeout(20)
def test_a_file_truncated_under_the_read_ahead_is_a_data_error_not_a_hang(streamed, cache_file):
    path, _ = cache_file
    os.truncate(path, 1000)
    order = _epoch_order(203, seed=0, epoch=1)
    streamed.prefetch(order, 16)
    with pytest.raises(DataError) as error:
        for b in range(0, 203, 16):
            streamed.index_select(0, order[b:b + 16])
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(DataError, match="ended early"):
        streamed[0:203]


def test_a_missing_or_wrong_sized_file_is_refused_at_once(cache_file, tmp_path):
    path, images = cache_file
    with pytest.raises(DataError, match="does not exist"):
        StreamedRows(tmp_path / "gone.u8", images.shape)
    with pytest.raises(DataError, match="not the"):
        StreamedRows(path, (204, *SHAPE))


def test_streamed_batches_equal_the_folders_in_memory_decode(shapes_folder, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    geometry = (3, 16, 16)
    entry = open_folder_cache(shapes_folder, geometry)
    decoded = np.stack([read_image(f, *geometry) for f in _list_folder(shapes_folder).files])
    order = _epoch_order(len(decoded), seed=2, epoch=1)
    with entry.images() as x:
        x.prefetch(order, 5)
        assert np.array_equal(torch.cat(_batches(x, order, 5)).numpy(), decoded[order.numpy()])


def _resident_bytes() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads resident memory from /proc")
@pytest.mark.timeout(60)
def test_resident_memory_does_not_grow_with_the_file(tmp_path):
    shape = (4600, 3, 150, 150)  # 310 MB
    sample = 3 * 150 * 150
    path = tmp_path / "big.u8"
    with open(path, "wb") as handle:  # sparse but for a few marked rows: reads it all, writes little
        handle.truncate(shape[0] * sample)
        for row in (0, 2345, 4599):
            handle.seek(row * sample)
            handle.write(bytes([row % 251]) * sample)
    with StreamedRows(path, shape) as x:
        order = _epoch_order(shape[0], seed=0, epoch=1)
        x.prefetch(order, 64)
        x.index_select(0, order[:64])  # the first batch sets up what every batch uses
        before = peak = _resident_bytes()
        marked = {}
        for b in range(0, shape[0], 64):
            index = order[b:b + 64]
            batch = x.index_select(0, index)
            for row in (0, 2345, 4599):
                hit = (index == row).nonzero()
                if len(hit):
                    marked[row] = int(batch[int(hit[0])].max())
            peak = max(peak, _resident_bytes())
        assert marked == {0: 0, 2345: 2345 % 251, 4599: 4599 % 251}
    # A few batches read ahead plus the allocator's slack, against the 310 MB a mapping would keep.
    assert peak - before < 96 * 2**20, f"resident memory grew by {(peak - before) / 2**20:.0f} MiB"


def test_read_ahead_pays_where_a_core_is_free_for_it(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert read_ahead_pays("cpu", 3) and not read_ahead_pays("cpu", 4)
    assert read_ahead_pays("cuda", 64) and read_ahead_pays(torch.device("mps"), 64)


def test_rows_of_float32_features_read_like_the_array(tmp_path):
    table = np.random.default_rng(0).standard_normal((50, 7)).astype(np.float32)
    path = tmp_path / "table.f32"
    table.tofile(path)
    with StreamedRows(path, table.shape, dtype=torch.float32) as x:
        assert x.dtype == torch.float32 and x.shape == (50, 7) and x.dim() == 2
        assert x.element_size() * x.nelement() == table.nbytes
        rows = torch.tensor([49, 0, 13, 13])
        assert torch.equal(x.index_select(0, rows), torch.from_numpy(table)[rows])
        assert torch.equal(x[10:20], torch.from_numpy(table[10:20]))
        with pytest.raises(ValueError, match="float32"):
            x.to(torch.float64)
