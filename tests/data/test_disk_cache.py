"""The on-disk cache of decoded image folders: built once, reused, rebuilt when damaged or stale."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from studio.data import disk_cache
from studio.data.base import DataError
from studio.data.disk_cache import (
    CACHE_ENV,
    cache_dir,
    cache_usage,
    clear_cache,
    open_folder_cache,
    streams,
)
from studio.data.image_folder import _list_folder, read_image

GEOMETRY = (3, 20, 20)


@pytest.fixture(autouse=True)
def cache_folder(tmp_path: Path, monkeypatch) -> Path:
    """Every test caches into a folder of its own, never the user's cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def decodes(monkeypatch) -> list[Path]:
    """The files decoded so far (the cache decodes through the folder loader's own function)."""
    seen: list[Path] = []
    original = disk_cache._read_image

    def counting(file, height, width, channels):
        seen.append(file)
        return original(file, height, width, channels)

    monkeypatch.setattr(disk_cache, "_read_image", counting)
    return seen


def _own_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_first_open_decodes_every_file_and_the_second_none(shapes_folder, decodes, cache_folder):
    reports: list[tuple[int, int]] = []

    def heard(done: int, total: int) -> None:
        reports.append((done, total))

    first = open_folder_cache(shapes_folder, GEOMETRY, progress=heard)
    files = _list_folder(shapes_folder).files
    assert len(decodes) == len(files) == 24
    assert reports[-1] == (24, 24)
    assert first.shape == (24, *GEOMETRY) and first.data_path.stat().st_size == 24 * 3 * 20 * 20
    decodes.clear()
    reports.clear()
    again = open_folder_cache(shapes_folder, GEOMETRY, progress=heard)
    assert decodes == [] and reports == [(24, 24)]
    assert again.key == first.key and again.data_path == first.data_path
    assert _own_files(cache_folder) == sorted([f"{first.key}.json", f"{first.key}.u8"])


def test_another_size_is_another_entry(shapes_folder, decodes):
    small = open_folder_cache(shapes_folder, GEOMETRY)
    grey = open_folder_cache(shapes_folder, (1, 20, 20))
    assert small.key != grey.key and len(decodes) == 48
    assert sorted(u.shape for u in cache_usage()) == [(24, 1, 20, 20), (24, 3, 20, 20)]


def test_cached_images_equal_the_in_memory_decode(shapes_folder):
    (shapes_folder / "train" / "cat" / "notes.png").write_text("not an image")
    entry = open_folder_cache(shapes_folder, GEOMETRY)
    listing = _list_folder(shapes_folder)
    readable = [i for i, f in enumerate(listing.files) if f.name != "notes.png"]
    assert entry.keep.tolist() == readable
    assert entry.labels.tolist() == listing.labels[readable].tolist()
    assert entry.class_names == ["cat", "dog"]
    assert [Path(p).name for p, _ in entry.skipped] == ["notes.png"]
    expected = np.stack([read_image(listing.files[i], *GEOMETRY) for i in readable])
    with entry.images() as images:
        assert np.array_equal(images[0:len(images)].numpy(), expected)


def test_a_copy_of_the_folder_elsewhere_shares_the_entry(shapes_folder, tmp_path, decodes):
    first = open_folder_cache(shapes_folder, GEOMETRY)
    copy = shutil.copytree(shapes_folder, tmp_path / "elsewhere" / "pets")  # copy2 keeps the mtimes
    decodes.clear()
    assert open_folder_cache(copy, GEOMETRY).key == first.key and decodes == []


def test_a_changed_file_rebuilds_and_drops_the_stale_entry(shapes_folder, decodes, cache_folder):
    first = open_folder_cache(shapes_folder, GEOMETRY)
    image = _list_folder(shapes_folder).files[5]
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    decodes.clear()
    second = open_folder_cache(shapes_folder, GEOMETRY)
    assert second.key != first.key and len(decodes) == 24
    assert [u.key for u in cache_usage()] == [second.key]
    assert not (cache_folder / f"{first.key}.u8").exists()


def test_a_truncated_data_file_is_rebuilt_not_read(shapes_folder, decodes):
    entry = open_folder_cache(shapes_folder, GEOMETRY)
    with open(entry.data_path, "r+b") as handle:
        handle.truncate(entry.nbytes - 100)
    assert [u.state for u in cache_usage()] == ["incomplete"]
    decodes.clear()
    rebuilt = open_folder_cache(shapes_folder, GEOMETRY)
    assert len(decodes) == 24 and rebuilt.data_path.stat().st_size == entry.nbytes
    assert [u.state for u in cache_usage()] == ["complete"]


def _damage(header: dict) -> None:
    header["shape"][0] += 1


@pytest.mark.parametrize("damage", [
    lambda h: h.update(complete=False),
    _damage,
    lambda h: h.update(fingerprint="0" * 32),
    lambda h: h.update(labels=h["labels"][:-1]),
    lambda h: h.update(class_names=["cat", "cow"]),
    lambda h: h.update(keep=h["keep"][::-1]),
], ids=["incomplete", "shape", "fingerprint", "labels", "classes", "keep"])
def test_a_header_that_does_not_match_is_rebuilt(shapes_folder, decodes, damage):
    entry = open_folder_cache(shapes_folder, GEOMETRY)
    header_path = entry.data_path.with_suffix(".json")
    header = json.loads(header_path.read_text())
    damage(header)
    header_path.write_text(json.dumps(header))
    decodes.clear()
    open_folder_cache(shapes_folder, GEOMETRY)
    assert len(decodes) == 24
    assert json.loads(header_path.read_text())["complete"] is True


@pytest.mark.parametrize("contents", [None, b"", b"{not json", b"[1, 2]"], ids=["missing", "empty", "garbage",
                                                                               "list"])
def test_a_missing_or_unreadable_header_is_rebuilt(shapes_folder, decodes, contents):
    entry = open_folder_cache(shapes_folder, GEOMETRY)
    header_path = entry.data_path.with_suffix(".json")
    if contents is None:
        header_path.unlink()
    else:
        header_path.write_bytes(contents)
    decodes.clear()
    open_folder_cache(shapes_folder, GEOMETRY)
    assert len(decodes) == 24


def _one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def test_a_cache_folder_that_cannot_be_made_is_one_line_naming_it(shapes_folder, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    with pytest.raises(DataError) as error:
        open_folder_cache(shapes_folder, GEOMETRY)
    line = _one_line(error)
    assert str(blocker / "cache") in line and str(shapes_folder) in line and CACHE_ENV in line


def test_a_read_only_cache_folder_is_one_line_naming_it(shapes_folder, cache_folder, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(disk_cache.tempfile, "TemporaryFile", read_only)
    with pytest.raises(DataError) as error:
        open_folder_cache(shapes_folder, GEOMETRY)
    line = _one_line(error)
    assert str(cache_folder) in line and "read-only" in line


def test_a_write_failing_midway_leaves_no_entry_and_no_copy(shapes_folder, cache_folder, monkeypatch):
    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(disk_cache, "_read_image", full_disk)
    with pytest.raises(DataError) as error:
        open_folder_cache(shapes_folder, GEOMETRY)
    assert "no space left on the disk" in _one_line(error) and str(cache_folder) in str(error.value)
    assert _own_files(cache_folder) == []


def test_too_little_free_space_is_refused_before_decoding(shapes_folder, cache_folder, decodes, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(disk_cache.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 5000, 5000))
    with pytest.raises(DataError) as error:
        open_folder_cache(shapes_folder, GEOMETRY)
    line = _one_line(error)
    needed = 24 * 3 * 20 * 20 + 64 * 24 + 4096
    assert f"need {needed / 1024:.1f} KiB" in line and "4.9 KiB free" in line
    assert str(shapes_folder) in line and str(cache_folder) in line
    assert decodes == [] and _own_files(cache_folder) == []


def test_files_that_change_while_being_cached_are_not_cached(shapes_folder, cache_folder, monkeypatch):
    original = disk_cache._read_image
    victim = _list_folder(shapes_folder).files[-1]

    def touching(file, *args):
        if file == victim:
            os.utime(victim, ns=(1, 10**9))
        return original(file, *args)

    monkeypatch.setattr(disk_cache, "_read_image", touching)
    with pytest.raises(DataError, match="changed while they were being cached"):
        open_folder_cache(shapes_folder, GEOMETRY)
    assert cache_usage() == []


def test_usage_lists_entries_and_clear_frees_only_the_caches_files(shapes_folder, cache_folder):
    a = open_folder_cache(shapes_folder, GEOMETRY)
    b = open_folder_cache(shapes_folder, (1, 8, 8))
    (cache_folder / "keep-me.txt").write_text("someone else's")
    usage = cache_usage()
    sizes = {u.key: u.bytes for u in usage}
    assert sizes == {e.key: e.nbytes + e.data_path.with_suffix(".json").stat().st_size for e in (a, b)}
    assert {u.source for u in usage} == {str(shapes_folder)} and {u.state for u in usage} == {"complete"}
    assert clear_cache() == sum(sizes.values())
    assert _own_files(cache_folder) == ["keep-me.txt"] and cache_usage() == [] and clear_cache() == 0


def test_clearing_a_cache_that_was_never_made_frees_nothing(cache_folder):
    assert clear_cache() == 0 and cache_usage() == [] and not cache_folder.exists()


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "model-studio" / "data"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "model-studio" / "data"


def test_a_folder_streams_when_its_decoded_size_exceeds_the_limit():
    limit = 64 * 2**20
    assert streams(4000, (3, 150, 150), limit)  # 270 MB
    assert not streams(900, (3, 150, 150), limit)  # 61 MB
    assert not streams(10, (3, 150, 150))  # under half of any machine's memory
