"""Write generated shape images to disk as an image folder (train/<class>/, validation/<class>/).

This gives examples, tests and benchmarks a real folder of image files to read, such as a stand-in
for the cats-vs-dogs photos, without downloading anything.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from studio.core.safe_io import FileRefused, inside
from studio.data.base import DataError, Progress
from studio.data.image_folder import TRAIN_FOLDER, VALIDATION_FOLDERS
from studio.data.shapes import SHAPE_NAMES, render_shapes

_CHUNK = 128  # images rendered and written at a time, so memory stays small for large folders
_CHUNK_BYTES = 64 * 2**20  # ... and fewer of them when they are large


def write_image_folder(folder: str | Path, *, classes: Sequence[str] = ("cat", "dog"), per_class: int = 100,
                       size: int | tuple[int, int] = 150, seed: int = 0, validation: bool = True,
                       validation_per_class: int | None = None, noise: float = 0.1,
                       progress: Progress | None = None) -> Path:
    """Write `per_class` PNG images of each class into `folder`/train/<class>/ and, with `validation`,
    `validation_per_class` (default half as many) into `folder`/validation/<class>/.

    Class i is drawn as the i-th shape (circle, square, ...). Returns the folder. The same arguments
    write the same pixels. Class names must be plain names (they become folder names), and the
    folder's parent must exist; everything is checked before anything is written.
    """
    root = Path(folder).expanduser().resolve()
    _check_classes(classes, root)
    if validation_per_class is None:
        validation_per_class = max(1, per_class // 2)
    if min(per_class, validation_per_class) < 1:
        raise DataError(f"needs at least one image per class, got {per_class} and {validation_per_class}",
                        path=root)
    height, width = (size, size) if isinstance(size, int) else size
    if min(height, width) < 1:
        raise DataError(f"images need a size of at least 1x1 pixels, got {width}x{height}", path=root)
    _check_folder(root)
    parts = [(TRAIN_FOLDER, per_class)]
    if validation:
        parts.append((VALIDATION_FOLDERS[0], validation_per_class))
    _refuse_existing_images(root, [part for part, _ in parts], classes)

    jobs = [(inside(root / part, name, "class name") / f"{name}.{i}.png", label)
            for part, count in parts for label, name in enumerate(classes) for i in range(count)]
    rng = np.random.default_rng(seed)
    for directory in {path.parent for path, _ in jobs}:
        directory.mkdir(parents=True, exist_ok=True)
    chunk_size = max(1, min(_CHUNK, _CHUNK_BYTES // (height * width * 3 * 4)))
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for start in range(0, len(jobs), chunk_size):
            chunk = jobs[start:start + chunk_size]
            labels = np.asarray([label for _, label in chunk])
            images = render_shapes(labels, height=height, width=width, channels=3, noise=noise, rng=rng,
                                   pixels=True)
            pixels = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
            list(pool.map(_write_png, [path for path, _ in chunk], pixels))
            if progress is not None:
                progress(start + len(chunk), len(jobs))
    return root


def _check_classes(classes: Sequence[str], root: Path) -> None:
    """Two to len(SHAPE_NAMES) plain names, different even where a disk ignores case."""
    names = list(classes)
    if not 2 <= len(names) <= len(SHAPE_NAMES):
        raise DataError(f"needs 2 to {len(SHAPE_NAMES)} class names, got {len(names)}: {names}", path=root)
    for name in names:
        try:
            inside(root, name, "class name")
        except FileRefused as exc:
            raise DataError(str(exc), path=root) from None
    folded = [name.casefold() for name in names]
    twins = sorted({name for name, key in zip(names, folded, strict=True) if folded.count(key) > 1})
    if twins:
        raise DataError(f"class names must differ (also in upper and lower case), got {', '.join(twins)} "
                        "more than once", path=root)


def _check_folder(root: Path) -> None:
    """The folder may be new, but its parent must exist: a typo in a path must not grow folders."""
    if root.exists() and not root.is_dir():
        raise DataError("is a file, not a folder; choose a folder to write the images to", path=root)
    if not root.parent.is_dir():
        raise DataError(f"the folder '{root.parent}' does not exist; create it first or choose another",
                        path=root)


def _refuse_existing_images(root: Path, parts: list[str], classes: Sequence[str]) -> None:
    """Mixing new images into an old folder would silently change a dataset; refuse instead."""
    for part in parts:
        for name in classes:
            directory = root / part / name
            if directory.is_dir() and any(directory.iterdir()):
                raise DataError(f"{directory} already holds files; choose an empty folder", path=root)


def _write_png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(pixels).save(path, compress_level=1)  # fast; the noise barely compresses anyway
