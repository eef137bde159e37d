"""The dataset catalog: built-in, generated, file-based and local torchvision datasets.

Every dataset is one registered `DatasetSpec` whose settings are a `ParamSet`; `load_dataset` turns a
name and settings into in-memory tensors plus a `DatasetInfo`; images stay uint8 and `model_input`
turns a batch of them into the model's float input. Importing this package does not import
torch, torchvision or scikit-learn; loading a dataset does.
"""

from studio.core.pixels import model_input

# Importing the dataset modules registers their datasets.
from studio.data import (  # noqa: F401
    bundled,
    csv_table,
    image_folder,
    points,
    sequences,
    shapes,
    torchvision_sets,
)
from studio.data.augment import ImageAugment
from studio.data.base import (
    DataError,
    DatasetInfo,
    DatasetSpec,
    LoadContext,
    LoadedData,
    TargetRange,
    skipped_message,
)
from studio.data.image_folder import clear_image_cache
from studio.data.image_writer import write_image_folder
from studio.data.registry import (
    all_dataset_specs,
    get_dataset_spec,
    load_dataset,
    register,
    validate_settings,
)
from studio.data.shape_check import check_input_shape, check_model_outputs, check_outputs
from studio.data.shapes import SHAPE_NAMES

__all__ = [
    "SHAPE_NAMES",
    "DataError",
    "DatasetInfo",
    "DatasetSpec",
    "ImageAugment",
    "LoadContext",
    "LoadedData",
    "TargetRange",
    "all_dataset_specs",
    "check_input_shape",
    "check_model_outputs",
    "check_outputs",
    "clear_image_cache",
    "get_dataset_spec",
    "load_dataset",
    "model_input",
    "register",
    "skipped_message",
    "validate_settings",
    "write_image_folder",
]
