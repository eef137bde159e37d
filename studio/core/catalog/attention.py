"""Self-attention, the transformer encoder layer and positional encodings, on (T, E) sequences."""

from __future__ import annotations

from studio.core.catalog.common import expect_rank, single
from studio.core.errors import ShapeError
from studio.core.layers import LayerSpec, register
from studio.core.params import Param, params
from studio.core.shapes import TensorShape

_HEADS = Param("heads", "int", 4, "Attention heads; the embedding size must divide by it.",
               minimum=1, maximum=1024)
_DROPOUT = Param("dropout", "float", 0.0, "Dropout on the attention weights.", minimum=0.0, maximum=0.99)


def _sequence_shape(inputs, cfg) -> TensorShape:
    shape = single(inputs)
    expect_rank(shape, (2,), "attention reads sequences (T, E): add an Embedding or use a sequence Input")
    heads = cfg.get("heads")
    if heads and shape.features % heads:
        raise ShapeError(f"embedding size {shape.features} is not divisible by {heads} heads: "
                         f"choose a number of heads that divides {shape.features}")
    return shape


def _attention_weights(embed: int) -> int:
    return 4 * embed * embed + 4 * embed  # query, key, value and output projections with biases


def _attention_macs(steps: int, embed: int) -> int:
    return 4 * steps * embed * embed + 2 * steps * steps * embed


def _mhsa_build(inputs, cfg):
    from studio.core.modules import SelfAttention

    return SelfAttention(single(inputs).features, cfg["heads"], cfg["dropout"])


register(LayerSpec(
    type="MultiHeadSelfAttention", category="Attention", default_name="multi_head_attention",
    help="Each step attends to every step of the sequence (queries, keys and values from the input).",
    params=params(_HEADS, _DROPOUT),
    infer=_sequence_shape, build=_mhsa_build,
    count_params=lambda inputs, cfg: _attention_weights(single(inputs).features),
    macs=lambda inputs, out, cfg: _attention_macs(*single(inputs).dims),
    describe=lambda cfg: f"{cfg['heads']} heads",
))


def _encoder_params(inputs, cfg) -> int:
    embed, ff = single(inputs).features, cfg["ff_dim"]
    feed_forward = embed * ff + ff + ff * embed + embed
    return _attention_weights(embed) + feed_forward + 2 * 2 * embed  # two LayerNorms


def _encoder_macs(inputs, _out, cfg) -> int:
    steps, embed = single(inputs).dims
    return _attention_macs(steps, embed) + 2 * steps * embed * cfg["ff_dim"]


def _encoder_build(inputs, cfg):
    from torch import nn

    return nn.TransformerEncoderLayer(
        single(inputs).features, cfg["heads"], dim_feedforward=cfg["ff_dim"], dropout=cfg["dropout"],
        activation=cfg["activation"], batch_first=True, norm_first=cfg["norm_first"])


register(LayerSpec(
    type="TransformerEncoderLayer", category="Attention", default_name="transformer_encoder",
    help="Self-attention and a feed-forward network, each with a residual connection and LayerNorm.",
    params=params(
        _HEADS,
        Param("ff_dim", "int", 128, "Width of the feed-forward network.", minimum=1, maximum=1_000_000),
        Param("dropout", "float", 0.1, "Dropout inside the layer.", minimum=0.0, maximum=0.99),
        Param("activation", "choice", "relu", "Activation of the feed-forward network.",
              choices=("relu", "gelu")),
        Param("norm_first", "bool", False, "Normalise before attention (pre-LN) instead of after."),
    ),
    infer=_sequence_shape, build=_encoder_build, count_params=_encoder_params, macs=_encoder_macs,
    describe=lambda cfg: f"{cfg['heads']} heads, ff {cfg['ff_dim']}",
))


def _positional_shape(inputs, cfg) -> TensorShape:
    shape = _sequence_shape(inputs, cfg)
    if shape.dims[0] > cfg["max_length"]:
        raise ShapeError(f"the sequence has {shape.dims[0]} steps but max_length is {cfg['max_length']}: "
                         f"raise max_length to at least {shape.dims[0]}")
    return shape


def _positional_build(inputs, cfg):
    from studio.core.modules import PositionalEncoding

    return PositionalEncoding(cfg["max_length"], single(inputs).features, cfg["kind"] == "learned")


register(LayerSpec(
    type="PositionalEncoding", category="Attention", default_name="positional_encoding",
    help="Adds each step's position to the sequence, since attention alone ignores order.",
    params=params(
        Param("kind", "choice", "sinusoidal", "Fixed sinusoids, or a learned vector per position.",
              choices=("sinusoidal", "learned")),
        Param("max_length", "int", 512, "Longest sequence supported.", minimum=1, maximum=1_000_000),
    ),
    infer=_positional_shape, build=_positional_build,
    count_params=lambda inputs, cfg: cfg["max_length"] * single(inputs).features if cfg["kind"] == "learned"
    else 0,
    describe=lambda cfg: cfg["kind"],
))
