"""The plain data types of the dataset catalog: errors, metadata, loaded tensors and specs.

Nothing here imports torch: tensors appear only in annotations, so the GUI can list the catalog
before torch has finished importing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from studio.core.errors import StudioError
from studio.core.params import ParamSet

if TYPE_CHECKING:
    from torch import Tensor

Task = Literal["classification", "regression"]
SampleKind = Literal["image", "row", "sequence", "points", "tokens"]
Category = Literal["built-in", "generated", "files", "torchvision"]
CATEGORIES: tuple[Category, ...] = ("built-in", "generated", "files", "torchvision")
Progress = Callable[[int, int], None]

# The Input layer's `kind` that takes each sample kind.
INPUT_KIND_OF_SAMPLE = {"image": "image", "row": "vector", "points": "vector", "sequence": "sequence",
                        "tokens": "tokens"}


class DataError(StudioError):
    """Data that cannot be loaded: names the dataset and the setting or file at fault.

    `path` is the file or folder that was read; `project` the project file whose dataset it is, added
    by whoever knows it (`in_project`), so every message can say where to look."""

    def __init__(self, message: str, *, dataset: str | None = None, setting: str | None = None,
                 path: str | Path | None = None, project: str | Path | None = None):
        self.reason = message
        self.dataset = dataset
        self.setting = setting
        self.path = None if path is None else str(path)
        self.project = None if project is None else str(project)
        where = [f"project '{self.project}'" if self.project else "",
                 f"dataset '{dataset}'" if dataset else "",
                 f"setting '{setting}'" if setting else "",
                 f"file '{self.path}'" if self.path else ""]
        where_text = ", ".join(w for w in where if w)
        super().__init__(f"{where_text}: {message}" if where_text else message)

    def with_dataset(self, dataset: str) -> DataError:
        """The same error, naming `dataset` (helpers deep down do not know which dataset they serve)."""
        if self.dataset:
            return self
        return DataError(self.reason, dataset=dataset, setting=self.setting, path=self.path,
                         project=self.project)

    def in_project(self, project: str | Path) -> DataError:
        """The same error, naming first the project file whose dataset failed to load."""
        return DataError(self.reason, dataset=self.dataset, setting=self.setting, path=self.path,
                         project=project)


@dataclass(frozen=True)
class TargetRange:
    """What the values of a regression target look like, so a model's output can be checked against them."""

    low: float
    high: float
    whole: bool  # every value is a whole number, as class labels are
    distinct: int  # how many different values there are


@dataclass
class DatasetInfo:
    """What a model needs to know about a dataset, and how to show one of its samples."""

    name: str
    input_shape: tuple[int, ...]
    task: Task
    class_names: list[str]
    num_outputs: int
    sample_kind: SampleKind
    vocab_size: int | None = None
    feature_names: list[str] = field(default_factory=list)
    target_names: list[str] = field(default_factory=list)  # regression outputs
    target_range: TargetRange | None = None  # regression only
    target_column: str = ""  # the table column the targets come from, for messages
    # Files that were passed over, as (path, why): unreadable images, pipes, broken links.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # Per-feature mean and std the features were standardised with, so samples can be shown in
    # the units of the source data.
    feature_mean: list[float] | None = None
    feature_std: list[float] | None = None
    source: str = ""  # where the data came from (folder, file), for display

    @property
    def input_kind(self) -> str:
        """The Input layer `kind` that takes this data."""
        return INPUT_KIND_OF_SAMPLE[self.sample_kind]

    def input_layer_settings(self) -> dict[str, Any]:
        """Settings of an Input layer that fits this data."""
        shape = self.input_shape
        kind = self.input_kind
        if kind == "image":
            return {"kind": kind, "channels": shape[0], "height": shape[1], "width": shape[2]}
        if kind == "vector":
            return {"kind": kind, "features": shape[0]}
        if kind == "sequence":
            return {"kind": kind, "length": shape[0], "features": shape[1]}
        return {"kind": kind, "length": shape[0], "vocab_size": self.vocab_size}

    def class_name(self, index: int) -> str:
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)

    def sample_image(self, x: Any) -> np.ndarray:
        """One image sample (C, H, W), uint8 pixels or floats scaled 0..1, as an H x W x 3 uint8 array for
        display."""
        if self.sample_kind != "image":
            raise ValueError(f"dataset '{self.name}' holds {self.sample_kind} samples, not images")
        array = _as_numpy(x)
        if array.ndim != 3:
            raise ValueError(f"expects one image (C, H, W), got an array of shape {array.shape}")
        if array.shape[0] == 1:
            array = np.repeat(array, 3, axis=0)
        rgb = array[:3].transpose(1, 2, 0)
        if rgb.dtype == np.uint8:
            return np.ascontiguousarray(rgb)
        return np.clip(rgb.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def sample_text(self, x: Any, *, max_items: int = 12) -> str:
        """One row, point, sequence or token sample as a line of text, in the source data's units."""
        array = _as_numpy(x)
        if self.sample_kind == "image":
            raise ValueError(f"dataset '{self.name}' holds images; use sample_image")
        if self.sample_kind == "tokens":
            ids = [str(int(v)) for v in array.reshape(-1)]
            return " ".join(_shorten(ids, max_items))
        values = self._unstandardise(array.astype(float))
        if self.sample_kind == "sequence":
            steps = [",".join(f"{v:.3g}" for v in step) for step in values.reshape(values.shape[0], -1)]
            return f"{len(steps)} steps: " + " ".join(_shorten(steps, max_items))
        names = self.feature_names or [f"x{i}" for i in range(values.size)]
        items = [f"{n}={v:.4g}" for n, v in zip(names, values.reshape(-1), strict=True)]
        return ", ".join(_shorten(items, max_items))

    def _unstandardise(self, values: np.ndarray) -> np.ndarray:
        if self.feature_mean is None or self.feature_std is None:
            return values
        return values * np.asarray(self.feature_std) + np.asarray(self.feature_mean)


SKIPPED_SHOWN = 3  # files named in the one-line report of skipped files; the count says the rest


def skipped_message(info: DatasetInfo, *, shown: int = SKIPPED_SHOWN) -> str | None:
    """One line for the person loading the data, e.g. "skipped 4 unreadable images (cat/a.png: truncated,
    dog/b.jpg: not an image, ...)"; None when nothing was skipped."""
    if not info.skipped:
        return None
    count = len(info.skipped)
    noun = "image" if info.sample_kind == "image" else "file"
    named = [f"{_relative(path, info.source)}: {why}" for path, why in info.skipped[:shown]]
    if count > shown:
        named.append("...")
    return f"skipped {count} unreadable {noun}{'' if count == 1 else 's'} ({', '.join(named)})"


def _relative(path: str, source: str) -> str:
    """`path` below the dataset's folder when it lies there (class folders tell same-named files apart)."""
    try:
        return Path(path).relative_to(source).as_posix() if source else path
    except ValueError:
        return path


@dataclass
class LoadedData:
    """A dataset in memory, ready to be sliced into batches.

    Byte images keep `train_x`/`val_x` as uint8; a batch becomes the model's input through
    `studio.core.pixels.model_input`, once it is on the device. Data too big for memory has
    `train_x`/`val_x` as `studio.data.streamed.StreamedRows`, which read their rows from a cache file
    on disk when they are indexed."""

    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    info: DatasetInfo
    # Applied by the trainer to each training batch (images only); draws from torch's global RNG,
    # so the trainer's seed makes it repeatable.
    augment: Callable[[Tensor], Tensor] | None = None

    @property
    def num_train(self) -> int:
        return int(self.train_x.shape[0])

    @property
    def streamed(self) -> bool:
        """Whether the samples are read from a cache file on disk batch by batch (too big for memory)."""
        from studio.data.streamed import StreamedRows

        return isinstance(self.train_x, StreamedRows) or isinstance(self.val_x, StreamedRows)

    @property
    def storage(self) -> str:
        """Where the samples are held, for people: "in memory, 410.2 MiB" or "streamed from disk, cache
        6.40 GiB in FOLDER"."""
        from studio.data.disk_cache import format_bytes
        from studio.data.streamed import StreamedRows

        streamed = [x for x in (self.train_x, self.val_x) if isinstance(x, StreamedRows)]
        if streamed:
            path = streamed[0].path
            try:
                size = path.stat().st_size
            except OSError:  # removed under a run: its reads say so; the size is only for display
                size = sum(x.element_size() * x.nelement() for x in streamed)
            return f"streamed from disk, cache {format_bytes(size)} in {path.parent}"
        tensors = (self.train_x, self.train_y, self.val_x, self.val_y)
        return f"in memory, {format_bytes(sum(t.element_size() * t.nelement() for t in tensors))}"

    @property
    def num_val(self) -> int:
        return int(self.val_x.shape[0])


@dataclass(frozen=True)
class LoadContext:
    """What a dataset loader gets besides its settings."""

    input_shape: tuple[int, ...] | None = None  # the model's Input shape, when a model is known
    progress: Progress | None = None
    base_dir: Path | None = None  # relative paths in settings are taken from here

    def report(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)

    def resolve_path(self, value: str, setting: str) -> Path:
        """An absolute path from a path setting; an empty setting is an error naming it."""
        if not value.strip():
            raise DataError("no path given; set it to a file or folder", setting=setting)
        path = Path(value.strip()).expanduser()
        if not path.is_absolute() and self.base_dir is not None:
            path = Path(self.base_dir) / path
        return path.resolve()


Loader = Callable[[dict[str, Any], LoadContext], LoadedData]


@dataclass(frozen=True)
class DatasetSpec:
    """One entry of the dataset catalog: its id, how it is described, its settings and its loader."""

    name: str
    title: str
    category: Category
    description: str
    settings: ParamSet
    loader: Loader


def _as_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor; avoids importing torch just to check the type
        x = x.detach().cpu().float().numpy() if x.dtype.is_floating_point else x.detach().cpu().numpy()
    return np.asarray(x)


def _shorten(items: Sequence[str], max_items: int) -> list[str]:
    if len(items) <= max_items:
        return list(items)
    return [*items[: max_items - 1], "...", items[-1]]
