"""Moving models out of the studio and into it.

Export (`studio.interop.export`): a project's model as a readable PyTorch file, TorchScript, ONNX or
safetensors weights. Import: a Keras `model.to_json()` file (`keras_import`, which only parses JSON) or
a PyTorch module traced with torch.fx (`fx_import`). Never imports Qt; torch is imported only by the
modules that need it.
"""

from studio.interop.common import InteropError

__all__ = ["InteropError"]
