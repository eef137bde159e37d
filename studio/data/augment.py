"""Random image augmentation for whole training batches.

torchvision's transforms draw one set of random parameters per call, so on a batch every image would
get the same flip and the same rotation. Here each image gets its own: flip, rotation and crop are
folded into one affine matrix per image and applied to the batch with a single `grid_sample`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor

MIN_CROP_SIDE = 0.8  # a random crop keeps 80-100% of each side


@dataclass(frozen=True)
class ImageAugment:
    """Callable on a batch (N, C, H, W); draws from torch's global RNG, so a seeded run repeats."""

    flip: bool = False
    rotation: float = 0.0  # degrees, drawn uniformly in -rotation..rotation
    crop: bool = False

    def __call__(self, batch: Tensor) -> Tensor:
        import torch

        n = batch.shape[0]
        flip = torch.rand(n, device=batch.device) < 0.5 if self.flip else None
        if not self.rotation and not self.crop:
            if flip is None:
                return batch
            return torch.where(flip[:, None, None, None], batch.flip(-1), batch)
        return self._affine(batch, flip)

    def _affine(self, batch: Tensor, flip: Tensor | None) -> Tensor:
        import torch
        import torch.nn.functional as F

        n, _, height, width = batch.shape
        options = {"device": batch.device, "dtype": torch.float32}
        angle = (torch.rand(n, **options) * 2 - 1) * math.radians(self.rotation)
        scale = (MIN_CROP_SIDE + torch.rand(n, **options) * (1 - MIN_CROP_SIDE) if self.crop
                 else torch.ones(n, **options))
        # The crop window stays inside the image: its centre moves at most by what the zoom leaves.
        shift = (torch.rand(n, 2, **options) * 2 - 1) * (1 - scale)[:, None]
        mirror = torch.where(flip, -1.0, 1.0).to(**options) if flip is not None else torch.ones(n, **options)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # Output -> input coordinates in grid_sample's -1..1 space; the aspect factors rotate in pixel
        # space, so non-square images are not sheared.
        theta = torch.stack([
            torch.stack([scale * cos * mirror, -scale * sin * (height / width), shift[:, 0]], dim=1),
            torch.stack([scale * sin * mirror * (width / height), scale * cos, shift[:, 1]], dim=1),
        ], dim=1)
        grid = F.affine_grid(theta.to(batch.dtype), list(batch.shape), align_corners=False)
        return F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)


def build_augment(settings: dict[str, Any]) -> ImageAugment | None:
    """The augmentation the `augment_*` settings ask for, or None when they ask for none."""
    augment = ImageAugment(flip=settings["augment_flip"], rotation=settings["augment_rotation"],
                           crop=settings["augment_crop"])
    return augment if augment.flip or augment.rotation or augment.crop else None
