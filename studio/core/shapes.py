"""Tensor shapes as the studio reasons about them (PyTorch layout, batch left out).

Rank 1 is a feature vector (F,), rank 2 a sequence (T, F) in batch-first order, rank 3 an image
(C, H, W). Integer token ids are rank 1 with `vocab` set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TensorShape:
    dims: tuple[int, ...]
    vocab: int | None = None  # set for integer token ids: the number of distinct ids

    def __str__(self) -> str:
        return "(" + ", ".join(["N", *map(str, self.dims)]) + ")"

    @property
    def rank(self) -> int:
        return len(self.dims)

    @property
    def numel(self) -> int:
        return math.prod(self.dims)

    @property
    def is_tokens(self) -> bool:
        return self.vocab is not None

    @property
    def features(self) -> int:
        """Size of the feature axis: channels for images, the last axis otherwise."""
        return self.dims[0] if self.rank == 3 else self.dims[-1]

    def with_features(self, n: int) -> TensorShape:
        if self.rank == 3:
            return TensorShape((n, *self.dims[1:]))
        return TensorShape((*self.dims[:-1], n))


def conv_output_length(length: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    """Output length of a convolution or pooling window, with Keras' 'valid'/'same' semantics."""
    if padding == "same":
        return math.ceil(length / stride)
    span = dilation * (kernel - 1) + 1
    return (length - span) // stride + 1


def same_padding(length: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding that gives 'same' output length; the extra one goes after, as in Keras."""
    out = math.ceil(length / stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - length, 0)
    return total // 2, total - total // 2
