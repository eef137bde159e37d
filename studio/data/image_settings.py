"""Image size and channel settings, which may defer to the model's Input layer."""

from __future__ import annotations

from typing import Any

from studio.core.params import Param
from studio.data.base import DataError, LoadContext

CHANNELS_SETTING = Param("channels", "choice", "auto",
                         "Colour channels: 1 grey, 3 RGB (auto: what the model's Input asks for, else 3).",
                         choices=("auto", "1", "3"))


AUGMENT_SETTINGS = (
    Param("augment_flip", "bool", False, "Randomly mirror training images left to right."),
    Param("augment_rotation", "float", 0.0, "Randomly rotate training images by up to this many degrees.",
          minimum=0.0, maximum=180.0),
    Param("augment_crop", "bool", False, "Randomly crop and zoom training images (80-100% of each side)."),
)


def image_size_setting(default: tuple[int, int]) -> Param:
    return Param("image_size", "ints", default,
                 "Height and width of the images (0 = what the model's Input asks for).",
                 minimum=0, maximum=4096, length=2)


def image_geometry(settings: dict[str, Any], context: LoadContext) -> tuple[int, int, int]:
    """(channels, height, width) from the settings, taking 0 / "auto" from the model's Input."""
    model = context.input_shape if context.input_shape is not None and len(context.input_shape) == 3 else None
    height, width = settings["image_size"]
    if height == 0 or width == 0:
        if model is None:
            raise DataError("is 0 (take it from the model's Input) but there is no model with an image "
                            "Input; set a height and width", setting="image_size")
        height = height or model[1]
        width = width or model[2]
    channels = settings["channels"]
    if channels == "auto":
        return (model[0] if model is not None and model[0] in (1, 3) else 3), height, width
    return int(channels), height, width
