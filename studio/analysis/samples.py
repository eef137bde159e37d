"""Which samples an analysis looks at: the validation part of the data (the default) or the training part."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from studio.analysis import AnalysisError

if TYPE_CHECKING:
    from torch import Tensor

    from studio.data import LoadedData

Split = Literal["val", "train"]
SPLITS: tuple[Split, ...] = ("val", "train")
SPLIT_TITLES = {"val": "validation", "train": "training"}
_EMPTY_HINT = {"val": " (set the dataset's validation_split above 0, or use the training samples)",
               "train": ""}


def split_samples(data: LoadedData, split: Split = "val") -> tuple[Tensor, Tensor]:
    """(x, y) of one part of the data; an empty part is an error that says how to get samples."""
    if split not in SPLITS:
        raise AnalysisError(f"unknown split '{split}': use one of {', '.join(SPLITS)}")
    x, y = (data.val_x, data.val_y) if split == "val" else (data.train_x, data.train_y)
    if x.shape[0] == 0:
        raise AnalysisError(f"the {SPLIT_TITLES[split]} part of dataset '{data.info.name}' has no samples"
                            + _EMPTY_HINT[split])
    return x, y
