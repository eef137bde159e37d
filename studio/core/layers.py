"""Layer specs and their registry: one registered spec per layer type.

A spec declares everything the studio needs to know about a layer: its parameters, how many inputs it
takes, how it transforms shapes, how many weights it has, what it costs, and how to build the torch
module. The palette, the inspector, the summary, the file format and code export all read the spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studio.core.errors import ShapeError
from studio.core.params import ParamSet
from studio.core.shapes import TensorShape

if TYPE_CHECKING:  # torch is imported only when a model is built
    from torch import nn

Config = Mapping[str, Any]
ShapeRule = Callable[[list[TensorShape], Config], TensorShape]
CountRule = Callable[[list[TensorShape], Config], int]
CostRule = Callable[[list[TensorShape], TensorShape, Config], int]
BuildRule = Callable[[list[TensorShape], Config], "nn.Module"]

CATEGORIES = ("Input", "Core", "Convolution", "Pooling", "Normalization", "Activation", "Recurrent",
              "Attention", "Merge")


def _zero(*_args: Any) -> int:
    return 0


@dataclass(frozen=True)
class LayerSpec:
    type: str  # the name in files and the palette, e.g. "Conv2D"
    category: str
    help: str  # one line for tooltips
    params: ParamSet
    infer: ShapeRule  # raises ShapeError with a message saying what to change
    build: BuildRule
    count_params: CountRule = _zero  # trainable weights
    count_buffers: CountRule = _zero  # non-trainable state that is saved (e.g. running statistics)
    macs: CostRule = _zero  # multiply-accumulates per sample
    min_inputs: int = 1
    max_inputs: int | None = 1  # None: any number
    default_name: str = ""  # base for automatic node names, Keras style ("conv2d", "conv2d_1")
    describe: Callable[[Config], str] = lambda cfg: ""  # key settings shown on the node

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"layer {self.type!r}: unknown category {self.category!r}")
        if not self.default_name:
            object.__setattr__(self, "default_name", _snake(self.type))

    def config(self, values: Config | None = None) -> dict[str, Any]:
        """Full validated configuration: defaults overlaid with `values`."""
        return self.params.validate(values or {})

    def output_shape(self, inputs: list[TensorShape], cfg: Config) -> TensorShape:
        self.check_arity(len(inputs))
        return self.infer(inputs, cfg)

    def check_arity(self, n: int) -> None:
        if n < self.min_inputs:
            need = "an input" if self.min_inputs == 1 else f"at least {self.min_inputs} inputs"
            raise ShapeError(f"needs {need}, has {n}")
        if self.max_inputs is not None and n > self.max_inputs:
            raise ShapeError(f"takes at most {self.max_inputs} input(s), has {n}")


_REGISTRY: dict[str, LayerSpec] = {}


class DuplicateLayerError(ValueError):
    pass


def register(spec: LayerSpec) -> LayerSpec:
    if spec.type in _REGISTRY:
        raise DuplicateLayerError(f"a layer named {spec.type!r} is already registered")
    _REGISTRY[spec.type] = spec
    return spec


def unregister(type_name: str) -> None:
    """Remove a spec (for plug-ins and tests that register temporary layers)."""
    _REGISTRY.pop(type_name, None)


def _ensure_catalog() -> None:
    import studio.core.catalog  # noqa: F401  (registers the built-in layers on import)


def get_spec(type_name: str) -> LayerSpec:
    _ensure_catalog()
    try:
        return _REGISTRY[type_name]
    except KeyError:
        raise KeyError(type_name) from None


def has_spec(type_name: str) -> bool:
    _ensure_catalog()
    return type_name in _REGISTRY


def all_specs() -> list[LayerSpec]:
    """Every registered spec, in palette order (by category, then registration order)."""
    _ensure_catalog()
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return sorted(_REGISTRY.values(), key=lambda s: order[s.category])


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
