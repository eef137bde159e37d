"""Samples read from a cache file as the trainer asks for them, with read-ahead on a thread.

`StreamedRows` stands where an in-memory tensor would (uint8 (N, C, H, W) images, float32 (N, F) table
rows): it has `.shape`, `.dtype`, `len()`, `index_select(0, index)` and slicing, and returns tensors of
just the rows asked for.
Rows are read with positional reads into the batch's own buffer (in file order; a slice in one call), never
through a memory map, so the process' resident memory holds a few batches whatever the file's size;
the operating system's page cache keeps what fits.

`prefetch(order, batch_size)` starts a daemon thread that reads the next batches of an epoch's order
while the model works on the current one, so `index_select` of those batches returns at once. The
thread ends by itself when the order is read, or on `stop()`; a read that fails (the file was truncated)
is a DataError on the next `index_select`, never a wait. Read-ahead pays where a core is free for
its thread (`read_ahead_pays`); where none is, the thread and the training take turns on the same
cores and reading each batch when it is asked for is faster.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core.safe_io import FileRefused, open_regular, reason
from studio.data.base import DataError

DEFAULT_AHEAD = 4  # batches read ahead of the one being trained on
_LARGEST_READ = 64 * 2**20  # bytes per read of a slice (one call returns at most about 2 GiB)
_READER_NICENESS = 10  # how much lower the reading thread's priority is (0 to 19)
_POLL_S = 0.05  # how often a waiting index_select checks that the read-ahead thread is still alive
_JOIN_S = 5.0


class _CacheFile:
    """The open cache file: reads rows of it into fresh arrays. Holds no reference to its users, so
    a read-ahead thread keeps only this alive."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: torch.dtype):
        self.path = path
        self.dtype = dtype
        self.sample_shape = tuple(int(s) for s in shape[1:])
        self.sample_bytes = int(np.prod(self.sample_shape)) * torch.empty((), dtype=dtype).element_size()
        self.count = int(shape[0])
        try:
            self._handle = open_regular(path, "data cache")
        except FileRefused as exc:
            raise DataError(f"{exc}; load the dataset again to rebuild the cache") from None
        size = os.fstat(self._handle.fileno()).st_size
        if size != self.count * self.sample_bytes:
            self._handle.close()
            raise DataError(f"the data cache {path} holds {size:,} bytes, not the "
                            f"{self.count * self.sample_bytes:,} of {self.count} samples; load the dataset "
                            "again to rebuild it")
        self._fd = self._handle.fileno()
        self._seek_lock = threading.Lock()
        self.pinned = False  # page-locked batches, for non-blocking copies to a GPU
        self._read_at = self._positional_read if hasattr(os, "preadv") else self._seek_and_read
        if hasattr(os, "posix_fadvise"):  # rows are read in no order: the disk's read-ahead only wastes
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_RANDOM)

    def close(self) -> None:
        self._handle.close()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()

    def read(self, rows: np.ndarray) -> torch.Tensor:
        """Rows `rows` of the file as a new (len(rows), *sample shape) tensor, in that order."""
        count = len(rows)
        batch = torch.empty((count, *self.sample_shape), dtype=self.dtype, pin_memory=self.pinned)
        if not count:
            return batch
        if self._handle.closed:
            raise DataError(f"the data cache {self.path} was closed; load the dataset again")
        flat = batch.view(-1).view(torch.uint8).numpy().reshape(count, self.sample_bytes)
        size = self.sample_bytes
        # Plain ints: a batch is a few dozen rows, where numpy's cost per call would dominate.
        wanted = rows.tolist()
        first = wanted[0]
        if wanted == list(range(first, first + count)):  # a slice: a few large reads
            step = max(1, _LARGEST_READ // size)
            reads = [(flat[start:start + step], (first + start) * size) for start in range(0, count, step)]
        else:  # one read a row, in file order (kind to disks)
            reads = [(flat[place], wanted[place] * size)
                     for place in sorted(range(count), key=wanted.__getitem__)]
        read_at = self._read_at
        try:
            got = sum(read_at(buffer, offset) for buffer, offset in reads)
        except OSError as exc:
            raise DataError(f"cannot read the data cache {self.path}: {reason(exc)}") from None
        if got != count * size:
            raise DataError(f"the data cache {self.path} ended early (it was truncated or replaced "
                            "while in use); load the dataset again to rebuild it")
        return batch

    def _positional_read(self, buffer: np.ndarray, offset: int) -> int:
        return os.preadv(self._fd, [buffer], offset)

    def _seek_and_read(self, buffer: np.ndarray, offset: int) -> int:
        with self._seek_lock:  # where positional reads are missing (Windows), threads take turns
            self._handle.seek(offset)
            return self._handle.readinto(memoryview(buffer).cast("B")) or 0


class StreamedRows:
    """A read-only tensor-like over rows `rows` of a cache file of shape `shape` (samples first) holding
    `dtype` values: uint8 (N, C, H, W) images by default.

    It lives on the CPU: `.to("cpu")` is itself, and the trainer moves each batch to its device."""

    def __init__(self, path: str | os.PathLike, shape: Sequence[int],
                 rows: Sequence[int] | np.ndarray | torch.Tensor | None = None, *,
                 dtype: torch.dtype = torch.uint8):
        if len(shape) < 2:
            raise ValueError(f"expects the file's shape (samples first), got {tuple(shape)}")
        self._file = _CacheFile(Path(path), tuple(int(s) for s in shape), dtype)
        count = self._file.count
        self._rows = np.arange(count, dtype=np.int64) if rows is None else _as_rows(rows)
        if len(self._rows) and (self._rows.min() < 0 or self._rows.max() >= count):
            self._file.close()
            raise ValueError(f"rows must lie in 0..{count - 1} of {path}")
        self._ahead: _ReadAhead | None = None
        self._ahead_lock = threading.Lock()

    # -- what a tensor answers ---------------------------------------------------------------------

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self._rows), *self._file.sample_shape))

    @property
    def dtype(self) -> torch.dtype:
        return self._file.dtype

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def ndim(self) -> int:
        return 1 + len(self._file.sample_shape)

    @property
    def path(self) -> Path:
        return self._file.path

    def dim(self) -> int:
        return self.ndim

    def size(self, dim: int | None = None) -> torch.Size | int:
        return self.shape if dim is None else self.shape[dim]

    def element_size(self) -> int:
        return torch.empty((), dtype=self._file.dtype).element_size()

    def nelement(self) -> int:
        return len(self._rows) * self._file.sample_bytes // self.element_size()

    numel = nelement

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"StreamedRows({str(self._file.path)!r}, shape={tuple(self.shape)})"

    def to(self, device: Any = None, *args: Any, **kwargs: Any) -> StreamedRows:
        """Itself for the CPU (or no device); the rows stay on disk, so another device is refused."""
        target = kwargs.get("device", device)
        if isinstance(target, torch.dtype) or kwargs.get("dtype") not in (None, self.dtype):
            raise ValueError(f"streamed rows are {self.dtype}; convert each batch instead")
        if target is not None and torch.device(target).type != "cpu":
            raise ValueError(f"streamed rows stay on disk; move each batch to {target} instead")
        return self

    def pin_batches(self, pinned: bool = True) -> None:
        """Read batches into page-locked memory, so their copies to a GPU do not block (CUDA only)."""
        self._file.pinned = pinned

    def index_select(self, dim: int, index: torch.Tensor | np.ndarray | Sequence[int]) -> torch.Tensor:
        """The rows `index` (along dim 0 only) as a new tensor of len(index) samples."""
        if dim != 0:
            raise ValueError(f"streamed images are selected along dim 0, not {dim}")
        positions = _as_rows(index)
        if len(positions) and (positions.min() < 0 or positions.max() >= len(self._rows)):
            raise IndexError(f"index out of range for {len(self._rows)} streamed images")
        ahead = self._ahead
        if ahead is not None:
            batch = ahead.take(positions)
            if batch is not None:
                return batch
        return self._file.read(self._rows[positions])

    def __getitem__(self, key: int | slice | torch.Tensor | np.ndarray) -> torch.Tensor:
        """`x[a:b]` and `x[rows]` as uint8 tensors; `x[i]` as one (C, H, W) image."""
        if isinstance(key, slice):
            return self.index_select(0, np.arange(len(self._rows))[key])
        if isinstance(key, (int, np.integer)):
            position = int(key) + (len(self._rows) if key < 0 else 0)
            if not 0 <= position < len(self._rows):
                raise IndexError(f"index {key} out of range for {len(self._rows)} streamed images")
            return self.index_select(0, [position])[0]
        return self.index_select(0, key)

    # -- read-ahead ----------------------------------------------------------------------------------

    def prefetch(self, order: torch.Tensor | np.ndarray | Sequence[int], batch_size: int,
                 ahead: int = DEFAULT_AHEAD, *, for_device: str | torch.device | None = None) -> None:
        """Read batches order[0:batch_size], order[batch_size:2*batch_size], ... `ahead` batches ahead
        of the one being selected, on a daemon thread; replaces an earlier read-ahead.

        With `for_device` (where the batches are trained on), only when reading ahead pays there with
        torch's number of threads (`read_ahead_pays`); else each batch is read when it is selected."""
        if batch_size < 1 or ahead < 1:
            raise ValueError("batch_size and ahead must be at least 1")
        if for_device is not None and not read_ahead_pays(for_device, torch.get_num_threads()):
            self.stop()
            return
        positions = _as_rows(order)
        if len(positions) and (positions.min() < 0 or positions.max() >= len(self._rows)):
            raise IndexError(f"order out of range for {len(self._rows)} streamed images")
        rows, file = self._rows, self._file
        started = _ReadAhead(lambda batch: file.read(rows[batch]), positions, batch_size, ahead)
        with self._ahead_lock:
            previous, self._ahead = self._ahead, started
        if previous is not None:
            previous.stop()

    def stop(self) -> None:
        """End the read-ahead (if any) and wait for its thread to finish."""
        with self._ahead_lock:
            ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.stop()

    @property
    def reading_ahead(self) -> bool:
        """Whether a read-ahead thread is running."""
        ahead = self._ahead
        return ahead is not None and ahead.alive

    def close(self) -> None:
        """Stop reading ahead and close the file."""
        self.stop()
        self._file.close()

    def __enter__(self) -> StreamedRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        ahead = getattr(self, "_ahead", None)
        if ahead is not None:
            ahead.stop(wait=False)


class _ReadAhead:
    """Reads the batches of one order on a daemon thread, at most `ahead` past the one taken last.

    Each batch is read into a tensor of its own that is handed out as it is: the batch a user holds
    never changes, and taking a read batch costs no copy. At most `ahead` read batches are held, so
    the memory read-ahead takes does not depend on the folder's size."""

    def __init__(self, read: Callable[[np.ndarray], torch.Tensor], order: np.ndarray, batch_size: int,
                 ahead: int):
        self._read, self._order, self._batch_size, self._ahead = read, order, batch_size, ahead
        self._batches = -(-len(order) // batch_size)
        self._cond = threading.Condition()
        self._window = 0  # the first batch not yet taken
        self._next = 0  # the next batch the thread reads
        self._reading: int | None = None  # the batch being read now
        self._ready: dict[int, torch.Tensor] = {}  # batch number -> its rows, read
        self._error: DataError | None = None
        self._stopped = False
        self._first_rows: dict[int, list[int]] | None = None
        self._thread = threading.Thread(target=self._work, name="image read-ahead", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def take(self, positions: np.ndarray) -> torch.Tensor | None:
        """The batch whose rows are `positions` when the thread has read it (waiting only while it is
        reading exactly that one); None when the caller should read it itself: it is not a batch of
        this order, or the thread has not got to it (it then goes on after it)."""
        with self._cond:
            number = self._batch_number(positions)
            if number is None:
                return None
            if self._error is not None:
                raise self._error
            self._window = number
            for old in [b for b in self._ready if not number <= b < number + self._ahead]:
                del self._ready[old]  # passed over, or beyond the window after a jump back
            while number not in self._ready and number == self._reading and not self._stopped:
                if self._error is not None:
                    raise self._error
                if not self._thread.is_alive():
                    break
                self._cond.wait(_POLL_S)
            batch = self._ready.pop(number, None)
            self._window = number + 1
            if self._next - self._window <= self._ahead // 2:
                self._cond.notify_all()  # refill in a burst rather than waking the thread every batch
            return batch

    def stop(self, wait: bool = True) -> None:
        with self._cond:
            self._stopped = True
            self._ready.clear()
            self._cond.notify_all()
        if wait and self._thread is not threading.current_thread():
            self._thread.join(_JOIN_S)

    def _rows_of(self, number: int) -> np.ndarray:
        return self._order[number * self._batch_size:(number + 1) * self._batch_size]

    def _batch_number(self, positions: np.ndarray) -> int | None:
        """Which batch of the order `positions` is: the expected next one, else found by its first row."""
        if self._window < self._batches and np.array_equal(self._rows_of(self._window), positions):
            return self._window
        if not len(positions):
            return None
        if self._first_rows is None:
            firsts = self._order[::self._batch_size].tolist()
            self._first_rows = {}
            for number, row in enumerate(firsts):
                self._first_rows.setdefault(row, []).append(number)
        for number in self._first_rows.get(int(positions[0]), []):
            if np.array_equal(self._rows_of(number), positions):
                return number
        return None

    def _work(self) -> None:
        _yield_to_training()
        while True:
            with self._cond:
                while True:
                    self._next = max(self._next, self._window)  # what the caller passed is not read
                    while self._next in self._ready:
                        self._next += 1
                    if self._stopped or self._next >= self._batches:
                        return  # stopped, or the whole order is read (its last batches wait in _ready)
                    if self._next < self._window + self._ahead:
                        break
                    self._cond.wait()
                number = self._reading = self._next
                self._next += 1
            try:
                batch = self._read(self._rows_of(number))
            except DataError as exc:
                self._fail(exc)
                return
            except Exception as exc:  # anything else a read can raise, in words, for the trainer
                self._fail(DataError(f"reading images ahead failed: {exc}"))
                return
            with self._cond:
                self._reading = None
                if self._window <= number < self._window + self._ahead and not self._stopped:
                    self._ready[number] = batch
                self._cond.notify_all()

    def _fail(self, error: DataError) -> None:
        with self._cond:
            self._error = error
            self._cond.notify_all()


def read_ahead_pays(device: str | torch.device, threads: int) -> bool:
    """Whether a read-ahead thread can overlap training on `device` with `threads` CPU threads: the
    model runs on another device (the CPU waits for it), or those threads leave a core free. Where
    neither holds, the reading thread only takes turns with training for the same cores, and reading
    each batch when it is asked for costs less."""
    if torch.device(device).type != "cpu":
        return True
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores > threads


def _yield_to_training() -> None:
    """Lower the calling thread's priority (Linux, where a thread has a priority of its own), so the
    reading thread takes only CPU time the training threads leave: where no core is free, a batch it
    has not read yet is read by whoever asks for it, which costs less than switching threads for it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _READER_NICENESS)


def _as_rows(index: torch.Tensor | np.ndarray | Sequence[int]) -> np.ndarray:
    """Row numbers as a 1-D int64 array (a CPU LongTensor is viewed, not copied)."""
    if isinstance(index, torch.Tensor):
        index = index.detach().cpu().numpy()
    rows = np.asarray(index)
    if rows.ndim != 1 or (rows.size and not np.issubdtype(rows.dtype, np.integer)):
        raise ValueError(f"expects a 1-D array of row numbers, got shape {rows.shape} of {rows.dtype}")
    return rows.astype(np.int64, copy=False)
