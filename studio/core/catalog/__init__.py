"""The built-in layer catalog: importing this package registers every layer spec."""

from studio.core.catalog import attention, conv, core_layers, inputs, merge, norm, recurrent

__all__ = ["attention", "conv", "core_layers", "inputs", "merge", "norm", "recurrent"]
