"""Image folders too big for memory, decoded once into a uint8 file on disk and streamed from there.

Each cached folder is two files in the cache folder, named by its fingerprint (the image files'
relative paths, sizes and modification times, the target size (C, H, W) and the decoder's version):
`KEY.u8`, the decoded images as N*C*H*W raw bytes in the folder's listing order (readable files only),
and `KEY.json`, its header (shape, labels, class names, which files were kept or skipped, the
fingerprint and a complete flag). Both are written under temporary names and renamed when complete,
the data first, so a header always describes a whole data file; an entry that does not check out (a
truncated file, a header that does not match, files that changed since) is rebuilt, never read.
Later runs and other models of the same input size reuse the entry without decoding anything.

The folder is $MODEL_STUDIO_CACHE when set, else the user's cache folder ($XDG_CACHE_HOME or
~/.cache, %LOCALAPPDATA% on Windows) / model-studio / data.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.core.atomic import write_atomic
from studio.core.safe_io import FileRefused, pid_alive, read_regular, reason
from studio.data import quiet_warnings
from studio.data.base import DataError, Progress
from studio.data.image_folder import _read_image

if TYPE_CHECKING:
    from studio.data.streamed import StreamedRows

CACHE_ENV = "MODEL_STUDIO_CACHE"
# Part of every fingerprint: raise it when decoding or resizing changes, so old entries are not reused.
DECODER_VERSION = 1
HEADER_FORMAT = "model-studio image cache"
HEADER_VERSION = 1
DATA_SUFFIX, HEADER_SUFFIX = ".u8", ".json"
TABLE_HEADER_SUFFIX, TABLE_HEADER_FORMAT = ".table.json", "model-studio table cache"
_HEADER_LIMIT = 512 * 2**20  # a header lists every file's label; beyond this it is not one of ours
_DECODE_CHUNK = 256  # files decoded at a time, so memory holds a few images, not the folder
# The cache's own files: an image entry's data and header, and a table entry's (studio.data.table_cache).
_SUFFIXES = r"(\.u8|\.json|\.table\.json|\.table\.f32|\.table\.y)"
_ENTRY = re.compile(r"([0-9a-f]{32})" + _SUFFIXES)
_COPY = re.compile(r"\.([0-9a-f]{32})" + _SUFFIXES + r"\.(\d+)\.[^.]+\.tmp")  # studio.core.atomic's temps
_building = threading.Lock()  # threads of one process take turns, so a folder is decoded once

Geometry = tuple[int, int, int]


@dataclass(frozen=True)
class ImageCache:
    """A complete, checked cache entry: the decoded images of one folder at one size."""

    key: str
    data_path: Path
    source: str  # the folder it was decoded from
    shape: tuple[int, int, int, int]  # (N, C, H, W) of the readable images
    class_names: list[str]
    labels: np.ndarray  # (N,) class index of each cached image
    keep: np.ndarray  # (N,) index into the folder's listing of each cached image
    skipped: list[tuple[str, str]]  # (path, why) of the files that could not be read

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape))

    def images(self, rows: Sequence[int] | np.ndarray | None = None) -> StreamedRows:
        """The cached images (or those `rows` of them, in that order) as a tensor-like read from disk."""
        from studio.data.streamed import StreamedRows

        return StreamedRows(self.data_path, self.shape, rows)


@dataclass(frozen=True)
class CacheUsage:
    """One entry of the cache folder as `cache_usage` lists it."""

    key: str
    source: str  # "" when the header is missing or unreadable
    shape: tuple[int, ...] | None
    bytes: int
    state: str  # "complete", "incomplete" (rebuilt when next used) or "being written"


def cache_dir() -> Path:
    """The folder the image caches live in (see the module's description)."""
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        return Path(override).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if not base and os.name == "nt":
        base = os.environ.get("LOCALAPPDATA", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "model-studio" / "data"


def decoded_bytes(count: int, geometry: Geometry) -> int:
    """How many bytes `count` images of `geometry` (C, H, W) take decoded as uint8."""
    channels, height, width = geometry
    return count * channels * height * width


def memory_limit() -> int:
    """Bytes of decoded images that are held in memory at most: half the machine's physical memory."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): a size every machine has
        return 2 * 1024**3


def streams(count: int, geometry: Geometry, limit: int | None = None) -> bool:
    """Whether a folder of `count` images decoded at `geometry` is streamed from disk rather than held
    in memory: when its decoded size exceeds `limit` bytes (default `memory_limit()`)."""
    return decoded_bytes(count, geometry) > (memory_limit() if limit is None else limit)


def fingerprint(root: Path, files: Sequence[Path], labels: Sequence[int] | np.ndarray,
                class_names: Sequence[str], geometry: Geometry) -> str:
    """The cache key of a folder's files decoded at `geometry`: 32 hex digits that change when a file
    is added, removed, renamed, resized or touched, or the size, classes or decoder change."""
    import PIL

    digest = hashlib.blake2b(digest_size=16)
    setup = {"decoder": DECODER_VERSION, "pillow": PIL.__version__, "geometry": list(geometry),
             "classes": list(class_names)}
    digest.update(json.dumps(setup, sort_keys=True).encode())
    for file, label in zip(files, np.asarray(labels).tolist(), strict=True):
        try:
            stat = os.stat(file)
            size, mtime = stat.st_size, stat.st_mtime_ns
        except OSError:  # a link to nowhere or an unreadable file: it is skipped, so its name counts
            size = mtime = -1
        digest.update(f"{_relative(file, root)}\0{label}\0{size}\0{mtime}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def open_cache(root: str | os.PathLike, files: Sequence[Path], labels: Sequence[int] | np.ndarray,
               class_names: Sequence[str], geometry: Geometry, *, progress: Progress | None = None,
               folder: Path | None = None) -> ImageCache:
    """The cache entry of these files of the folder `root` at `geometry` (C, H, W), decoding them into
    the cache folder first unless a complete entry with the same fingerprint is there.

    `files` and `labels` are the folder's listing (every file, readable or not, with its class index);
    `progress(done, total)` hears of the decoding. A DataError naming the folder when the cache folder
    cannot be written or has too little free space."""
    root = Path(root)
    labels = np.asarray(labels, dtype=np.int64)
    folder = cache_dir() if folder is None else folder
    key = fingerprint(root, files, labels, class_names, geometry)
    with _building:
        entry = _checked_entry(folder, key, geometry, list(class_names), len(files))
        if entry is None:
            entry = _build(folder, key, root, list(files), labels, list(class_names), geometry, progress)
            _remove_older_entries(folder, entry)
        elif progress is not None:
            progress(len(files), len(files))
    return entry


def open_folder_cache(root: str | os.PathLike, geometry: Geometry, *, progress: Progress | None = None,
                      folder: Path | None = None) -> ImageCache:
    """`open_cache` for an image folder listed the way the image-folder dataset lists it."""
    from studio.data.image_folder import _list_folder

    root = Path(root).expanduser().resolve()
    listing = _list_folder(root)
    return open_cache(root, listing.files, listing.labels, listing.class_names, geometry,
                      progress=progress, folder=folder)


def cache_usage(folder: Path | None = None) -> list[CacheUsage]:
    """Every entry of the cache folder with its size on disk, largest first."""
    folder = cache_dir() if folder is None else folder
    sizes: dict[str, int] = {}
    building: set[str] = set()
    for entry, key, copy_pid in _own_files(folder):
        with contextlib.suppress(OSError):
            sizes[key] = sizes.get(key, 0) + entry.stat(follow_symlinks=False).st_size
        if copy_pid is not None and pid_alive(copy_pid):
            building.add(key)
    usage = []
    for key, size in sizes.items():
        table = (folder / f"{key}{TABLE_HEADER_SUFFIX}").exists()
        if table:  # checked in full when it is used; here its header says whose it is
            header = read_header(folder / f"{key}{TABLE_HEADER_SUFFIX}", "table cache header",
                                 TABLE_HEADER_FORMAT, 1)
            complete = header is not None and header.get("complete") is True
        else:
            header = _read_header(folder / f"{key}{HEADER_SUFFIX}")
            complete = header is not None and _data_matches(folder / f"{key}{DATA_SUFFIX}", header)
        state = "being written" if key in building else "complete" if complete else "incomplete"
        source = str(header.get("source", "")) if header else ""
        shape = tuple(header["shape"]) if header and _is_shape(header.get("shape")) else None
        usage.append(CacheUsage(key, source, shape, size, state))
    return sorted(usage, key=lambda u: (-u.bytes, u.key))


def clear_cache(folder: Path | None = None) -> int:
    """Remove every cache entry (only the cache's own files; copies still being written by a running
    process are left to it) and return the bytes freed."""
    folder = cache_dir() if folder is None else folder
    freed = 0
    for entry, _key, copy_pid in _own_files(folder):
        if copy_pid is not None and pid_alive(copy_pid):
            continue
        try:
            size = entry.stat(follow_symlinks=False).st_size
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DataError(f"cannot clear the image cache {folder}: {reason(exc)}") from None
        freed += size
    return freed


# -- checking an entry -----------------------------------------------------------------------------


def _checked_entry(folder: Path, key: str, geometry: Geometry, class_names: list[str],
                   listed: int) -> ImageCache | None:
    """The entry `key` when its header and data file agree with each other and with the folder."""
    header = _read_header(folder / f"{key}{HEADER_SUFFIX}")
    if header is None or header.get("fingerprint") != key or header.get("complete") is not True:
        return None
    shape = header.get("shape")
    if (not _is_shape(shape) or tuple(shape[1:]) != tuple(geometry)
            or header.get("class_names") != class_names):
        return None
    count = shape[0]
    labels, keep, skipped = header.get("labels"), header.get("keep"), header.get("skipped")
    if not (_int_list(labels, count, len(class_names)) and _int_list(keep, count, listed)
            and isinstance(skipped, list) and len(skipped) == listed - count
            and all(isinstance(s, list) and len(s) == 2 and all(isinstance(t, str) for t in s)
                    for s in skipped)):
        return None
    keep_array = np.asarray(keep, dtype=np.int64)
    if count and np.any(np.diff(keep_array) <= 0):
        return None
    data_path = folder / f"{key}{DATA_SUFFIX}"
    if not _data_matches(data_path, header):
        return None
    return ImageCache(key, data_path, str(header.get("source", "")), tuple(shape), class_names,
                      np.asarray(labels, dtype=np.int64), keep_array, [(p, w) for p, w in skipped])


def _read_header(path: Path) -> dict[str, Any] | None:
    return read_header(path, "image cache header", HEADER_FORMAT, HEADER_VERSION)


def read_header(path: Path, what: str, format_name: str, version: int) -> dict[str, Any] | None:
    """A cache entry's JSON header when it is one of `format_name` at `version`; else None (the entry
    is then rebuilt)."""
    try:
        header = json.loads(read_regular(path, what, limit=_HEADER_LIMIT))
    except (FileRefused, ValueError):
        return None
    if not isinstance(header, dict) or header.get("format") != format_name:
        return None
    return header if header.get("version") == version else None


def _data_matches(path: Path, header: dict[str, Any]) -> bool:
    """Whether the data file is a regular file holding exactly the bytes its header describes."""
    shape = header.get("shape")
    try:
        stat = os.stat(path)
    except OSError:
        return False
    return _is_shape(shape) and path.is_file() and stat.st_size == int(np.prod(shape))


def _is_shape(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 4
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
            and all(v > 0 for v in value[1:]))


def _int_list(value: Any, length: int, bound: int) -> bool:
    """A list of `length` whole numbers from 0 to `bound` - 1."""
    return (isinstance(value, list) and len(value) == length
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < bound for v in value))


# -- building an entry -----------------------------------------------------------------------------


def _build(folder: Path, key: str, root: Path, files: list[Path], labels: np.ndarray,
           class_names: list[str], geometry: Geometry, progress: Progress | None) -> ImageCache:
    _prepare_folder(folder, root, decoded_bytes(len(files), geometry) + 64 * len(files) + 4096)
    header_path, data_path = folder / f"{key}{HEADER_SUFFIX}", folder / f"{key}{DATA_SUFFIX}"
    try:  # first, so that no reader pairs an old header with the data being replaced
        header_path.unlink(missing_ok=True)
    except OSError as exc:
        raise _unwritable(folder, root, exc) from None
    keep: list[int] = []
    skipped: list[tuple[str, str]] = []

    def write_images(tmp: Path) -> None:
        try:
            with open(tmp, "wb") as handle:
                _decode_into(handle, files, geometry, keep, skipped, progress)
        except OSError as exc:  # a full disk mid-write: the temporary copy is removed by write_atomic
            raise _unwritable(folder, root, exc) from None

    _write(data_path, write_images, folder, root)
    if fingerprint(root, files, labels, class_names, geometry) != key:
        data_path.unlink(missing_ok=True)
        raise DataError(f"the files in {root} changed while they were being cached; load the data again")
    shape = (len(keep), *geometry)
    header = {"format": HEADER_FORMAT, "version": HEADER_VERSION, "fingerprint": key, "source": str(root),
              "shape": list(shape), "class_names": class_names, "labels": labels[keep].tolist(),
              "keep": keep, "skipped": [list(s) for s in skipped], "decoder": DECODER_VERSION,
              "complete": True}
    _write(header_path, json.dumps(header).encode(), folder, root)
    return ImageCache(key, data_path, str(root), shape, class_names, labels[keep],
                      np.asarray(keep, dtype=np.int64), skipped)


def _decode_into(handle: Any, files: list[Path], geometry: Geometry, keep: list[int],
                 skipped: list[tuple[str, str]], progress: Progress | None) -> None:
    """Decode `files` a chunk at a time on a few threads, appending each readable image's bytes."""
    channels, height, width = geometry
    total, reported = len(files), -1
    with quiet_warnings.routed(), ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for start in range(0, total, _DECODE_CHUNK):
            chunk = files[start:start + _DECODE_CHUNK]
            decoded = pool.map(lambda f: _read_image(f, height, width, channels), chunk)
            for offset, (file, (pixels, problem)) in enumerate(zip(chunk, decoded, strict=True)):
                if pixels is None:
                    skipped.append((str(file), problem))
                else:
                    handle.write(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
                    keep.append(start + offset)
            done = start + len(chunk)
            if progress is not None and done * 100 // total != reported:
                reported = done * 100 // total
                progress(done, total)


def writable_free_space(folder: Path) -> int:
    """Make the cache folder, check that a file can be written in it, and return its free bytes; an
    OSError when it cannot be made or written."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass
    return shutil.disk_usage(folder).free


def _prepare_folder(folder: Path, root: Path, needed: int) -> None:
    """Make the cache folder and check that it is writable and has room for `needed` bytes."""
    try:
        free = writable_free_space(folder)
    except OSError as exc:
        raise _unwritable(folder, root, exc) from None
    if free < needed:
        raise DataError(f"not enough free space to cache the images of {root}: they need "
                        f"{format_bytes(needed)} in {folder}, which has {format_bytes(free)} free; free "
                        f"some space, run 'model-studio cache --clear' or set {CACHE_ENV} to another folder")


def _write(target: Path, data: bytes | Callable[[Path], None], folder: Path, root: Path) -> None:
    try:
        write_atomic(target, data, what="image cache")
    except FileRefused as exc:
        raise DataError(f"cannot cache the images of {root} in {folder}: {exc}") from None


def _unwritable(folder: Path, root: Path, exc: OSError) -> DataError:
    why = ("a file stands where a folder should be" if exc.errno in (errno.ENOTDIR, errno.EEXIST)
           else reason(exc))
    return DataError(f"cannot write the image cache of {root} to {folder}: {why}; free some space or set "
                     f"{CACHE_ENV} to a writable folder")


def _remove_older_entries(folder: Path, entry: ImageCache) -> None:
    """Drop the entries of the same folder at the same size made before its files changed."""
    for usage in cache_usage(folder):
        if usage.key != entry.key and usage.source == entry.source and usage.shape is not None \
                and tuple(usage.shape[1:]) == entry.shape[1:] and usage.state != "being written":
            for suffix in (HEADER_SUFFIX, DATA_SUFFIX):
                with contextlib.suppress(OSError):
                    (folder / f"{usage.key}{suffix}").unlink()


# -- the cache folder's own files ------------------------------------------------------------------


def _own_files(folder: Path) -> list[tuple[os.DirEntry, str, int | None]]:
    """(entry, key, pid of the writer for a temporary copy, else None) of each file the cache made;
    nothing else in the folder is touched."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise DataError(f"cannot read the image cache {folder}: {reason(exc)}") from None
    found = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            continue
        if match := _ENTRY.fullmatch(entry.name):
            found.append((entry, match.group(1), None))
        elif match := _COPY.fullmatch(entry.name):
            found.append((entry, match.group(1), int(match.group(3))))
    return found


def _relative(file: Path, root: Path) -> str:
    try:
        return Path(file).relative_to(root).as_posix()
    except ValueError:
        return Path(file).as_posix()


def format_bytes(count: int) -> str:
    """A size for people: '812 B', '4.2 MiB', '1.50 GiB'."""
    if count >= 1024**3:
        return f"{count / 1024**3:.2f} GiB"
    if count >= 1024**2:
        return f"{count / 1024**2:.1f} MiB"
    return f"{count / 1024:.1f} KiB" if count >= 1024 else f"{count} B"
