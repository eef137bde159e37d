"""The Input layer: where data enters the model."""

from __future__ import annotations

from studio.core.layers import LayerSpec, register
from studio.core.params import Param, params
from studio.core.shapes import TensorShape

INPUT_KINDS = ("image", "vector", "sequence", "tokens")
_IMAGE = ("kind", ("image",))


def input_shape(cfg) -> TensorShape:
    kind = cfg["kind"]
    if kind == "image":
        return TensorShape((cfg["channels"], cfg["height"], cfg["width"]))
    if kind == "vector":
        return TensorShape((cfg["features"],))
    if kind == "sequence":
        return TensorShape((cfg["length"], cfg["features"]))
    return TensorShape((cfg["length"],), vocab=cfg["vocab_size"])


def _describe(cfg) -> str:
    shape = input_shape(cfg)
    return f"{cfg['kind']} " + "x".join(map(str, shape.dims))


def _build(_inputs, _cfg):
    from torch import nn

    return nn.Identity()


INPUT = register(LayerSpec(
    type="Input", category="Input", default_name="input",
    help="Where data enters: an image C x H x W, a vector, a sequence T x F, or token ids T.",
    params=params(
        Param("kind", "choice", "image", "What one sample is.", choices=INPUT_KINDS),
        Param("channels", "int", 1, "Image channels (1 grey, 3 colour).", minimum=1, maximum=4096,
              shown_when=_IMAGE),
        Param("height", "int", 28, "Image height in pixels.", minimum=1, maximum=16384, shown_when=_IMAGE),
        Param("width", "int", 28, "Image width in pixels.", minimum=1, maximum=16384, shown_when=_IMAGE),
        Param("features", "int", 2, "Values per sample (vector) or per time step (sequence).",
              minimum=1, maximum=1_000_000, shown_when=("kind", ("vector", "sequence"))),
        Param("length", "int", 16, "Time steps of a sequence or token ids per sample.",
              minimum=1, maximum=1_000_000, shown_when=("kind", ("sequence", "tokens"))),
        Param("vocab_size", "int", 1000, "Number of distinct token ids (ids are 0 to vocab_size-1).",
              minimum=1, maximum=10_000_000, shown_when=("kind", ("tokens",))),
    ),
    infer=lambda _inputs, cfg: input_shape(cfg),
    build=_build, min_inputs=0, max_inputs=0, describe=_describe,
))
