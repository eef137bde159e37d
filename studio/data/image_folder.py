"""A folder of images with one sub-folder per class, like Keras' `flow_from_directory`.

Either `root/<class>/...` or `root/train/<class>/...`, split by `validation_split`, or
`root/train/<class>/...` with `root/validation/<class>/...` (or `val/`) as the validation part.
Images are decoded once and kept in memory as uint8, keyed by the folder, the target size and the
files' sizes and modification times, so loading the same folder again (another training run,
another model) costs no decoding. The loaded data stays uint8 too (see `studio.core.pixels`). A folder
whose decoded size exceeds the `memory_limit_mb` setting (0: half the machine's memory) is decoded once
into a cache file on disk instead and streamed from there in batches (`studio.data.disk_cache`).

Files from strangers are read safely: a named pipe, a device, a link to nowhere or a file that is not
an image is skipped and listed in the dataset's `skipped`, never waited on; an image whose header
claims more pixels than `MAX_IMAGE_PIXELS` is skipped before it is decoded. Class folders may be
symlinks (followed, wherever they point); symlinked folders below a class folder are listed as skipped
rather than followed, so a link loop cannot make the listing endless.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.params import params
from studio.core.safe_io import open_regular
from studio.data import quiet_warnings
from studio.data.assemble import assemble, split_indices
from studio.data.augment import build_augment
from studio.data.base import DataError, DatasetInfo, DatasetSpec, LoadContext, LoadedData
from studio.data.file_checks import MISSING, file_problem
from studio.data.image_settings import AUGMENT_SETTINGS, CHANNELS_SETTING, image_geometry, image_size_setting
from studio.data.registry import register
from studio.data.settings import MEMORY_LIMIT_SETTING, SPLIT_SETTINGS, memory_limit_bytes, path_setting

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                            ".pgm"})
TRAIN_FOLDER = "train"
VALIDATION_FOLDERS = ("validation", "val")
# Decoded folders are kept while they fit in this many bytes (the newest always); the oldest goes first.
_CACHE_BYTES = 2 * 1024**3
# Larger images are refused from their header, before any pixel is decoded: Pillow's own default limit
# (about 268 MB of RGB pixels), beyond which it warns of a decompression bomb.
MAX_IMAGE_PIXELS = 89_478_485
LINKED_FOLDER = "a linked folder (not followed)"


@dataclass(frozen=True)
class _Listing:
    """The files of an image folder: each with its class index and whether it is for validation."""

    class_names: list[str]
    files: list[Path]
    labels: np.ndarray
    is_validation: np.ndarray | None  # None: no validation folder, split by the setting

    def fingerprint(self) -> str:
        digest = hashlib.blake2b(digest_size=16)
        for file in self.files:
            try:
                stat = file.stat()
                size, mtime = stat.st_size, stat.st_mtime_ns
            except OSError:  # a link to nowhere, or unreadable: it is skipped, so only its name counts
                size = mtime = -1
            digest.update(f"{file}\0{size}\0{mtime}\n".encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class _Decoded:
    images: Any  # (N, C, H, W) uint8 of the readable files: an array, or the cache on disk
    keep: np.ndarray  # indices into the listing's files of the images that were readable
    skipped: list[tuple[str, str]]

    @classmethod
    def from_disk(cls, cache: Any) -> _Decoded:
        """The images of a `studio.data.disk_cache.ImageCache`, streamed from its file."""
        return cls(cache, cache.keep, list(cache.skipped))

    def rows(self, rows: np.ndarray) -> Any:
        """Those rows of the images: an array in memory, or streamed rows of the cache file."""
        return self.images[rows] if isinstance(self.images, np.ndarray) else self.images.images(rows)


_cache: OrderedDict[tuple, _Decoded] = OrderedDict()
_cache_lock = threading.Lock()  # a preview and a training run may load folders from two threads


def clear_image_cache() -> None:
    """Forget every decoded folder (frees the memory)."""
    with _cache_lock:
        _cache.clear()


def _load_image_folder(settings: dict[str, Any], context: LoadContext) -> LoadedData:
    from studio.data import disk_cache

    root = context.resolve_path(settings["path"], "path")
    channels, height, width = image_geometry(settings, context)
    geometry = (channels, height, width)
    listing = _list_folder(root)
    if disk_cache.streams(len(listing.files), geometry, memory_limit_bytes(settings)):
        decoded = _Decoded.from_disk(disk_cache.open_cache(root, listing.files, listing.labels,
                                                           listing.class_names, geometry,
                                                           progress=context.progress))
    else:
        decoded = _decode_cached(root, listing, geometry, context)
    if len(decoded.keep) == 0:
        raise DataError(f"none of the {len(listing.files)} files in {root} could be read as an image",
                        setting="path")
    labels = listing.labels[decoded.keep]
    info = DatasetInfo(name="image_folder", input_shape=(channels, height, width), task="classification",
                       class_names=listing.class_names, num_outputs=len(listing.class_names),
                       sample_kind="image", skipped=list(decoded.skipped), source=str(root))
    if listing.is_validation is None:
        _check_every_class_readable(listing.class_names, labels, root)
        train, val = split_indices(labels, stratify=True, fraction=settings["validation_split"],
                                   seed=settings["seed"])
    else:
        is_validation = listing.is_validation[decoded.keep]
        _check_every_class_readable(listing.class_names, labels[~is_validation], root)
        train = np.random.default_rng(settings["seed"]).permutation(np.flatnonzero(~is_validation))
        val = np.flatnonzero(is_validation)
    return assemble(decoded.rows(train), labels[train], decoded.rows(val), labels[val], info,
                    augment=build_augment(settings))


def _decode_cached(root: Path, listing: _Listing, geometry: tuple[int, int, int],
                   context: LoadContext) -> _Decoded:
    key = (str(root), *geometry, listing.fingerprint())
    with _cache_lock:
        decoded = _cache.get(key)
        if decoded is not None:
            _cache.move_to_end(key)
    if decoded is not None:
        context.report(len(listing.files), len(listing.files))
        return decoded
    decoded = _decode_all(listing.files, *geometry, context)
    with _cache_lock:
        _cache[key] = decoded
        while len(_cache) > 1 and sum(d.images.nbytes for d in _cache.values()) > _CACHE_BYTES:
            _cache.popitem(last=False)
    return decoded


def _list_folder(root: Path) -> _Listing:
    if not root.exists():
        raise DataError(f"the folder {root} does not exist", setting="path")
    if not root.is_dir():
        kind = file_problem(root) or "a file"
        raise DataError(f"{root} is {kind}; expected a folder with one sub-folder per class", setting="path")
    train_root = root / TRAIN_FOLDER
    if not train_root.is_dir():
        return _Listing(*_list_classes(root, None), is_validation=None)
    class_names, train_files, train_labels = _list_classes(train_root, None)
    val_root = next((root / name for name in VALIDATION_FOLDERS if (root / name).is_dir()), None)
    if val_root is None:
        return _Listing(class_names, train_files, train_labels, is_validation=None)
    _, val_files, val_labels = _list_classes(val_root, class_names)
    is_validation = np.concatenate([np.zeros(len(train_files), bool), np.ones(len(val_files), bool)])
    return _Listing(class_names, train_files + val_files, np.concatenate([train_labels, val_labels]),
                    is_validation)


def _list_classes(folder: Path, known: list[str] | None) -> tuple[list[str], list[Path], np.ndarray]:
    """Class names (sorted sub-folder names), every file below them, and each file's class index.

    With `known` (a validation folder), the sub-folders must be among the training classes.
    """
    class_dirs = sorted((d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")),
                        key=lambda d: d.name)
    if not class_dirs:
        loose = any(f.suffix.lower() in IMAGE_SUFFIXES for f in folder.iterdir())
        hint = " (the images are directly in it)" if loose else ""
        raise DataError(f"{folder} has no class sub-folders{hint}; put each class's images in their "
                        f"own sub-folder, e.g. {folder / 'cat'} and {folder / 'dog'}", setting="path")
    names = [d.name for d in class_dirs]
    if known is None and len(names) < 2:
        raise DataError(f"{folder} has only one class folder ({names[0]}); a classifier needs at least two",
                        setting="path")
    files: list[Path] = []
    labels: list[int] = []
    for class_dir in class_dirs:
        if known is not None and class_dir.name not in known:
            raise DataError(f"{class_dir} is a class that the training folder does not have "
                            f"(training classes: {', '.join(known)})", setting="path")
        found = _files_below(class_dir)
        if not found:
            raise DataError(f"the class folder {class_dir} holds no files", setting="path")
        files.extend(found)
        labels.extend([(known or names).index(class_dir.name)] * len(found))
    return (known or names), files, np.asarray(labels, dtype=np.int64)


def _files_below(folder: Path) -> list[Path]:
    """Every non-hidden entry below `folder` that is not a folder, in a stable order, plus the symlinked
    folders, which are not walked into (they are reported as skipped)."""
    found = []
    for parent, dirs, names in os.walk(folder):  # does not follow links below `folder`, so it ends
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        linked = [d for d in dirs if os.path.islink(os.path.join(parent, d))]
        found.extend(Path(parent) / name for name in sorted([*names, *linked]) if not name.startswith("."))
    return found


def _check_every_class_readable(class_names: list[str], train_labels: np.ndarray, root: Path) -> None:
    """Each class needs readable training images; `train_labels` are those of the readable files."""
    counts = np.bincount(train_labels, minlength=len(class_names))
    empty = [name for name, count in zip(class_names, counts, strict=True) if count == 0]
    if empty:
        raise DataError(f"no readable training images for class {', '.join(empty)} in {root}",
                        setting="path")


def _decode_all(files: list[Path], channels: int, height: int, width: int,
                context: LoadContext) -> _Decoded:
    """Decode on a few threads (Pillow releases the GIL while decoding), reporting progress by percent."""
    images = np.empty((len(files), channels, height, width), dtype=np.uint8)
    keep: list[int] = []
    skipped: list[tuple[str, str]] = []
    total, last_percent = len(files), -1
    with quiet_warnings.routed(), ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        decoded = pool.map(lambda f: _read_image(f, height, width, channels), files)
        for index, (file, (pixels, problem)) in enumerate(zip(files, decoded, strict=True)):
            if pixels is None:
                skipped.append((str(file), problem))
            else:
                images[len(keep)] = pixels
                keep.append(index)
            percent = (index + 1) * 100 // total
            if percent != last_percent:
                last_percent = percent
                context.report(index + 1, total)
    if len(keep) < total:
        images = images[:len(keep)].copy()  # do not hold on to the rows of skipped files
    return _Decoded(images, np.asarray(keep, dtype=np.int64), skipped)


def read_image(file: str | os.PathLike, channels: int, height: int, width: int) -> np.ndarray:
    """One image file as (C, H, W) uint8 pixels, decoded and resized exactly as this dataset does.

    Raises a DataError naming the file when it is not an image or cannot be decoded; a named pipe or a
    device is refused at once.
    """
    try:
        return _load_pixels(Path(file), height, width, channels)
    except _Unreadable as exc:
        raise DataError(exc.sentence, path=file) from None


class _Unreadable(Exception):
    """An image file that is not used: why in a few words, and whether reading or decoding failed."""

    def __init__(self, why: str, failed: str = "cannot be decoded"):
        super().__init__(why)
        self.why = why
        self.sentence = f"{failed}: {why}" if failed else why


def _read_image(file: Path, height: int, width: int, channels: int) -> tuple[np.ndarray | None, str]:
    """(pixels (C, H, W) uint8, "") or (None, why the file was skipped, in a few words)."""
    try:
        return _load_pixels(file, height, width, channels), ""
    except _Unreadable as exc:
        return None, exc.why


def _load_pixels(file: Path, height: int, width: int, channels: int) -> np.ndarray:
    problem = file_problem(file)
    if problem is not None:
        raise _Unreadable(_link_problem(problem) if file.is_symlink() else problem, "cannot be read")
    if file.suffix.lower() not in IMAGE_SUFFIXES:
        raise _Unreadable(f"not an image file ({file.suffix or 'no extension'})", "")
    try:
        return _decode_image(file, height, width, channels)
    except _Unreadable:
        raise
    except Exception as exc:  # any decoder failure makes only this file unusable, not the dataset
        raise _Unreadable(_decoder_problem(exc)) from None


def _link_problem(problem: str) -> str:
    """Why a symlink in an image folder is skipped: links to folders are not walked into."""
    return {"a folder": LINKED_FOLDER, MISSING: "a link to nothing"}.get(problem, problem)


def _decoder_problem(exc: Exception) -> str:
    from PIL import Image, UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "not an image"
    if isinstance(exc, Image.DecompressionBombError):
        return f"too large (over {MAX_IMAGE_PIXELS:,} pixels)"
    text = str(exc).strip() or "no details"
    return "truncated" if "truncated" in text.lower() else f"damaged ({text})"


def _decode_image(file: Path, height: int, width: int, channels: int) -> np.ndarray:
    from PIL import Image

    mode = "L" if channels == 1 else "RGB"
    with open_regular(file, "image") as handle, quiet_warnings.recorded() as caught:
        if os.fstat(handle.fileno()).st_size == 0:
            raise _Unreadable("empty")
        with Image.open(handle) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise _Unreadable(f"too large ({image.width}x{image.height} pixels)")
            image.draft(mode, (width, height))  # JPEG: decode at a reduced scale when that is enough
            image = image.convert(mode)
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    _check_warnings(caught)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def _check_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Decoding warnings that mean the pixels are not all there make the image unusable ("truncated");
    the others (odd EXIF data, palette transparency) concern metadata, so the decoded image is used and
    the warning is dropped. A decompression-bomb warning cannot get this far: such images are refused."""
    for warning in caught:
        if "truncat" in str(warning.message).lower():
            raise _Unreadable("truncated")


register(DatasetSpec(
    name="image_folder", title="Image folder", category="files",
    description="Images in one sub-folder per class (optionally under train/ and validation/).",
    settings=params(
        path_setting("Folder with one sub-folder per class, or with train/ and validation/ sub-folders.",
                     "folder"),
        image_size_setting((0, 0)),
        CHANNELS_SETTING,
        SPLIT_SETTINGS,
        AUGMENT_SETTINGS,
        MEMORY_LIMIT_SETTING,
    ),
    loader=_load_image_folder))
