"""Byte images in memory, float images in the model: the one conversion between the two.

Image datasets whose values are byte pixels keep `train_x`/`val_x` as uint8 (N, C, H, W): a quarter of
the memory of float32, on the host and on a GPU. Whoever feeds a batch to a model passes it through
`model_input` after moving it to the device, so the copy moves bytes and the device does the scaling.
Every other dataset (digits, rows, sequences, points, tokens) keeps its own dtype, which `model_input`
passes through unchanged: a uint8 tensor always means pixels 0..255.

It lives in `core` because the data (which makes the bytes) and the trainer (which feeds them) both
need it and never import each other. Imports torch only when a tensor is converted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

# Multiplying by the float32 nearest to 1/255 gives exactly the values the studio's images always had.
PIXEL_SCALE = np.float32(1 / 255)


def model_input(x: Tensor) -> Tensor:
    """The model's float32 input for a batch: byte pixels 0..255 become 0..1, anything else is returned
    as it is. On a device it is one cast and one in-place multiply there, with no wait for the device."""
    import torch

    if x.dtype != torch.uint8:
        return x
    return x.float().mul_(float(PIXEL_SCALE))


def pixels_from_unit(images: np.ndarray) -> np.ndarray:
    """Float images in 0..1 as uint8 pixels, rounded to nearest (as an image file stores them)."""
    return (np.asarray(images, dtype=np.float32) * 255 + 0.5).astype(np.uint8)
