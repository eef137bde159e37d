"""Normalisation layers: BatchNorm (1-D or 2-D, chosen from the input) and LayerNorm."""

from __future__ import annotations

from studio.core.catalog.common import expect_rank, single
from studio.core.layers import LayerSpec, register
from studio.core.params import Param, params
from studio.core.shapes import TensorShape

_EPSILON = Param("epsilon", "float", 1e-5, "Small number added to the variance, for stability.",
                 minimum=1e-12, maximum=1.0)


def _norm_shape(inputs, _cfg) -> TensorShape:
    shape = single(inputs)
    expect_rank(shape, (1, 2, 3), "")
    return shape


def _affine_params(inputs, _cfg) -> int:
    return 2 * single(inputs).features  # a scale and a shift per feature


def _batchnorm_build(inputs, cfg):
    from torch import nn

    from studio.core.modules import FeaturesFirst

    shape = single(inputs)
    if shape.rank == 3:
        return nn.BatchNorm2d(shape.features, eps=cfg["epsilon"], momentum=cfg["momentum"])
    norm = nn.BatchNorm1d(shape.features, eps=cfg["epsilon"], momentum=cfg["momentum"])
    return FeaturesFirst(norm) if shape.rank == 2 else norm


register(LayerSpec(
    type="BatchNorm", category="Normalization", default_name="batch_normalization",
    help="Normalises each feature (channel) with batch statistics; 2-D for images, 1-D otherwise.",
    params=params(
        Param("momentum", "float", 0.1, "Weight of the newest batch in the running statistics.",
              minimum=0.0, maximum=1.0),
        _EPSILON,
    ),
    infer=_norm_shape, build=_batchnorm_build, count_params=_affine_params,
    count_buffers=_affine_params,  # running mean and variance: saved, not trained
))


def _layernorm_build(inputs, cfg):
    from torch import nn

    from studio.core.modules import ChannelsLast

    shape = single(inputs)
    norm = nn.LayerNorm(shape.features, eps=cfg["epsilon"])
    return ChannelsLast(norm) if shape.rank == 3 else norm


register(LayerSpec(
    type="LayerNorm", category="Normalization", default_name="layer_normalization",
    help="Normalises the features of each sample (each time step, each pixel) on their own.",
    params=params(_EPSILON),
    infer=_norm_shape, build=_layernorm_build, count_params=_affine_params,
))
