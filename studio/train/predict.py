"""Batched inference: the model's probabilities (or values) for many samples, as numpy.

Imports torch and numpy only when called: the package exports `predict` eagerly (a lazy export
would be shadowed by this module of the same name once anyone imports it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import nn


def model_device(model: nn.Module) -> torch.device:
    import torch

    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def batchable(x: Any) -> Any:
    """`x` as something sliced into batches: a tensor, rows streamed from disk as they are (anything
    with `index_select` that is sliced like a tensor), else an array made a tensor."""
    import numpy as np
    import torch

    if isinstance(x, torch.Tensor) or hasattr(x, "index_select"):
        return x
    return torch.as_tensor(np.asarray(x))


def predict(model: nn.Module, x: Any, *, output_activation: str | None = None, batch_size: int = 256,
            device: str | torch.device | None = None) -> np.ndarray:
    """Outputs for `x` (tensor or array, samples first) in eval mode without gradients, as float32.

    uint8 images (as the image datasets hold them) are scaled to 0..1 batch by batch on the device,
    exactly as in training (`studio.core.pixels.model_input`).

    `output_activation` ("sigmoid"/"softmax") is applied when the model returns logits, so the
    result is probabilities; it defaults to the model's own `output_activation` attribute, which
    the model builder sets when it strips the activation. Regression models give their values.
    `device` defaults to the model's; a model elsewhere is moved there for the call and back.
    The model's train/eval mode is restored afterwards.
    """
    import numpy as np
    import torch

    from studio.core.pixels import model_input
    from studio.train.losses import activate

    if output_activation is None and isinstance(getattr(model, "output_activation", None), str):
        output_activation = model.output_activation
    home = model_device(model)
    target = torch.device(device) if device is not None else home
    moved = target.type != home.type or (target.index is not None and target.index != home.index)
    inputs = batchable(x)
    layout = _input_layout(model)
    was_training = model.training
    model.eval()
    if moved:
        model.to(target)
    chunks = []
    try:
        with torch.no_grad():
            for start in range(0, inputs.shape[0], batch_size):
                batch = model_input(inputs[start:start + batch_size].to(target, non_blocking=True))
                if batch.dim() == 4:
                    batch = batch.contiguous(memory_format=layout)
                chunks.append(activate(model(batch).float(), output_activation).cpu())
    finally:
        model.train(was_training)
        if moved:
            model.to(home)
    if not chunks:
        return np.zeros((0,), dtype=np.float32)
    return torch.cat(chunks).numpy()


def _input_layout(model: nn.Module) -> torch.memory_format:
    """Channels-last when the model's convolutions are: a mixed layout runs much slower."""
    import torch
    from torch import nn

    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            if module.weight.is_contiguous(memory_format=torch.channels_last) \
                    and not module.weight.is_contiguous():
                return torch.channels_last
            break
    return torch.contiguous_format
