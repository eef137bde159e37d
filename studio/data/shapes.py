"""Generated images of coloured geometric shapes: a small, fast stand-in for photo classification.

Shapes vary in position, size, a slight rotation, colour and background noise, so a model has to
learn the outline rather than a pixel. Rendering is vectorised over chunks of images with numpy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from studio.core.params import Param, params
from studio.core.pixels import pixels_from_unit
from studio.data.assemble import split_and_assemble
from studio.data.base import DatasetInfo, DatasetSpec, LoadContext, LoadedData, Progress
from studio.data.image_settings import CHANNELS_SETTING, image_geometry, image_size_setting
from studio.data.registry import register
from studio.data.settings import SPLIT_SETTINGS, n_samples_setting, noise_setting

# Each outline takes coordinates (u, v) in units of the shape's radius, centred on the shape, and says
# which pixels are inside.
_OUTLINES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "circle": lambda u, v: u * u + v * v <= 1.0,
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 0.8,
    "triangle": lambda u, v: (v <= 0.7) & (np.abs(u) <= (v + 1.0) * 0.58),
    "diamond": lambda u, v: np.abs(u) + np.abs(v) <= 1.1,
    "cross": lambda u, v: (np.minimum(np.abs(u), np.abs(v)) <= 0.3) & (np.maximum(np.abs(u), np.abs(v)) <= 1),
    "ring": lambda u, v: (u * u + v * v <= 1.0) & (u * u + v * v >= 0.45),
}
SHAPE_NAMES: tuple[str, ...] = tuple(_OUTLINES)
_CHUNK = 256  # images rendered at once: bounds the temporary arrays to a few tens of MB


def render_shapes(labels: np.ndarray, *, height: int, width: int, channels: int, noise: float,
                  rng: np.random.Generator, progress: Progress | None = None, pixels: bool = False
                  ) -> np.ndarray:
    """Images (N, channels, height, width) float32 in 0..1; `labels` index into SHAPE_NAMES.

    With `pixels`, uint8 0..255 instead, rounded as an image file stores them, chunk by chunk so the
    float images of all samples never exist at once."""
    out = np.empty((len(labels), channels, height, width), dtype=np.uint8 if pixels else np.float32)
    for start in range(0, len(labels), _CHUNK):
        chunk = labels[start:start + _CHUNK]
        images = _render_chunk(chunk, height, width, channels, noise, rng)
        out[start:start + len(chunk)] = pixels_from_unit(images) if pixels else images
        if progress is not None:
            progress(start + len(chunk), len(labels))
    return out


def _render_chunk(labels: np.ndarray, height: int, width: int, channels: int, noise: float,
                  rng: np.random.Generator) -> np.ndarray:
    n = len(labels)
    side = min(height, width)
    radius = rng.uniform(0.18, 0.35, n) * side
    reach = 1.25 * radius  # the outlines reach at most 1.21 radii from their centre
    cx = rng.uniform(reach, width - reach).astype(np.float32)
    cy = rng.uniform(reach, height - reach).astype(np.float32)
    angle = rng.uniform(-0.2, 0.2, n)  # small, so a square never turns into a diamond
    # Pixel offsets from each centre, rotated and scaled to units of the radius: (n, height, width).
    dx = (np.arange(width, dtype=np.float32) + 0.5)[None, None, :] - cx[:, None, None]
    dy = (np.arange(height, dtype=np.float32) + 0.5)[None, :, None] - cy[:, None, None]
    cos = (np.cos(angle) / radius).astype(np.float32)[:, None, None]
    sin = (np.sin(angle) / radius).astype(np.float32)[:, None, None]
    u = cos * dx + sin * dy
    v = cos * dy - sin * dx
    inside = np.zeros((n, height, width), dtype=bool)
    for index in np.unique(labels):
        rows = labels == index
        inside[rows] = _OUTLINES[SHAPE_NAMES[index]](u[rows], v[rows])
    # The shape's colour differs from the background by 0.35..0.65 in every channel (wrapping
    # around 1), so a shape never vanishes into its background, in colour or in grey.
    background = rng.uniform(0.0, 1.0, (n, channels)).astype(np.float32)
    foreground = (background + rng.uniform(0.35, 0.65, (n, 1)).astype(np.float32)) % 1.0
    images = np.where(inside[:, None], foreground[:, :, None, None], background[:, :, None, None])
    if noise > 0:
        # Uniform noise with the asked-for std: drawing bytes is several times faster than Gaussians.
        noise_bytes = rng.integers(0, 256, images.shape, dtype=np.uint8)
        scale = np.float32(noise * np.sqrt(3.0) / 127.5)
        images -= np.float32(127.5) * scale
        images += noise_bytes * scale
    return np.clip(images, 0.0, 1.0, out=images)


def balanced_labels(n: int, classes: int, rng: np.random.Generator) -> np.ndarray:
    """`n` labels with every class equally often (within one), in random order."""
    return rng.permutation(np.arange(n) % classes)


def _load_shapes(settings: dict[str, Any], context: LoadContext) -> LoadedData:
    channels, height, width = image_geometry(settings, context)
    rng = np.random.default_rng(settings["seed"])
    labels = balanced_labels(settings["n_samples"], settings["classes"], rng)
    images = render_shapes(labels, height=height, width=width, channels=channels, noise=settings["noise"],
                           rng=rng, progress=context.progress, pixels=True)
    info = DatasetInfo(name="shapes", input_shape=images.shape[1:], task="classification",
                       class_names=list(SHAPE_NAMES[:settings["classes"]]), num_outputs=settings["classes"],
                       sample_kind="image", source="generated")
    return split_and_assemble(images, labels, info, settings)


register(DatasetSpec(
    name="shapes", title="Shapes", category="generated",
    description="Coloured circles, squares, triangles... on noisy backgrounds; 2 classes stand in for "
                "cats vs dogs.",
    settings=params(
        n_samples_setting(1000),
        Param("classes", "int", 3, f"How many kinds of shape: {', '.join(SHAPE_NAMES)} in this order.",
              minimum=2, maximum=len(SHAPE_NAMES)),
        image_size_setting((64, 64)),
        CHANNELS_SETTING,
        noise_setting(0.1, "Std of the uniform per-pixel noise (pixel values are 0..1).", maximum=1.0),
        SPLIT_SETTINGS,
    ),
    loader=_load_shapes))
