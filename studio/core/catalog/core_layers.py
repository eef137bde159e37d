"""Dense, Dropout, Flatten, Reshape and the activation layers."""

from __future__ import annotations

import math

from studio.core.catalog.common import (
    ACTIVATIONS,
    activation_param,
    expect_rank,
    not_tokens,
    single,
    use_bias_param,
)
from studio.core.errors import ShapeError
from studio.core.layers import LayerSpec, register
from studio.core.params import Param, params
from studio.core.shapes import TensorShape


def _dense_shape(inputs, cfg) -> TensorShape:
    shape = single(inputs)
    expect_rank(shape, (1, 2), "add a Flatten (or a GlobalAvgPool2D) before it")
    return shape.with_features(cfg["units"])


def _dense_params(inputs, cfg) -> int:
    return single(inputs).features * cfg["units"] + (cfg["units"] if cfg["use_bias"] else 0)


def _dense_macs(inputs, out, cfg) -> int:
    steps = out.dims[0] if out.rank == 2 else 1
    return steps * single(inputs).features * cfg["units"]


def _dense_build(inputs, cfg):
    from torch import nn

    from studio.core.modules import WithActivation, make_activation

    shape = single(inputs)
    linear = nn.Linear(shape.features, cfg["units"], bias=cfg["use_bias"])
    return WithActivation(linear, make_activation(cfg["activation"], shape.rank))


register(LayerSpec(
    type="Dense", category="Core", default_name="dense",
    help="Fully connected layer: every output is a weighted sum of every input feature.",
    params=params(
        Param("units", "int", 64, "Number of outputs.", minimum=1, maximum=1_000_000),
        activation_param(), use_bias_param(),
    ),
    infer=_dense_shape, build=_dense_build, count_params=_dense_params, macs=_dense_macs,
    describe=lambda cfg: f"{cfg['units']}, {cfg['activation']}",
))


def _dropout_build(_inputs, cfg):
    from torch import nn

    return nn.Dropout(cfg["rate"])


def _passthrough(inputs, _cfg) -> TensorShape:
    shape = single(inputs)
    not_tokens(shape)
    return shape


register(LayerSpec(
    type="Dropout", category="Core", default_name="dropout",
    help="Randomly zeroes a fraction of values while training, against overfitting.",
    params=params(Param("rate", "float", 0.5, "Fraction of values dropped.", minimum=0.0, maximum=0.99)),
    infer=_passthrough, build=_dropout_build, describe=lambda cfg: f"{cfg['rate']:g}",
))


def _flatten_shape(inputs, _cfg) -> TensorShape:
    shape = single(inputs)
    not_tokens(shape)
    return TensorShape((shape.numel,))


def _flatten_build(_inputs, _cfg):
    from torch import nn

    return nn.Flatten()


register(LayerSpec(
    type="Flatten", category="Core", default_name="flatten",
    help="Turns each sample into one flat vector (e.g. before a Dense layer).",
    params=params(), infer=_flatten_shape, build=_flatten_build,
))


def _reshape_shape(inputs, cfg) -> TensorShape:
    shape = single(inputs)
    not_tokens(shape)
    target = tuple(cfg["shape"])
    if not 1 <= len(target) <= 3:
        raise ShapeError(f"target shape {target} must have 1 to 3 dimensions")
    if math.prod(target) != shape.numel:
        raise ShapeError(f"cannot reshape {shape} ({shape.numel} values) to (N, "
                         f"{', '.join(map(str, target))}) ({math.prod(target)} values)")
    return TensorShape(target)


def _reshape_build(_inputs, cfg):
    from studio.core.modules import Reshape

    return Reshape(tuple(cfg["shape"]))


register(LayerSpec(
    type="Reshape", category="Core", default_name="reshape",
    help="Rearranges each sample's values into a new shape with the same number of values.",
    params=params(Param("shape", "ints", (1, 8, 8), "Target shape without the batch axis.", minimum=1)),
    infer=_reshape_shape, build=_reshape_build,
    describe=lambda cfg: "x".join(map(str, cfg["shape"])),
))


ACTIVATION_LAYERS = {
    "ReLU": ("relu", "max(0, x)."),
    "LeakyReLU": ("leaky_relu", "x for x > 0, a small slope times x otherwise."),
    "Tanh": ("tanh", "Hyperbolic tangent, output in (-1, 1)."),
    "Sigmoid": ("sigmoid", "Logistic function 1 / (1 + e^-x), output in (0, 1)."),
    "Softmax": ("softmax", "Turns scores into probabilities that sum to 1 over the features."),
    "GELU": ("gelu", "Gaussian error linear unit, smooth ReLU used in transformers."),
    "ELU": ("elu", "Exponential linear unit: x for x > 0, e^x - 1 otherwise."),
    "SiLU": ("silu", "x * sigmoid(x) (also called swish)."),
}
assert all(fn in ACTIVATIONS for fn, _ in ACTIVATION_LAYERS.values())


def _activation_build(function: str):
    def build(inputs, _cfg):
        from studio.core.modules import make_activation

        return make_activation(function, single(inputs).rank)

    return build


for _type, (_function, _help) in ACTIVATION_LAYERS.items():
    register(LayerSpec(
        type=_type, category="Activation", default_name=_function, help=_help, params=params(),
        infer=_passthrough, build=_activation_build(_function),
    ))


def activation_of_layer(type_name: str) -> str | None:
    """The activation function an activation layer applies ('sigmoid' for Sigmoid), else None."""
    entry = ACTIVATION_LAYERS.get(type_name)
    return entry[0] if entry else None
