"""Pieces shared by the catalog's specs: common parameters and shape checks."""

from __future__ import annotations

from studio.core.errors import ShapeError
from studio.core.params import Param
from studio.core.shapes import TensorShape

ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "softmax", "gelu", "elu", "silu")
RANK_NAMES = {1: "a flat (N, F) input", 2: "a sequence (N, T, F)", 3: "an image (N, C, H, W)"}


def activation_param(default: str = "linear") -> Param:
    return Param("activation", "choice", default, "Activation applied to the output.", choices=ACTIVATIONS)


def use_bias_param() -> Param:
    return Param("use_bias", "bool", True, "Learn an additive bias.")


def padding_param() -> Param:
    return Param("padding", "choice", "valid", "'valid': no padding; 'same': pad so the output keeps "
                 "the input size (divided by the stride).", choices=("valid", "same"))


def single(inputs: list[TensorShape]) -> TensorShape:
    return inputs[0]


def not_tokens(shape: TensorShape, fix: str = "add an Embedding first") -> None:
    if shape.is_tokens:
        raise ShapeError(f"receives integer token ids {shape}: {fix}")


def expect_rank(shape: TensorShape, ranks: tuple[int, ...], fix: str) -> None:
    """Raise a ShapeError saying what the layer expects, what it got, and the fix."""
    not_tokens(shape)
    if shape.rank not in ranks:
        wanted = " or ".join(RANK_NAMES[r] for r in ranks)
        raise ShapeError(f"expects {wanted} but receives {shape}: {fix}")
