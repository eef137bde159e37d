"""Classic image datasets read through torchvision from files already on disk.

Nothing is downloaded: when the files are missing, the message says which files go where. The
official test set serves as the validation data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.params import Param, params
from studio.data.assemble import assemble
from studio.data.augment import build_augment
from studio.data.base import DataError, DatasetInfo, DatasetSpec, LoadContext, LoadedData
from studio.data.file_checks import MISSING, file_problem
from studio.data.image_settings import AUGMENT_SETTINGS
from studio.data.registry import register
from studio.data.settings import SEED_SETTING

_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class _Source:
    name: str
    title: str
    description: str
    torchvision_class: str
    folder: str  # below root, where torchvision looks
    files: tuple[str, ...]
    origin: str  # what the files are and where a person gets them
    class_names: tuple[str, ...] = ()  # empty: take torchvision's


_SOURCES = (
    _Source("mnist", "MNIST", "70,000 handwritten digits, 1x28x28, 10 classes (local files).", "MNIST",
            "MNIST/raw", _MNIST_FILES,
            "the four MNIST files from https://ossci-datasets.s3.amazonaws.com/mnist/, unpacked with gunzip",
            class_names=tuple(str(d) for d in range(10))),
    _Source("fashion_mnist", "Fashion-MNIST", "70,000 clothing images, 1x28x28, 10 classes (local files).",
            "FashionMNIST", "FashionMNIST/raw", _MNIST_FILES,
            "the four Fashion-MNIST files from https://github.com/zalandoresearch/fashion-mnist, unpacked "
            "with gunzip"),
    _Source("cifar10", "CIFAR-10", "60,000 colour images, 3x32x32, 10 classes (local files).", "CIFAR10",
            "cifar-10-batches-py",
            ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
             "batches.meta"),
            "the contents of cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html"),
)


def _check_files(source: _Source, root: Path) -> None:
    folder = root / source.folder
    problems = {name: file_problem(folder / name) for name in source.files}
    odd = [f"{name} is {problem}" for name, problem in problems.items() if problem not in (None, MISSING)]
    if odd:  # a pipe or a device would block torchvision's reader
        raise DataError(f"in {folder}, {', '.join(odd)}; put the dataset's files there: "
                        f"{', '.join(source.files)}", setting="root")
    missing = [name for name, problem in problems.items() if problem == MISSING]
    if not missing:
        return
    packed = [name for name in missing if (folder / f"{name}.gz").is_file()]
    hint = f" ({', '.join(packed)} are still packed as .gz: unpack them)" if packed else ""
    lacking = "has none of the dataset's files" if len(missing) == len(source.files) else \
        f"lacks {', '.join(missing)}"
    raise DataError(f"{folder} {lacking}{hint}. Put these files there: {', '.join(source.files)}; they are "
                    f"{source.origin}. Nothing is downloaded.", setting="root")


def _read_split(source: _Source, root: Path, train: bool) -> tuple[Any, np.ndarray, list[str]]:
    """(images as torchvision holds them, labels, class names) of the training or test part."""
    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, source.torchvision_class)
    try:
        dataset = dataset_class(str(root), train=train, download=False)
    except (RuntimeError, ValueError, TypeError, AssertionError, EOFError) as exc:
        # torchvision checks CIFAR's files against their official checksums; MNIST's parser asserts.
        raise DataError(f"the files in {root / source.folder} cannot be read ({exc}); replace them with "
                        f"{source.origin}", setting="root") from None
    return dataset.data, np.asarray(dataset.targets, dtype=np.int64), list(dataset.classes)


def _as_images(data: Any) -> np.ndarray:
    """(N, C, H, W) uint8 from torchvision's (N, H, W) tensor (MNIST) or (N, H, W, C) array (CIFAR)."""
    array = data.numpy() if hasattr(data, "numpy") else np.asarray(data)
    return array[:, None] if array.ndim == 3 else array.transpose(0, 3, 1, 2)


def _subset(n: int, keep: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of `keep` of `n` samples, drawn at random (all when keep >= n)."""
    if keep >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, keep, replace=False))


def _loader(source: _Source):
    def load(settings: dict[str, Any], context: LoadContext) -> LoadedData:
        root = context.resolve_path(settings["root"], "root")
        _check_files(source, root)
        context.report(0, 2)
        train_data, train_y, classes = _read_split(source, root, train=True)
        context.report(1, 2)
        val_data, val_y, _ = _read_split(source, root, train=False)
        context.report(2, 2)
        train_x, val_x = _as_images(train_data), _as_images(val_data)
        if settings["max_samples"]:
            # The test set is cut in the same proportion, so validation stays quick as well.
            rng = np.random.default_rng(settings["seed"])
            keep = _subset(len(train_y), settings["max_samples"], rng)
            keep_val = _subset(len(val_y), max(1, len(val_y) * len(keep) // len(train_y)), rng)
            train_x, train_y, val_x, val_y = train_x[keep], train_y[keep], val_x[keep_val], val_y[keep_val]
        class_names = list(source.class_names) or [str(c) for c in classes]
        info = DatasetInfo(name=source.name, input_shape=train_x.shape[1:], task="classification",
                           class_names=class_names, num_outputs=len(class_names), sample_kind="image",
                           source=str(root / source.folder))
        return assemble(train_x, train_y, val_x, val_y, info, augment=build_augment(settings))

    return load


for _source in _SOURCES:
    register(DatasetSpec(
        name=_source.name, title=_source.title, category="torchvision", description=_source.description,
        settings=params(
            Param("root", "str", "data", f"Folder whose {_source.folder}/ sub-folder holds the files.",
                  path="folder"),
            Param("max_samples", "int", 0, "Use at most this many training images, picked at random "
                  "(0 = all); the test set is cut in the same proportion.", minimum=0, maximum=10_000_000),
            SEED_SETTING,
            AUGMENT_SETTINGS,
        ),
        loader=_loader(_source)))
