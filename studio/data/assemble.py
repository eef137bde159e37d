"""From numpy arrays to `LoadedData`: splitting, standardising and converting to tensors.

Every loader ends here, so the rules (stratified, seeded splits; train-only statistics; dtypes) hold
for every dataset alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from studio.data.base import DataError, DatasetInfo, LoadedData, TargetRange


def split_indices(y: np.ndarray, *, stratify: bool, fraction: float, seed: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices; per class when `stratify`, so each class keeps its share.

    Every class with two or more samples puts at least one in each part when `fraction` > 0.
    """
    if len(y) < 2:
        raise DataError(f"needs at least 2 samples, got {len(y)}")
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    train_parts, val_parts = [], []
    for group in groups:
        group = rng.permutation(group)
        n_val = _held_out(len(group), fraction)
        val_parts.append(group[:n_val])
        train_parts.append(group[n_val:])
    return rng.permutation(np.concatenate(train_parts)), np.sort(np.concatenate(val_parts))


def _held_out(n: int, fraction: float) -> int:
    if fraction <= 0 or n < 2:
        return 0
    return min(max(round(n * fraction), 1), n - 1)


def standardise(train_x: np.ndarray, val_x: np.ndarray, feature_names: list[str] | None = None
                ) -> tuple[np.ndarray, np.ndarray, list[float], list[float]]:
    """Scale features to mean 0 and std 1 using the training part's statistics only.

    Computed in float64; a feature whose values are too large for that (or not finite) is a DataError
    naming it, rather than NaNs that training would blame on the learning rate."""
    train_x = np.asarray(train_x, dtype=np.float64)
    val_x = np.asarray(val_x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = train_x.mean(axis=0)
        std = train_x.std(axis=0)
    _check_finite_statistics(mean, std, train_x, feature_names)
    std = np.where(std > 1e-12, std, 1.0)  # a constant feature stays constant instead of dividing by 0
    return (train_x - mean) / std, (val_x - mean) / std, mean.tolist(), std.tolist()


def _check_finite_statistics(mean: np.ndarray, std: np.ndarray, train_x: np.ndarray,
                             feature_names: list[str] | None) -> None:
    bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))
    if not len(bad):
        return
    column = int(bad[0])
    name = feature_names[column] if feature_names and column < len(feature_names) else f"x{column}"
    values = train_x[:, column]
    if not np.all(np.isfinite(values)):
        raise DataError(f"feature '{name}' holds values that are not finite numbers (NaN or infinity)")
    raise DataError(f"feature '{name}' holds {np.abs(values).max():g}, too large to standardise; "
                    "scale it down")


def target_range(y: np.ndarray) -> TargetRange:
    """The span of regression targets, and whether they are whole numbers as class labels are."""
    values = np.asarray(y, dtype=np.float64).reshape(-1)
    distinct = np.unique(values)
    return TargetRange(low=float(distinct[0]), high=float(distinct[-1]),
                       whole=bool(np.all(distinct == np.round(distinct))), distinct=len(distinct))


def assemble(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray,
             info: DatasetInfo, *, standardise_features: bool = False,
             augment: Callable[[Any], Any] | None = None) -> LoadedData:
    """Tensors with the studio's dtypes: y int64 classes or float32 (N, k); x uint8 for images given as
    uint8 pixels (kept as bytes: a batch becomes float through `studio.core.pixels.model_input`), int64
    for token ids, float32 for everything else."""
    import torch

    from studio.data.streamed import StreamedRows

    if info.task == "classification":
        present = np.unique(train_y)
        if len(present) < 2:
            only = info.class_name(int(present[0])) if len(present) else "none"
            raise DataError(f"only one class ({only}) is in the training data; a classifier needs at "
                            "least two")
    elif info.target_range is None and len(train_y) + len(val_y):
        info.target_range = target_range(np.concatenate([np.ravel(train_y), np.ravel(val_y)]))
    if standardise_features:
        train_x, val_x, info.feature_mean, info.feature_std = standardise(train_x, val_x, info.feature_names)
    x_dtype = None if isinstance(train_x, StreamedRows) else _x_dtype(info, train_x)

    def x_tensor(a: np.ndarray | StreamedRows) -> torch.Tensor | StreamedRows:
        if isinstance(a, StreamedRows):  # rows read from a cache file batch by batch, as they are
            return a
        return torch.from_numpy(np.ascontiguousarray(a, dtype=x_dtype))

    def y_tensor(a: np.ndarray) -> torch.Tensor:
        if info.task == "classification":
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))
        values = np.ascontiguousarray(a, dtype=np.float32)
        # An empty part (no validation split) keeps the targets' width: reshape(0, -1) cannot tell it.
        width = int(np.prod(values.shape[1:])) if values.ndim > 1 else 1
        return torch.from_numpy(values.reshape(len(values), width))

    return LoadedData(x_tensor(train_x), y_tensor(train_y), x_tensor(val_x), y_tensor(val_y), info,
                      augment=augment)


def _x_dtype(info: DatasetInfo, train_x: np.ndarray) -> type[np.generic]:
    if info.sample_kind == "tokens":
        return np.int64
    if info.sample_kind == "image" and np.asarray(train_x).dtype == np.uint8:
        return np.uint8
    return np.float32


def split_and_assemble(x: np.ndarray, y: np.ndarray, info: DatasetInfo, settings: dict[str, Any], *,
                       standardise_features: bool = False,
                       augment: Callable[[Any], Any] | None = None) -> LoadedData:
    """Split one pool of samples by the `validation_split` and `seed` settings, then assemble."""
    train, val = split_indices(y, stratify=info.task == "classification",
                               fraction=settings["validation_split"], seed=settings["seed"])
    return assemble(x[train], y[train], x[val], y[val], info,
                    standardise_features=standardise_features, augment=augment)
