"""CSV tables too big for memory, encoded once into a float32 file on disk and streamed from there.

A table streams when its decoded size (rows x encoded features x 4 bytes) exceeds the
`memory_limit_mb` setting (0: `disk_cache.memory_limit()`), or when the file is over
`csv_table.MAX_FILE_BYTES`, the most an in-memory load reads: a streamed table may be larger. The file is
read line by line, never whole, in three passes over it: one to check the columns and learn their kinds,
categories and the targets, one for the training rows' statistics, and one to write the encoded,
standardised features. Each pass uses `csv_table`'s own rules, in the same chunks of rows, so the
result equals an in-memory load's to the bit: the same split, features, targets and errors.

Each entry is three files in `disk_cache.cache_dir()`, named by a fingerprint of the file (path, size,
modification time) and of the settings that change the encoding or the split: `KEY.table.f32`, the
features (rows x features float32, in file order), `KEY.table.y`, the targets (int64 classes or
float64 values), and `KEY.table.json`, the header (shape, names, statistics, fingerprint and a
complete flag), written last. Each is written under a temporary name and renamed when complete; an
entry that does not check out (a truncated file, a header that does not match) is rebuilt, never read.
Targets are small and are held in memory.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.atomic import write_atomic
from studio.core.safe_io import FileRefused, open_regular, read_regular, reason
from studio.data import csv_table as tables
from studio.data import disk_cache
from studio.data.assemble import assemble
from studio.data.base import DataError, LoadContext, LoadedData
from studio.data.settings import memory_limit_bytes

HEADER_FORMAT = disk_cache.TABLE_HEADER_FORMAT
HEADER_VERSION = 1  # raise it when the encoding changes, so old entries are not reused
HEADER, FEATURES, TARGETS = disk_cache.TABLE_HEADER_SUFFIX, ".table.f32", ".table.y"
ENCODING_SETTINGS = ("target", "task", "delimiter", "validation_split", "seed")
# Every feature cell takes at least a byte of the file and becomes at most MAX_CATEGORIES float32
# values, so a file this many times smaller than the limit fits without a look at its rows.
DECODED_PER_BYTE = 4 * tables.MAX_CATEGORIES
PASSES = 3
_LINES_PER_REPORT = 4096
_ENTRY = re.compile(r"([0-9a-f]{32})" + re.escape(HEADER))
_building = threading.Lock()  # threads of one process take turns, so a table is encoded once


def memory_limit(settings: dict[str, Any]) -> int:
    """Bytes of decoded table held in memory at most: the `memory_limit_mb` setting, or automatic."""
    limit = memory_limit_bytes(settings)
    return disk_cache.memory_limit() if limit is None else limit


def streams(decoded: int, file_bytes: int, limit: int) -> bool:
    """Whether a table of `decoded` bytes from a file of `file_bytes` is streamed from disk."""
    return decoded > limit or file_bytes > tables.MAX_FILE_BYTES


def load_if_too_large(path: Path, settings: dict[str, Any], context: LoadContext) -> LoadedData | None:
    """The table streamed from its cache entry (built first unless a complete one is there), or None
    when it fits in memory (or the file is not a regular file: the in-memory loader says why)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    limit = memory_limit(settings)
    if not streams(status.st_size * DECODED_PER_BYTE, status.st_size, limit):
        return None
    folder = disk_cache.cache_dir()
    key = fingerprint(path, status, settings)
    progress = _Progress(context, status.st_size)
    with _building:
        entry = _checked_entry(folder, key)
        if entry is None:
            table = _scan_file(path, settings, progress.next_pass())
            encoding = tables.encoding_of(table)
            task, y, class_names = tables.encode_target(table.target, settings["task"])
            if not streams(table.rows * encoding.width * 4, status.st_size, limit):
                progress.finish()
                return None
            entry = _build(folder, key, table, encoding, (task, y, class_names), settings, status, progress)
            _remove_older_entries(folder, entry)
        elif not streams(entry.rows * len(entry.feature_names) * 4, status.st_size, limit):
            return None
    progress.finish()
    return entry.loaded(settings)


def fingerprint(path: Path, status: os.stat_result, settings: dict[str, Any]) -> str:
    """32 hex digits that change when the file is replaced, resized or touched, or a setting that
    changes its encoding or split changes."""
    setup = {"version": HEADER_VERSION, "chunk_cells": tables.CHUNK_CELLS,
             "file": [str(path), status.st_size, status.st_mtime_ns], "settings": _settings(settings)}
    return hashlib.blake2b(json.dumps(setup, sort_keys=True).encode(), digest_size=16).hexdigest()


def _settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {name: settings[name] for name in ENCODING_SETTINGS}


# -- reading the file --------------------------------------------------------------------------------


def file_lines(path: Path, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """The file's text line by line (after any byte order mark), as `csv_table` reads it whole:
    DataError for UTF-16 or a byte that is not UTF-8, naming it as a whole-file read would.
    `progress(bytes read)` hears how far it got."""
    try:
        handle = open_regular(path, "file")
    except FileRefused as exc:
        raise DataError(str(exc), setting="path") from None
    with handle:
        offset = 0
        try:
            for number, raw in enumerate(handle):
                if not number:
                    tables.check_not_utf16(raw, path)
                    raw = raw.removeprefix(codecs.BOM_UTF8)
                try:
                    line = raw.decode("utf-8")  # no line break ends inside a UTF-8 character
                except UnicodeDecodeError as exc:
                    raise tables.not_utf8(path, offset + exc.start) from None
                offset += len(raw)
                if progress is not None and number % _LINES_PER_REPORT == 0:
                    progress(offset)
                yield line
        except OSError as exc:
            raise DataError(f"cannot be read: {reason(exc)}", path=path) from None
    if progress is not None:
        progress(offset)


def _scan_file(path: Path, settings: dict[str, Any], progress: Callable[[int], None]) -> tables.Table:
    sample, size = [], 0
    if settings["delimiter"] == "auto":
        for line in file_lines(path):
            sample.append(line)
            size += len(line)
            if size >= tables.SNIFF_CHARS:
                break
    delimiter = tables.delimiter("".join(sample), settings["delimiter"])
    lines = file_lines(path, progress)
    try:
        return tables.scan(path, lines, delimiter, settings["target"], keep=False)
    except DataError:
        for _ in lines:  # a byte further on that is not UTF-8 is named first, as in a whole-file read
            pass
        raise


def _encoded_chunks(table: tables.Table, encoding: tables.Encoding,
                    progress: Callable[[int], None]) -> Iterator[np.ndarray]:
    """The encoded rows of each chunk, read again from the file; DataError if it changed since."""
    rows = tables.rows_of(file_lines(table.path, progress), table.delimiter, table.path)
    next(rows, None)  # the header
    count = 0
    for lines, columns in tables.chunks(rows, table.width):
        count += len(lines)
        if isinstance(columns, tuple) or count > table.rows:
            raise tables.changed(table.path)
        yield tables.encode(encoding, columns, table.path)
    if count != table.rows:
        raise tables.changed(table.path)


class _Progress:
    """The passes over the file, reported through `context.report` as bytes of all of them, by percent."""

    def __init__(self, context: LoadContext, size: int):
        self._context, self._size = context, max(1, size)
        self._total = PASSES * self._size
        self._passes = 0
        self._shown = -1

    def next_pass(self) -> Callable[[int], None]:
        base = self._passes * self._size
        self._passes += 1
        return lambda done: self._report(base + min(done, self._size))

    def finish(self) -> None:
        self._report(self._total)

    def _report(self, done: int) -> None:
        percent = done * 100 // self._total
        if percent != self._shown:
            self._shown = percent
            self._context.report(done, self._total)


# -- an entry ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """A complete, checked cache entry: one table encoded with one set of settings."""

    key: str
    features: Path
    source: str
    settings: dict[str, Any]
    rows: int
    feature_names: list[str]
    target_name: str
    task: str
    class_names: list[str]
    mean: list[float]
    std: list[float]
    y: np.ndarray

    def loaded(self, settings: dict[str, Any]) -> LoadedData:
        import torch

        from studio.data.streamed import StreamedRows

        train, val = tables.split(self.y, self.task, settings)
        shape = (self.rows, len(self.feature_names))
        info = tables.dataset_info(self.source, self.feature_names, self.target_name, self.task,
                                   self.class_names, np.asarray(self.mean), np.asarray(self.std))
        return assemble(StreamedRows(self.features, shape, train, dtype=torch.float32), self.y[train],
                        StreamedRows(self.features, shape, val, dtype=torch.float32), self.y[val], info)


def _checked_entry(folder: Path, key: str) -> _Entry | None:
    """The entry `key` when its header and files agree with each other; None when anything is off."""
    header = _read_header(folder / f"{key}{HEADER}")
    if header is None or header.get("fingerprint") != key or header.get("complete") is not True:
        return None
    shape, task, names = header.get("shape"), header.get("task"), header.get("feature_names")
    if not (isinstance(shape, list) and len(shape) == 2 and all(_count(v) for v in shape)):
        return None
    rows, width = shape
    classes = header.get("class_names")
    if not (task in ("classification", "regression") and _strings(names, width) and _strings(classes)
            and (len(classes) >= 2) == (task == "classification")
            and _floats(header.get("mean"), width) and _floats(header.get("std"), width)
            and isinstance(header.get("target_name"), str) and isinstance(header.get("source"), str)
            and isinstance(header.get("settings"), dict)):
        return None
    features = folder / f"{key}{FEATURES}"
    if _size(features) != rows * width * 4:
        return None
    y = _read_targets(folder / f"{key}{TARGETS}", rows, task, len(classes))
    if y is None:
        return None
    return _Entry(key, features, header["source"], header["settings"], rows, names, header["target_name"],
                  task, classes, header["mean"], header["std"], y)


def _read_header(path: Path) -> dict[str, Any] | None:
    return disk_cache.read_header(path, "table cache header", HEADER_FORMAT, HEADER_VERSION)


def _read_targets(path: Path, rows: int, task: str, classes: int) -> np.ndarray | None:
    try:
        data = read_regular(path, "table cache targets", limit=rows * 8)
    except FileRefused:
        return None
    if len(data) != rows * 8:
        return None
    y = np.frombuffer(data, dtype=np.int64 if task == "classification" else np.float64).copy()
    valid = np.all((y >= 0) & (y < classes)) if task == "classification" else np.all(np.isfinite(y))
    return y if valid else None


def _size(path: Path) -> int:
    try:
        status = os.stat(path)
    except OSError:
        return -1
    return status.st_size if stat.S_ISREG(status.st_mode) else -1


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _strings(value: Any, length: int | None = None) -> bool:
    return (isinstance(value, list) and all(isinstance(v, str) for v in value)
            and (length is None or len(value) == length))


def _floats(value: Any, length: int) -> bool:
    return (isinstance(value, list) and len(value) == length
            and all(isinstance(v, float) and np.isfinite(v) for v in value))


# -- building an entry -------------------------------------------------------------------------------


def _build(folder: Path, key: str, table: tables.Table, encoding: tables.Encoding,
           target: tuple[str, np.ndarray, list[str]], settings: dict[str, Any], status: os.stat_result,
           progress: _Progress) -> _Entry:
    task, y, class_names = target
    train, _ = tables.split(y, task, settings)
    rows, width = table.rows, encoding.width
    header = {"format": HEADER_FORMAT, "version": HEADER_VERSION, "fingerprint": key,
              "source": str(table.path), "settings": _settings(settings), "shape": [rows, width],
              "task": task, "class_names": class_names, "feature_names": encoding.names,
              "target_name": table.target.name}
    needed = rows * width * 4 + rows * 8 + len(json.dumps(header)) + 64 * width + 4096
    _prepare_folder(folder, table.path, needed)
    paths = {suffix: folder / f"{key}{suffix}" for suffix in (HEADER, FEATURES, TARGETS)}
    try:  # first, so that no reader pairs an old header with the files being replaced
        paths[HEADER].unlink(missing_ok=True)
    except OSError as exc:
        raise _unwritable(folder, table.path, needed, reason(exc)) from None
    is_train = np.zeros(rows, dtype=bool)
    is_train[train] = True
    statistics = tables.TrainStatistics(is_train, width)
    for chunk in _encoded_chunks(table, encoding, progress.next_pass()):
        statistics.add(chunk)
    mean, std = statistics.finish(encoding.names)

    def write_features(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            for chunk in _encoded_chunks(table, encoding, progress.next_pass()):
                try:
                    handle.write(tables.standardised(chunk, mean, std).tobytes())
                except OSError as exc:  # a full disk mid-write: write_atomic removes the copy
                    raise _unwritable(folder, table.path, needed, reason(exc)) from None

    targets = np.ascontiguousarray(y, dtype=np.int64 if task == "classification" else np.float64)
    _write(paths[FEATURES], write_features, folder, table.path, needed)
    _write(paths[TARGETS], targets.tobytes(), folder, table.path, needed)
    try:
        now = os.stat(table.path)
    except OSError:
        now = None
    if now is None or (now.st_size, now.st_mtime_ns) != (status.st_size, status.st_mtime_ns):
        for path in paths.values():
            path.unlink(missing_ok=True)
        raise tables.changed(table.path)
    header.update(mean=mean.tolist(), std=std.tolist(), complete=True)
    _write(paths[HEADER], json.dumps(header).encode(), folder, table.path, needed)
    return _Entry(key, paths[FEATURES], str(table.path), header["settings"], rows, encoding.names,
                  table.target.name, task, class_names, header["mean"], header["std"], targets)


def _prepare_folder(folder: Path, source: Path, needed: int) -> None:
    """Make the cache folder and check that it is writable and has room for `needed` bytes."""
    try:
        free = disk_cache.writable_free_space(folder)
    except OSError as exc:
        why = ("a file stands where a folder should be" if exc.errno in (errno.ENOTDIR, errno.EEXIST)
               else reason(exc))
        raise _unwritable(folder, source, needed, why) from None
    if free < needed:
        raise _unwritable(folder, source, needed, f"it has {disk_cache.format_bytes(free)} free")


def _write(target: Path, data: bytes | Callable[[Path], None], folder: Path, source: Path,
           needed: int) -> None:
    try:
        write_atomic(target, data, what="table cache")
    except FileRefused as exc:
        raise _unwritable(folder, source, needed, str(exc)) from None


def _unwritable(folder: Path, source: Path, needed: int, why: str) -> DataError:
    return DataError(f"cannot cache the table {source} in {folder} (it needs "
                     f"{disk_cache.format_bytes(needed)}): {why}; free some space or set "
                     f"{disk_cache.CACHE_ENV} to a writable folder with room for it")


def _remove_older_entries(folder: Path, entry: _Entry) -> None:
    """Drop the entries of the same table and settings made before the file changed."""
    try:
        names = [e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
    except OSError:
        return
    for name in names:
        match = _ENTRY.fullmatch(name)
        if match is None or match.group(1) == entry.key:
            continue
        header = _read_header(folder / name)
        if header is not None and header.get("source") == entry.source \
                and header.get("settings") == entry.settings:
            for suffix in (FEATURES, TARGETS, HEADER):  # the header last: without it nothing is read
                with contextlib.suppress(OSError):
                    (folder / f"{match.group(1)}{suffix}").unlink()
