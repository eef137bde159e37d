"""The dataset catalog: registering specs, finding them, and loading a dataset by name."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.core.params import ParamValueError
from studio.core.safe_io import FileRefused
from studio.data.base import CATEGORIES, DataError, DatasetSpec, LoadContext, LoadedData, Progress

_SPECS: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add `spec` to the catalog; a second spec with the same name is a programming error."""
    if spec.name in _SPECS:
        raise ValueError(f"dataset '{spec.name}' is registered twice")
    _SPECS[spec.name] = spec
    return spec


def get_dataset_spec(name: str) -> DatasetSpec:
    try:
        return _SPECS[name]
    except KeyError:
        known = ", ".join(sorted(_SPECS))
        raise DataError(f"unknown dataset; known datasets: {known}", dataset=name) from None


def all_dataset_specs() -> list[DatasetSpec]:
    """Every registered dataset, grouped by category (in CATEGORIES order), then in registration order."""
    return sorted(_SPECS.values(), key=lambda spec: CATEGORIES.index(spec.category))


def validate_settings(name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The dataset's full, normalised settings, or a DataError naming the bad setting."""
    spec = get_dataset_spec(name)
    try:
        return spec.settings.validate(settings)
    except ParamValueError as exc:
        raise DataError(exc.reason, dataset=name, setting=exc.name) from None


def load_dataset(name: str, settings: Mapping[str, Any], *, input_shape: tuple[int, ...] | None = None,
                 progress: Progress | None = None, base_dir: str | Path | None = None) -> LoadedData:
    """Load dataset `name` into memory.

    `input_shape` is the model's Input shape (used where a dataset adapts to the model, such as the
    image size of a folder); `progress(done, total)` is called while files are read; relative paths
    in the settings are taken from `base_dir` (the project's folder) when given.
    """
    values = validate_settings(name, settings)
    context = LoadContext(input_shape=tuple(input_shape) if input_shape is not None else None,
                          progress=progress, base_dir=Path(base_dir) if base_dir is not None else None)
    try:
        return get_dataset_spec(name).loader(values, context)
    except DataError as exc:
        raise exc.with_dataset(name) from None
    except FileRefused as exc:  # a pipe or a device where a file was expected, met deep down
        raise DataError(str(exc), dataset=name) from None
    except OSError as exc:
        # Files vanish, permissions change, disks fill: say which file, not a traceback.
        raise DataError(exc.strerror or str(exc), dataset=name, path=exc.filename) from None
