"""Convolution and pooling layers, with Keras' 'valid'/'same' padding semantics."""

from __future__ import annotations

import math

from studio.core.catalog.common import activation_param, expect_rank, padding_param, single, use_bias_param
from studio.core.errors import ShapeError
from studio.core.layers import LayerSpec, register
from studio.core.params import Param, params
from studio.core.shapes import TensorShape, conv_output_length, same_padding


def _window_params(kernel_default, ndim: int, *, dilation: bool) -> list[Param]:
    size = ndim
    items = [
        Param("kernel_size", "ints", kernel_default, "Window size.", minimum=1, maximum=1024, length=size),
        Param("strides", "ints", (1,) * ndim, "Step between windows.", minimum=1, maximum=1024, length=size),
        padding_param(),
    ]
    if dilation:
        items.append(Param("dilation", "ints", (1,) * ndim, "Spacing between kernel taps.",
                           minimum=1, maximum=1024, length=size))
    return items


def _spatial_out(sizes, cfg, what: str) -> tuple[int, ...]:
    dilation = cfg.get("dilation", (1,) * len(sizes))
    out = tuple(
        conv_output_length(n, k, s, d, cfg["padding"])
        for n, k, s, d in zip(sizes, cfg["kernel_size"], cfg["strides"], dilation, strict=True)
    )
    if min(out) < 1:
        window = "x".join(map(str, cfg["kernel_size"]))
        raise ShapeError(f"the {window} {what} does not fit the input size {'x'.join(map(str, sizes))}: "
                         "use a smaller window, 'same' padding, or less pooling before it")
    return out


def _pads(sizes, cfg) -> tuple[int, ...] | None:
    """F.pad amounts (last axis first) for 'same' padding, or None when no padding is needed."""
    if cfg["padding"] != "same":
        return None
    dilation = cfg.get("dilation", (1,) * len(sizes))
    pads: list[int] = []
    for n, k, s, d in reversed(list(zip(sizes, cfg["kernel_size"], cfg["strides"], dilation, strict=True))):
        pads.extend(same_padding(n, k, s, d))
    return tuple(pads) if any(pads) else None


def _conv_describe(cfg) -> str:
    return f"{cfg['filters']} @ {'x'.join(map(str, cfg['kernel_size']))}, {cfg['activation']}"


# --- Conv2D -----------------------------------------------------------------------------------------

def _conv2d_shape(inputs, cfg) -> TensorShape:
    shape = single(inputs)
    expect_rank(shape, (3,), "use a Reshape to make it an image, or Conv1D for sequences")
    return TensorShape((cfg["filters"], *_spatial_out(shape.dims[1:], cfg, "kernel")))


def _conv_params(inputs, cfg) -> int:
    cin = single(inputs).features
    return math.prod(cfg["kernel_size"]) * cin * cfg["filters"] + (cfg["filters"] if cfg["use_bias"] else 0)


def _conv_macs(inputs, out, cfg) -> int:
    cin = single(inputs).features
    positions = out.numel // out.features
    return positions * out.features * cin * math.prod(cfg["kernel_size"])


def _conv2d_build(inputs, cfg):
    from torch import nn

    from studio.core.modules import Padded, WithActivation, make_activation

    shape = single(inputs)
    conv = nn.Conv2d(shape.dims[0], cfg["filters"], tuple(cfg["kernel_size"]), stride=tuple(cfg["strides"]),
                     dilation=tuple(cfg["dilation"]), bias=cfg["use_bias"])
    pads = _pads(shape.dims[1:], cfg)
    layer = Padded(pads, conv) if pads else conv
    return WithActivation(layer, make_activation(cfg["activation"], 3))


register(LayerSpec(
    type="Conv2D", category="Convolution", default_name="conv2d",
    help="2-D convolution: slides learned filters over an image to detect local patterns.",
    params=params(
        Param("filters", "int", 32, "Number of output channels.", minimum=1, maximum=65536),
        _window_params((3, 3), 2, dilation=True), activation_param("relu"), use_bias_param(),
    ),
    infer=_conv2d_shape, build=_conv2d_build, count_params=_conv_params, macs=_conv_macs,
    describe=_conv_describe,
))


# --- Conv1D (over the time axis of a (T, F) sequence, as Keras does) ---------------------------------

def _conv1d_shape(inputs, cfg) -> TensorShape:
    shape = single(inputs)
    expect_rank(shape, (2,), "Conv1D runs over sequences; use Conv2D for images")
    (steps,) = _spatial_out(shape.dims[:1], cfg, "kernel")
    return TensorShape((steps, cfg["filters"]))


def _conv1d_build(inputs, cfg):
    from torch import nn

    from studio.core.modules import FeaturesFirst, Padded, WithActivation, make_activation

    shape = single(inputs)
    conv = nn.Conv1d(shape.features, cfg["filters"], cfg["kernel_size"][0], stride=cfg["strides"][0],
                     dilation=cfg["dilation"][0], bias=cfg["use_bias"])
    pads = _pads(shape.dims[:1], cfg)
    layer = FeaturesFirst(Padded(pads, conv) if pads else conv)
    return WithActivation(layer, make_activation(cfg["activation"], 2))


register(LayerSpec(
    type="Conv1D", category="Convolution", default_name="conv1d",
    help="1-D convolution over the time steps of a sequence.",
    params=params(
        Param("filters", "int", 32, "Number of output features per step.", minimum=1, maximum=65536),
        _window_params((3,), 1, dilation=True), activation_param("relu"), use_bias_param(),
    ),
    infer=_conv1d_shape, build=_conv1d_build, count_params=_conv_params, macs=_conv_macs,
    describe=_conv_describe,
))


# --- Pooling ----------------------------------------------------------------------------------------

def _pool_shape(inputs, cfg) -> TensorShape:
    shape = single(inputs)
    expect_rank(shape, (3,), "pooling windows run over images; use GlobalAvgPool1D for sequences")
    return TensorShape((shape.dims[0], *_spatial_out(shape.dims[1:], cfg, "pooling window")))


def _pool_build(kind: str):
    def build(inputs, cfg):
        from torch import nn

        from studio.core.modules import Padded, PaddedAverage

        window = tuple(cfg["kernel_size"])
        stride = tuple(cfg["strides"])
        pads = _pads(single(inputs).dims[1:], cfg)
        if kind == "max":
            pool = nn.MaxPool2d(window, stride)
            return Padded(pads, pool, value=float("-inf")) if pads else pool
        return PaddedAverage(pads, window, stride) if pads else nn.AvgPool2d(window, stride)

    return build


def _pool_params(default_window):
    return params(
        Param("kernel_size", "ints", default_window, "Pooling window.", minimum=1, maximum=1024, length=2),
        Param("strides", "ints", default_window, "Step between windows (usually the window size).",
              minimum=1, maximum=1024, length=2),
        padding_param(),
    )


for _type, _kind, _name, _help in (
    ("MaxPool2D", "max", "max_pooling2d", "Keeps the largest value of each window (2x2 halves the image)."),
    ("AvgPool2D", "avg", "average_pooling2d", "Averages each window (2x2 halves the image)."),
):
    register(LayerSpec(
        type=_type, category="Pooling", default_name=_name, help=_help,
        params=_pool_params((2, 2)), infer=_pool_shape, build=_pool_build(_kind),
        describe=lambda cfg: "x".join(map(str, cfg["kernel_size"])),
    ))


def _global_pool(rank: int):
    def infer(inputs, _cfg) -> TensorShape:
        shape = single(inputs)
        fix = "use GlobalAvgPool2D for images" if rank == 2 else "use GlobalAvgPool1D for sequences"
        expect_rank(shape, (rank,), fix)
        return TensorShape((shape.features,))

    def build(_inputs, _cfg):
        from studio.core.modules import GlobalAvgPool

        return GlobalAvgPool((2, 3) if rank == 3 else (1,))

    return infer, build


for _type, _rank, _help in (
    ("GlobalAvgPool2D", 3, "Averages each channel over the whole image: (C, H, W) becomes (C,)."),
    ("GlobalAvgPool1D", 2, "Averages each feature over all time steps: (T, F) becomes (F,)."),
):
    _infer, _build = _global_pool(_rank)
    register(LayerSpec(
        type=_type, category="Pooling", help=_help, params=params(), infer=_infer, build=_build,
        default_name=f"global_average_pooling{_rank - 1}d",
    ))
