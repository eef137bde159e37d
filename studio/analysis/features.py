"""The outputs of one layer of a trained model, one flat row per sample: what k-means groups.

Any node of the model can give features; `candidate_layers` lists the ones worth offering, starting
with the Input itself ("raw input": k-means on raw pixels is the baseline that learned features are
compared with).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.analysis import AnalysisError

if TYPE_CHECKING:
    from studio.core.build import GraphModule

# Features of all samples above this size are refused with a message instead of exhausting the memory
# (an early convolution of a large image model gives hundreds of thousands of values per sample).
MAX_FEATURE_BYTES = 2 * 1024**3


class FeaturesTooLarge(AnalysisError):
    """A layer's features for all samples would take more than MAX_FEATURE_BYTES."""


def candidate_layers(model: GraphModule) -> list[str]:
    """Layers whose outputs are worth clustering, in model order; the first is the Input (raw input).

    Layers whose outputs repeat the values of the layer before them are skipped: Flatten and Reshape,
    Dropout (the identity when predicting) and a final Sigmoid/Softmax layer that the model leaves
    out (an identity returning logits).
    """
    from torch import nn

    from studio.core.modules import Reshape

    repeats = (nn.Dropout, nn.Identity, nn.Flatten, Reshape)
    return [model.input_name, *(n for n in model.node_names[1:] if not isinstance(model.layers[n], repeats))]


def default_layer(model: GraphModule) -> str:
    """The layer feeding the output layer (the penultimate one), passing over dropout."""
    before_output = [name for name in candidate_layers(model) if name != model.output_name]
    return before_output[-1]


def check_layer(model: GraphModule, layer: str) -> str:
    """`layer` when the model has it, else an error listing the layers that can be used."""
    if layer not in model.node_names:
        raise AnalysisError(f"no layer named '{layer}' in this model; layers with features: "
                            + ", ".join(candidate_layers(model)))
    return layer


def extract_features(model: GraphModule, x: Any, layer: str | None = None, *, batch_size: int = 256,
                     progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The output of `layer` (default: `default_layer`) for every sample of `x`, as (N, D) float32.

    Runs in batches, without gradients, in eval mode (restored afterwards), on the model's device;
    uint8 images become the model's float input there, so the raw input's features are those values.
    """
    import torch

    from studio.core.pixels import model_input
    from studio.train.predict import batchable, model_device

    name = check_layer(model, layer) if layer is not None else default_layer(model)
    inputs = batchable(x)
    total = int(inputs.shape[0])
    device = model_device(model)
    out: np.ndarray | None = None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, total, batch_size):
                batch = model_input(inputs[start:start + batch_size].to(device))
                values = model.features(batch, [name])[name].reshape(batch.shape[0], -1)
                if out is None:
                    out = _allocate(total, values.shape[1], name)
                out[start:start + batch.shape[0]] = values.float().cpu().numpy()
                if progress is not None:
                    progress(min(start + batch_size, total), total)
    finally:
        model.train(was_training)
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def _allocate(samples: int, width: int, layer: str) -> np.ndarray:
    size = samples * width * 4
    if size > MAX_FEATURE_BYTES:
        raise FeaturesTooLarge(f"layer '{layer}' gives {width:,} values per sample ({size / 1024**3:.1f} GiB "
                               f"for {samples:,} samples); choose a later, narrower layer")
    return np.empty((samples, width), dtype=np.float32)
