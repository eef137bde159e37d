"""Batch augmentation: per-image randomness, shapes kept, repeatable under a seed."""

from __future__ import annotations

import pytest
import torch

from studio.data import ImageAugment
from studio.data.augment import build_augment


def batch(n: int = 64, height: int = 12, width: int = 20) -> torch.Tensor:
    torch.manual_seed(123)
    return torch.rand(n, 3, height, width)


def is_mirror_or_same(out: torch.Tensor, original: torch.Tensor, atol: float = 0.0) -> tuple[bool, bool]:
    return (torch.allclose(out, original.flip(-1), atol=atol), torch.allclose(out, original, atol=atol))


def test_no_augment_settings_build_nothing():
    assert build_augment({"augment_flip": False, "augment_rotation": 0.0, "augment_crop": False}) is None
    built = build_augment({"augment_flip": True, "augment_rotation": 15.0, "augment_crop": False})
    assert built == ImageAugment(flip=True, rotation=15.0, crop=False)


@pytest.mark.parametrize("rotation", [0.0, 1e-6], ids=["flip-only path", "affine path"])
def test_flip_mirrors_some_images_and_keeps_the_others(rotation):
    images = batch()
    out = ImageAugment(flip=True, rotation=rotation)(images)
    kinds = [is_mirror_or_same(o, i, atol=1e-4) for o, i in zip(out, images, strict=True)]
    assert all(mirrored or same for mirrored, same in kinds)
    mirrored = sum(m for m, _ in kinds)
    assert 10 < mirrored < 54  # each image draws its own coin, not one for the whole batch


def test_rotation_and_crop_keep_shape_and_dtype_and_differ_per_image():
    images = batch(8, 16, 16)
    images[:] = images[0]  # eight copies of one image
    out = ImageAugment(rotation=30.0, crop=True)(images)
    assert out.shape == images.shape and out.dtype == images.dtype
    assert len({tuple(o.flatten()[:50].tolist()) for o in out}) == 8
    assert out.min() >= images.min() - 1e-6 and out.max() <= images.max() + 1e-6  # bilinear: no overshoot


def test_crop_zooms_in_on_a_part_of_the_image():
    # A left-to-right ramp: any crop with zoom keeps values within the ramp's range and narrows it.
    ramp = torch.linspace(0, 1, 32).expand(4, 1, 32, 32).clone()
    out = ImageAugment(crop=True)(ramp)
    spans = out[:, 0, 16, -1] - out[:, 0, 16, 0]
    assert torch.all(spans < 0.999) and torch.all(spans > 0.75)


def test_a_seed_repeats_the_augmentation():
    augment = ImageAugment(flip=True, rotation=20.0, crop=True)
    images = batch(6)
    torch.manual_seed(7)
    first = augment(images)
    torch.manual_seed(7)
    assert torch.equal(first, augment(images))
    assert not torch.equal(first, augment(images))
