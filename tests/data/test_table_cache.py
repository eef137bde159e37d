"""A CSV table over its memory limit streams from a cache file on disk: it loads (and trains) exactly
as the same table held in memory, is encoded once, and an entry that does not check out is rebuilt."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from studio.data import DataError, load_dataset, table_cache
from studio.data import csv_table as tables
from studio.data.disk_cache import CACHE_ENV
from studio.data.streamed import StreamedRows
from studio.train import Trainer

PARTS = ("train_x", "train_y", "val_x", "val_y")


@pytest.fixture(autouse=True)
def cache_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def streaming(monkeypatch):
    """Every table streams, read in chunks of a few rows (so chunks meet in every check)."""
    monkeypatch.setattr(table_cache, "memory_limit", lambda settings: 0)
    monkeypatch.setattr(tables, "CHUNK_CELLS", 20)


def load(path: Path, limit_mb: int = 0, **settings):
    return load_dataset("csv", {"path": str(path), "memory_limit_mb": limit_mb, **settings})


def in_memory(path: Path, monkeypatch, **settings):
    with monkeypatch.context() as patch:
        patch.setattr(table_cache, "memory_limit", lambda settings: 2**62)
        data = load(path, **settings)
    assert not data.streamed
    return data


def table(rows: int, seed: int = 0) -> str:
    """Numbers on very different scales, a text column of 40 values and two targets."""
    rng = np.random.default_rng(seed)
    lines = ["size,count,ratio,colour,label,price"]
    for i in range(rows):
        lines.append(f"{rng.normal(1000, 3):.5f},{rng.integers(0, 9)},{rng.normal():.7f},"
                     f"c{rng.integers(0, 40)},{'abc'[i % 3]},{rng.normal(50, 20):.3f}")
    return "\n".join(lines) + "\n"


def assert_same(streamed, held):
    assert streamed.streamed and isinstance(streamed.train_x, StreamedRows)
    for part in PARTS:
        a, b = getattr(streamed, part), getattr(held, part)
        assert torch.equal(a[:] if isinstance(a, StreamedRows) else a, b), part
    for field in ("task", "class_names", "feature_names", "target_names", "feature_mean", "feature_std",
                  "input_shape", "target_range", "source"):
        assert getattr(streamed.info, field) == getattr(held.info, field), field


def entry_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".table." in p.name)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("target", "chunk_cells"), [("label", None), ("price", None), ("label", 6000)])
def test_a_table_over_its_memory_limit_streams_the_same_samples(write_csv, monkeypatch, cache_folder,
                                                                 target, chunk_cells):
    if chunk_cells:  # chunks of 1000 rows: statistics gathered over several
        monkeypatch.setattr(tables, "CHUNK_CELLS", chunk_cells)
    path = write_csv(table(8000))  # 8000 rows x 44 or 46 features x 4 bytes: over 1 MiB
    held = load(path, target=target)
    reports = []
    streamed = load_dataset("csv", {"path": str(path), "memory_limit_mb": 1, "target": target},
                            progress=lambda done, total: reports.append((done, total)))
    assert not held.streamed
    assert_same(streamed, held)
    width = len(held.info.feature_names)
    assert streamed.train_x.shape == (held.num_train, width) and streamed.train_x.dtype == torch.float32
    size = f"{8000 * width * 4 / 2**20:.1f} MiB"
    assert streamed.storage == f"streamed from disk, cache {size} in {cache_folder}"
    assert len(entry_files(cache_folder)) == 3
    done = [d for d, _ in reports]
    total = reports[-1][1]
    assert done == sorted(done) and done[-1] == total
    assert all(any(third * total / 3 < d < (third + 1) * total / 3 for d in done) for third in range(3))


@pytest.mark.timeout(120)
def test_a_streamed_table_trains_exactly_as_the_one_in_memory(write_csv, monkeypatch, streaming):
    path = write_csv(table(300))

    def fit(data):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(44, 16), nn.ReLU(), nn.Linear(16, 3))
        settings = {"epochs": 2, "batch_size": 32, "learning_rate": 0.01, "device": "cpu", "seed": 3,
                    "threads": 1, "grad_norm_every": 0, "mixed_precision": False}
        return Trainer(net, data, settings).fit()

    held, streamed = fit(in_memory(path, monkeypatch, target="label")), fit(load(path, target="label"))
    assert held.status == streamed.status == "completed"
    assert streamed.batch_loss == held.batch_loss
    assert [e["val_loss"] for e in streamed.epochs] == [e["val_loss"] for e in held.epochs]


@pytest.mark.timeout(60)
def test_a_second_load_reads_the_entry_without_parsing(write_csv, monkeypatch, cache_folder, streaming):
    path = write_csv(table(200))
    first = load(path)
    stamps = {name: (cache_folder / name).stat().st_mtime_ns for name in entry_files(cache_folder)}

    def no_parsing(*args, **kwargs):
        raise AssertionError("the table was parsed again")

    monkeypatch.setattr(tables, "scan", no_parsing)
    again = load(path)
    assert {name: (cache_folder / name).stat().st_mtime_ns for name in entry_files(cache_folder)} == stamps
    for part in PARTS:
        assert torch.equal(getattr(again, part)[:], getattr(first, part)[:])


@pytest.mark.timeout(60)
def test_another_split_is_another_entry(write_csv, cache_folder, streaming):
    path = write_csv(table(200))
    load(path)
    load(path, seed=5)
    assert len(entry_files(cache_folder)) == 6  # both kept: neither is stale


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("suffix", "damage"), [
    (table_cache.FEATURES, lambda p: os.truncate(p, p.stat().st_size - 4)),
    (table_cache.TARGETS, lambda p: os.truncate(p, 8)),
    (table_cache.HEADER, lambda p: p.write_text('{"format": "model-studio table cache"')),
    (table_cache.HEADER, lambda p: p.write_text(p.read_text().replace('"complete": true', '"complete": 1'))),
    (table_cache.FEATURES, lambda p: p.unlink()),
])
def test_a_damaged_entry_is_rebuilt(write_csv, monkeypatch, cache_folder, streaming, suffix, damage):
    path = write_csv(table(200))
    held = in_memory(path, monkeypatch)
    load(path)
    (damaged,) = [cache_folder / n for n in entry_files(cache_folder) if n.endswith(suffix)]
    damage(damaged)
    assert_same(load(path), held)
    assert damaged.stat().st_size > 0 and len(entry_files(cache_folder)) == 3


@pytest.mark.timeout(60)
def test_a_changed_table_gives_a_new_entry_and_drops_the_old(write_csv, monkeypatch, cache_folder,
                                                             streaming):
    path = write_csv(table(200))
    load(path)
    old = entry_files(cache_folder)
    path.write_text(table(250, seed=1))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    changed = load(path)
    assert changed.num_train + changed.num_val == 250
    new = entry_files(cache_folder)
    assert len(new) == 3 and not set(new) & set(old)
    assert_same(changed, in_memory(path, monkeypatch))


@pytest.mark.timeout(60)
def test_an_unwritable_cache_is_one_line_naming_the_folder_and_the_space(write_csv, tmp_path, monkeypatch,
                                                                        streaming):
    path = write_csv(table(200))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for folder in (blocker, blocker / "cache"):
        monkeypatch.setenv(CACHE_ENV, str(folder))
        with pytest.raises(DataError) as caught:
            load(path)
        message = str(caught.value)
        assert "\n" not in message and str(folder) in message and str(path) in message
        assert "a file stands where a folder should be" in message and "(it needs " in message


@pytest.mark.timeout(60)
@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a folder this user cannot write")
def test_a_read_only_cache_folder_is_named(write_csv, tmp_path, monkeypatch, streaming):
    path = write_csv(table(200))
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    monkeypatch.setenv(CACHE_ENV, str(folder))
    try:
        with pytest.raises(DataError, match="cannot cache the table .* it needs .*permission denied"):
            load(path)
    finally:
        folder.chmod(0o700)


@pytest.mark.timeout(60)
def test_too_little_free_space_is_named(write_csv, monkeypatch, cache_folder, streaming):
    path = write_csv(table(200))
    monkeypatch.setattr("shutil.disk_usage", lambda folder: _Usage())
    with pytest.raises(DataError, match=r"\(it needs \d+\.\d KiB\): it has 512 B free"):
        load(path)


class _Usage:
    total, used, free = 4096, 3584, 512


@pytest.mark.timeout(60)
def test_a_file_over_the_in_memory_limit_streams(write_csv, monkeypatch):
    path = write_csv(table(200))
    held = load(path)
    monkeypatch.setattr(tables, "MAX_FILE_BYTES", 1000)
    assert_same(load(path), held)


BAD_TABLES = [
    ("", {}),
    ("a,b,y\n", {}),
    ("a,b,y\n" + "1,2,0\n" * 30 + "1,2\n" + "1,2,0\n" * 10, {}),
    ("a,a,y\n" + "1,2,0\n3,4,1\n" * 20, {}),
    ("a,b,y\n" + "1,2,0\n3,4,1\n" * 20, {"target": "label"}),
    ("y\n" + "1\n2\n" * 20, {}),
    # The first column's problem is named, even when another column's comes earlier in the file.
    ("a,b,y\n" + "1,2,0\n3,4,1\n" * 20 + "1,,0\n" + "5,6,1\n" * 10 + "x,6,0\n", {}),
    ("a,b,y\n" + "1,2,0\n3,4,1\n" * 20 + "1,x7,0\n" + "5,6,1\n" * 10, {}),
    # Of two problems of a kind in one column, the first is named.
    ("a,b,y\n" + "1,,0\n" + "1,2,0\n3,4,1\n" * 20 + "1,,0\n", {}),
    ("a,b,y\n" + "1,x7,0\n" + "1,2,0\n3,4,1\n" * 20 + "1,x8,0\n", {}),
    ("a,b,y\n" + "inf,1,0\n" + "1,2,0\n3,4,1\n" * 20 + "nan,1,0\n", {}),
    ("a,b,y\n" + "1,2,0\n3,4,1\n" + "1,1e200,0\n" + "1,2,0\n3,4,1\n" * 20 + "1,2e200,0\n", {}),
    ("a,y\n" + "".join(f"{i},{i * 0.5 if i != 33 else -3e20}\n" for i in range(40)), {}),
    ("name,y\n" + "".join(f"person{i},{i % 2}\n" for i in range(60)), {}),
    ("a,y\n" + "1,cat\n" * 40, {}),
    ("a,y\n" + "1,cat\n2,dog\n" * 20, {"task": "regression"}),
    ("a,y\n" + "1,0\n2,1\n" * 20 + "3\r4,1\n" + "4,0\n" * 5, {}),  # a line the csv module refuses
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("text", "settings"), BAD_TABLES)
def test_bad_cells_are_named_alike_when_streamed(write_csv, monkeypatch, streaming, text, settings):
    path = write_csv(text)
    with pytest.raises(DataError) as held:
        in_memory(path, monkeypatch, **settings)
    with pytest.raises(DataError) as streamed:
        load(path, **settings)
    assert str(streamed.value) == str(held.value)
    assert (streamed.value.setting, streamed.value.path) == (held.value.setting, held.value.path)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("data", [
    # A line the csv module refuses, then a byte that is not UTF-8: the byte is named first.
    b"a,y\n" + b"1,0\n2,1\n" * 20 + b"3\r4,1\n" + b"1,0\n" * 100 + b"4,\xe9\n",
    b"\xef\xbb\xbfa,y\n" + b"1,0\n2,1\n" * 20 + b"4,caf\xc3\n",
    b"\xff\xfea\x00,\x00y\x00\n\x00",
])
def test_text_that_is_not_utf8_is_named_alike_when_streamed(tmp_path, monkeypatch, streaming, data):
    path = tmp_path / "table.csv"
    path.write_bytes(data)
    with pytest.raises(DataError) as held:  # a named delimiter: no guess reads the file's start first
        in_memory(path, monkeypatch, delimiter="comma")
    with pytest.raises(DataError) as streamed:
        load(path, delimiter="comma")
    assert "UTF" in str(held.value) and str(streamed.value) == str(held.value)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("text", "settings"), BAD_TABLES)
def test_the_error_does_not_depend_on_the_chunks(write_csv, monkeypatch, text, settings):
    path = write_csv(text)
    with pytest.raises(DataError) as whole:  # every table here is one chunk
        in_memory(path, monkeypatch, **settings)
    monkeypatch.setattr(tables, "CHUNK_CELLS", 20)
    with pytest.raises(DataError) as chunked:
        in_memory(path, monkeypatch, **settings)
    assert str(chunked.value) == str(whole.value)


def test_the_cache_command_lists_and_clears_table_entries(write_csv, cache_folder, streaming):
    from studio.data.disk_cache import cache_usage, clear_cache

    path = write_csv(table(200))
    load(path)
    (entry,) = cache_usage(cache_folder)
    assert entry.source == str(path) and entry.state == "complete" and entry.bytes > 0
    assert clear_cache(cache_folder) == entry.bytes
    assert entry_files(cache_folder) == [] and cache_usage(cache_folder) == []
