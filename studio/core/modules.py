"""Small torch modules that give catalog layers the studio's (Keras-like) semantics.

Imported only when a model is built, so importing the catalog never imports torch.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812


def feature_dim(rank: int) -> int:
    """The tensor dimension (batch included) holding features: channels for images, else the last."""
    return 1 if rank == 3 else -1


def make_activation(name: str, rank: int) -> nn.Module:
    if name == "linear":
        return nn.Identity()
    if name == "softmax":
        return nn.Softmax(dim=feature_dim(rank))
    factories = {
        "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
        "gelu": nn.GELU, "elu": nn.ELU, "silu": nn.SiLU,
    }
    return factories[name]()


class Padded(nn.Module):
    """Pads before a window op (asymmetric 'same' padding, as Keras does for even kernels or strides)."""

    def __init__(self, pads: tuple[int, ...], op: nn.Module, value: float = 0.0):
        super().__init__()
        self.pads = pads
        self.value = value
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(F.pad(x, self.pads, value=self.value))


class PaddedAverage(nn.Module):
    """Average pooling with 'same' padding that, like Keras, averages only the real values at borders."""

    def __init__(self, pads: tuple[int, ...], window: tuple[int, int], stride: tuple[int, int]):
        super().__init__()
        self.pads = pads
        self.window = window
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sums = F.avg_pool2d(F.pad(x, self.pads), self.window, self.stride, divisor_override=1)
        ones = torch.ones_like(x[:1, :1])
        counts = F.avg_pool2d(F.pad(ones, self.pads), self.window, self.stride, divisor_override=1)
        return sums / counts


class WithActivation(nn.Module):
    """A weighted layer followed by its activation; keeps the weights under a stable name."""

    def __init__(self, layer: nn.Module, activation: nn.Module):
        super().__init__()
        self.layer = layer
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.layer(x))


class FeaturesFirst(nn.Module):
    """Runs a channels-first op on a (N, T, F) sequence by moving F in front of T and back."""

    def __init__(self, op: nn.Module):
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x.transpose(1, 2)).transpose(1, 2)


class ChannelsLast(nn.Module):
    """Runs a last-axis op (e.g. LayerNorm) on the channels of an (N, C, H, W) image."""

    def __init__(self, op: nn.Module):
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Reshape(nn.Module):
    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


class GlobalAvgPool(nn.Module):
    """Mean over every axis but batch and features: (N, C, H, W) -> (N, C); (N, T, F) -> (N, F)."""

    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dims)


class Recurrent(nn.Module):
    """An RNN/LSTM/GRU on (N, T, F) returning the whole sequence or the last step (Keras semantics)."""

    def __init__(self, rnn: nn.RNNBase, return_sequences: bool):
        super().__init__()
        self.rnn = rnn
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, hidden = self.rnn(x)
        if self.return_sequences:
            return out
        h_n = hidden[0] if isinstance(hidden, tuple) else hidden  # LSTM gives (h_n, c_n)
        # The last layer's final state of each direction (for the backward one, its step at t=0).
        directions = 2 if self.rnn.bidirectional else 1
        return torch.cat(list(h_n[-directions:]), dim=-1)


class SelfAttention(nn.Module):
    def __init__(self, embed: int, heads: int, dropout: float):
        super().__init__()
        self.attention = nn.MultiheadAttention(embed, heads, dropout=dropout, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x, x, x, need_weights=False)[0]


class PositionalEncoding(nn.Module):
    """Adds position information to a (N, T, E) sequence: fixed sinusoids or learned vectors."""

    def __init__(self, max_len: int, embed: int, learned: bool):
        super().__init__()
        if learned:
            self.table = nn.Parameter(torch.zeros(max_len, embed))
            nn.init.normal_(self.table, std=0.02)
        else:
            position = torch.arange(max_len).unsqueeze(1)
            scale = torch.exp(torch.arange(0, embed, 2) * (-math.log(10000.0) / embed))
            table = torch.zeros(max_len, embed)
            table[:, 0::2] = torch.sin(position * scale)
            table[:, 1::2] = torch.cos(position * scale)[:, : embed // 2]
            # Computed from the shape alone, so it is not saved with the weights.
            self.register_buffer("table", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table[: x.shape[1]]


class Add(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)
