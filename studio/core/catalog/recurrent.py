"""Embedding and the recurrent layers (RNN, LSTM, GRU) on batch-first sequences."""

from __future__ import annotations

from studio.core.catalog.common import expect_rank, single
from studio.core.errors import ShapeError
from studio.core.layers import LayerSpec, register
from studio.core.params import Param, params
from studio.core.shapes import TensorShape


def _embedding_shape(inputs, cfg) -> TensorShape:
    shape = single(inputs)
    if not shape.is_tokens:
        raise ShapeError(f"expects integer token ids (an Input of kind 'tokens') but receives {shape}")
    if shape.vocab > cfg["vocab_size"]:
        raise ShapeError(f"the input has {shape.vocab} distinct token ids but the vocabulary size is "
                         f"{cfg['vocab_size']}: raise vocab_size to at least {shape.vocab}")
    return TensorShape((*shape.dims, cfg["dim"]))


def _embedding_build(_inputs, cfg):
    from torch import nn

    return nn.Embedding(cfg["vocab_size"], cfg["dim"])


register(LayerSpec(
    type="Embedding", category="Recurrent", default_name="embedding",
    help="Turns each token id into a learned vector: (T,) ids become a (T, dim) sequence.",
    params=params(
        Param("vocab_size", "int", 1000, "Number of distinct token ids.", minimum=1, maximum=10_000_000),
        Param("dim", "int", 64, "Length of each token's vector.", minimum=1, maximum=65536),
    ),
    infer=_embedding_shape, build=_embedding_build,
    count_params=lambda inputs, cfg: cfg["vocab_size"] * cfg["dim"],
    describe=lambda cfg: f"{cfg['vocab_size']} -> {cfg['dim']}",
))


GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _recurrent_shape(inputs, cfg) -> TensorShape:
    shape = single(inputs)
    expect_rank(shape, (2,), "recurrent layers read sequences (T, F): use an Input of kind 'sequence', "
                "an Embedding, or a Reshape")
    width = cfg["units"] * (2 if cfg["bidirectional"] else 1)
    return TensorShape((shape.dims[0], width) if cfg["return_sequences"] else (width,))


def _recurrent_counts(gates: int):
    def count(inputs, cfg) -> int:
        units = cfg["units"]
        features = single(inputs).features
        one_direction = gates * (units * (features + units) + 2 * units)  # two bias vectors, as in torch
        return one_direction * (2 if cfg["bidirectional"] else 1)

    def macs(inputs, _out, cfg) -> int:
        units = cfg["units"]
        steps, features = single(inputs).dims
        return steps * gates * units * (features + units) * (2 if cfg["bidirectional"] else 1)

    return count, macs


def _recurrent_build(kind: str):
    def build(inputs, cfg):
        from torch import nn

        from studio.core.modules import Recurrent

        extra = {"nonlinearity": cfg["nonlinearity"]} if kind == "RNN" else {}
        rnn = getattr(nn, kind)(single(inputs).features, cfg["units"], batch_first=True,
                                bidirectional=cfg["bidirectional"], **extra)
        if kind == "LSTM":
            _open_forget_gates(rnn, cfg["units"])
        return Recurrent(rnn, cfg["return_sequences"])

    return build


def _open_forget_gates(lstm, units: int) -> None:
    """Start the forget gates near 1 (bias 1, as Keras does): with torch's small random biases the
    gates start half shut, so the cell forgets over long sequences before it learns not to."""
    import torch

    with torch.no_grad():
        for name, bias in lstm.named_parameters():
            if name.startswith("bias_"):
                # torch orders the gates input, forget, cell, output; the two bias vectors are summed.
                bias[units:2 * units] = 1.0 if name.startswith("bias_ih") else 0.0


def _recurrent_params(kind: str):
    items = [
        Param("units", "int", 64, "Size of the hidden state.", minimum=1, maximum=65536),
        Param("return_sequences", "bool", False, "Return the output of every step (for stacking "
              "recurrent layers) instead of only the last."),
        Param("bidirectional", "bool", False, "Also read the sequence backwards; outputs are concatenated."),
    ]
    if kind == "RNN":
        items.append(Param("nonlinearity", "choice", "tanh", "Activation of the hidden state.",
                           choices=("tanh", "relu")))
    return params(*items)


_RECURRENT_HELP = {
    "RNN": "Plain recurrent layer: simple, but its gradients vanish or explode over long sequences.",
    "LSTM": "Long short-term memory: a cell with input, forget and output gates that keeps "
            "information over long sequences.",
    "GRU": "Gated recurrent unit: like an LSTM with fewer gates and weights.",
}

for _kind, _gates in GATES.items():
    _count, _macs = _recurrent_counts(_gates)
    register(LayerSpec(
        type=_kind, category="Recurrent", default_name=_kind.lower(), help=_RECURRENT_HELP[_kind],
        params=_recurrent_params(_kind), infer=_recurrent_shape, build=_recurrent_build(_kind),
        count_params=_count, macs=_macs,
        describe=lambda cfg: f"{cfg['units']}" + (", bi" if cfg["bidirectional"] else "")
        + (", seq" if cfg["return_sequences"] else ""),
    ))
