"""Layers with several inputs: Add (residual connections) and Concat (branches)."""

from __future__ import annotations

from studio.core.catalog.common import not_tokens
from studio.core.errors import ShapeError
from studio.core.layers import LayerSpec, register
from studio.core.params import params
from studio.core.shapes import TensorShape


def _add_shape(inputs, _cfg) -> TensorShape:
    for shape in inputs:
        not_tokens(shape)
    first = inputs[0]
    for i, shape in enumerate(inputs[1:], start=2):
        if shape.dims != first.dims:
            raise ShapeError(f"all inputs must have the same shape, but input 1 is {first} and input {i} "
                             f"is {shape}")
    return first


def _concat_shape(inputs, _cfg) -> TensorShape:
    for shape in inputs:
        not_tokens(shape)
    first = inputs[0]

    def others(shape: TensorShape) -> tuple[int, ...]:
        return shape.dims[1:] if shape.rank == 3 else shape.dims[:-1]

    for i, shape in enumerate(inputs[1:], start=2):
        if shape.rank != first.rank or others(shape) != others(first):
            raise ShapeError(f"inputs must match on every axis but the features, but input 1 is {first} "
                             f"and input {i} is {shape}")
    return first.with_features(sum(s.features for s in inputs))


def _add_build(_inputs, _cfg):
    from studio.core.modules import Add

    return Add()


def _concat_build(inputs, _cfg):
    from studio.core.modules import Concat, feature_dim

    return Concat(feature_dim(inputs[0].rank))


register(LayerSpec(
    type="Add", category="Merge", default_name="add",
    help="Adds its inputs element by element (e.g. a residual connection); shapes must match.",
    params=params(), infer=_add_shape, build=_add_build, min_inputs=2, max_inputs=None,
))

register(LayerSpec(
    type="Concat", category="Merge", default_name="concatenate",
    help="Joins its inputs along the features (channels for images).",
    params=params(), infer=_concat_shape, build=_concat_build, min_inputs=2, max_inputs=None,
))
