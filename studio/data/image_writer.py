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

from studio.data.base import DataError, Progress
from studio.data.image_folder import TRAIN_FOLDER, VALIDATION_FOLDERS
from studio.data.shapes import SHAPE_NAMES, render_shapes

_CHUNK = 128  # images rendered and written at a time, so memory stays small for large folders


def write_image_folder(folder: str | Path, *, classes: Sequence[str] = ("cat", "dog"), per_class: int = 100,
                       size: int | tuple[int, int] = 150, seed: int = 0, validation: bool = True,
                       validation_per_class: int | None = None, noise: float = 0.1,
                       progress: Progress | None = None) -> Path:
    """Write `per_class` PNG images of each class into `folder`/train/<class>/ and, with `validation`,
    `validation_per_class` (default half as many) into `folder`/validation/<class>/.

    Class i is drawn as the i-th shape (circle, square, ...). Returns the folder. The same arguments
    write the same pixels.
    """
    root = Path(folder).expanduser().resolve()
    if not 2 <= len(classes) <= len(SHAPE_NAMES) or len(set(classes)) != len(classes):
        raise DataError(f"needs 2 to {len(SHAPE_NAMES)} different class names, got {list(classes)}",
                        path=root)
    if validation_per_class is None:
        validation_per_class = max(1, per_class // 2)
    if min(per_class, validation_per_class) < 1:
        raise DataError(f"needs at least one image per class, got {per_class} and {validation_per_class}",
                        path=root)
    height, width = (size, size) if isinstance(size, int) else size
    parts = [(TRAIN_FOLDER, per_class)]
    if validation:
        parts.append((VALIDATION_FOLDERS[0], validation_per_class))
    _refuse_existing_images(root, [part for part, _ in parts], classes)

    jobs = [(root / part / name / f"{name}.{i}.png", label)
            for part, count in parts for label, name in enumerate(classes) for i in range(count)]
    rng = np.random.default_rng(seed)
    for directory in {path.parent for path, _ in jobs}:
        directory.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for start in range(0, len(jobs), _CHUNK):
            chunk = jobs[start:start + _CHUNK]
            labels = np.asarray([label for _, label in chunk])
            images = render_shapes(labels, height=height, width=width, channels=3, noise=noise, rng=rng)
            pixels = (images.transpose(0, 2, 3, 1) * 255 + 0.5).astype(np.uint8)
            list(pool.map(_write_png, [path for path, _ in chunk], pixels))
            if progress is not None:
                progress(start + len(chunk), len(jobs))
    return root


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
