"""Importing a Keras model from its `model.to_json()` file (Keras 2 and 3, Sequential and functional).

Only JSON is parsed: nothing in the file is run. Keras shapes are channels-last; the studio's Input is
channels-first, so an image input (H, W, C) becomes (C, H, W). A to_json file holds no weights: the
imported project starts from fresh ones. Everything that has no counterpart in the studio is listed
in one message, and nothing is imported then.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from studio.core.catalog.core_layers import ACTIVATION_LAYERS
from studio.core.safe_io import FileRefused, read_regular
from studio.core.shapes import TensorShape
from studio.interop.common import InteropError
from studio.interop.imported import (
    ImportResult,
    Layer,
    Problems,
    build_graph,
    describe,
    infer,
    input_params,
)

MAX_FILE_BYTES = 16 * 1024 * 1024

# Keras activation names -> the studio's. Keras' leaky_relu (slope 0.2) and selu have no counterpart.
ACTIVATIONS = {"linear": "linear", "relu": "relu", "sigmoid": "sigmoid", "softmax": "softmax",
               "tanh": "tanh", "elu": "elu", "gelu": "gelu", "swish": "silu", "silu": "silu"}
LAYER_OF_ACTIVATION = {function: layer for layer, (function, _help) in ACTIVATION_LAYERS.items()}
_RECURRENT = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}
_BIAS_VECTORS = {"LSTM": 4, "RNN": 1}  # studio layers whose Keras twin has one bias vector: gates
_REGULARIZERS = ("kernel_regularizer", "bias_regularizer", "recurrent_regularizer", "activity_regularizer",
                 "kernel_constraint", "bias_constraint", "recurrent_constraint", "gamma_regularizer",
                 "beta_regularizer", "embeddings_regularizer", "embeddings_constraint")


@dataclass
class KerasLayer:
    name: str
    cls: str
    config: dict[str, Any]
    inputs: list[str]  # names of the Keras layers feeding it


def import_keras(path: str | os.PathLike, *, input_shape: Sequence[int] | None = None) -> ImportResult:
    """The model in a Keras to_json file; `input_shape` (Keras order, no batch axis) fills in sizes the
    file leaves open."""
    return graph_from_keras(read_keras_json(path), input_shape=input_shape)


def read_keras_json(path: str | os.PathLike) -> dict[str, Any]:
    where = str(path)
    try:
        # Never blocks on a pipe or device, and stops reading past the limit.
        raw = read_regular(path, "Keras model file", limit=MAX_FILE_BYTES)
        data = json.loads(raw.decode("utf-8-sig"))
    except FileRefused as exc:
        raise InteropError(str(exc)) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InteropError(f"{where}: not a Keras model.to_json() file ({exc})") from None
    if not isinstance(data, dict) or "class_name" not in data or "config" not in data:
        raise InteropError(f"{where}: not a Keras model.to_json() file (expects 'class_name' and 'config')")
    return data


def graph_from_keras(data: Mapping[str, Any], *, input_shape: Sequence[int] | None = None) -> ImportResult:
    problems = Problems()
    layers = _keras_layers(data, problems)
    problems.raise_if_any()  # the structure itself (several inputs, shared layers) is beyond the studio
    converter = _Converter(layers, problems, input_shape)
    studio_layers = converter.convert()
    problems.raise_if_any()
    return ImportResult(build_graph(studio_layers), converter.notes)


# --- reading the file's structure ----------------------------------------------------------------

def _keras_layers(data: Mapping[str, Any], problems: Problems) -> list[KerasLayer]:
    kind = data.get("class_name")
    config = data.get("config")
    if kind == "Sequential":
        entries = config.get("layers") if isinstance(config, Mapping) else config  # Keras < 2.2: a list
        if not isinstance(entries, list) or not entries:
            raise InteropError("the Sequential model has no layers")
        layers = []
        for i, entry in enumerate(entries):
            layer = _layer(entry, i)
            layer.inputs = [layers[-1].name] if layers else []
            layers.append(layer)
        if isinstance(config, Mapping) and layers[0].cls != "InputLayer":
            shape = config.get("build_input_shape")  # Keras 3 keeps the input shape here
            if shape and "batch_input_shape" not in layers[0].config:
                layers[0].config["batch_input_shape"] = shape
        return layers
    if kind in ("Model", "Functional"):
        if not isinstance(config, Mapping) or not isinstance(config.get("layers"), list):
            raise InteropError("the functional model has no list of layers")
        layers = []
        for i, entry in enumerate(config["layers"]):
            layer = _layer(entry, i)
            layer.inputs = _inbound(entry, layer, problems)
            layers.append(layer)
        for key, what in (("input_layers", "inputs"), ("output_layers", "outputs")):
            ends = _ends(config.get(key))
            if len(ends) != 1:
                problems.other.append(f"the model has {len(ends)} {what}; a studio model has one")
        return _in_order(layers)
    raise InteropError(f"not a Keras model: class_name {kind!r} (expected Sequential, Functional or Model)")


def _layer(entry: Any, index: int) -> KerasLayer:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("class_name"), str):
        raise InteropError(f"layer {index + 1} of the model is not a Keras layer entry")
    config = entry.get("config")
    config = dict(config) if isinstance(config, Mapping) else {}
    name = entry.get("name") or config.get("name") or f"layer_{index + 1}"
    return KerasLayer(str(name), entry["class_name"], config, [])


def _inbound(entry: Mapping[str, Any], layer: KerasLayer, problems: Problems) -> list[str]:
    """Names of the layers feeding a functional model's layer (Keras 2 lists, Keras 3 call records)."""
    nodes = entry.get("inbound_nodes") or []
    if len(nodes) > 1:
        problems.other.append(f"'{layer.name}' ({layer.cls}) is applied {len(nodes)} times (shared "
                              "weights); each studio layer is applied once")
    if not nodes:
        return []
    node = nodes[0]
    if isinstance(node, Mapping):  # Keras 3: {"args": [...], "kwargs": {...}} holding keras tensors
        history = [t["config"]["keras_history"] for t in _keras_tensors(node.get("args", []))]
    else:  # Keras 2: [[layer name, node index, tensor index, kwargs], ...]
        history = [item[:3] for item in node if isinstance(item, list) and item]
    for source in history:
        if len(source) > 2 and source[2] != 0:
            problems.other.append(f"'{layer.name}' ({layer.cls}) reads output {source[2]} of "
                                  f"'{source[0]}'; studio layers have one output")
    return [str(source[0]) for source in history]


def _keras_tensors(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        if value.get("class_name") == "__keras_tensor__":
            return [value]
        return [t for v in value.values() for t in _keras_tensors(v)]
    if isinstance(value, list):
        return [t for v in value for t in _keras_tensors(v)]
    return []


def _ends(value: Any) -> list[Any]:
    """A model's input or output layers: [[name, 0, 0], ...], or [name, 0, 0] for a single one."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        return [value]
    return value if isinstance(value, list) else []


def _in_order(layers: list[KerasLayer]) -> list[KerasLayer]:
    """The layers, each after those feeding it (files list them so, but nothing guarantees it)."""
    by_name = {layer.name: layer for layer in layers}
    done: set[str] = set()
    ordered: list[KerasLayer] = []

    def visit(layer: KerasLayer, trail: tuple[str, ...]) -> None:
        if layer.name in done:
            return
        if layer.name in trail:
            raise InteropError(f"the model's layers form a cycle through '{layer.name}'")
        for source in layer.inputs:
            if source not in by_name:
                raise InteropError(f"'{layer.name}' reads from '{source}', which is not a layer of the model")
            visit(by_name[source], (*trail, layer.name))
        done.add(layer.name)
        ordered.append(layer)

    for layer in layers:
        visit(layer, ())
    return ordered


# --- converting layers -------------------------------------------------------------------------------

Conversion = tuple[str, dict[str, Any]] | None  # (studio type, params), or None: passes its input on
UNKNOWN: Conversion = ("", {})  # a layer with no counterpart (reported where it is found)


class _Converter:
    def __init__(self, layers: list[KerasLayer], problems: Problems, input_shape: Sequence[int] | None):
        self.layers = layers
        self.problems = problems
        self.input_shape = input_shape
        self.notes: list[str] = []
        self.output: dict[str, str] = {}  # Keras layer -> the studio layer holding its output
        self.shapes: dict[str, TensorShape | None] = {}  # studio layer -> output shape

    def convert(self) -> list[Layer]:
        out: list[Layer] = []
        first = self.layers[0]
        if first.cls != "InputLayer":  # a Sequential model given its input shape by its first layer
            taken = {layer.name for layer in self.layers}
            name = next(n for n in ("input", "input_layer", "model_input") if n not in taken)
            out.append(self._input(KerasLayer(name, "InputLayer", first.config, []), [first]))
            first.inputs = [name]
        for layer in self.layers:
            if layer.cls == "InputLayer":
                consumers = [other for other in self.layers if layer.name in other.inputs]
                out.append(self._input(layer, consumers))
                continue
            self._ignored(layer)
            converted = self._layer(layer)
            sources = [self.output[s] for s in layer.inputs if s in self.output]
            if converted is None:  # a pass-through layer (e.g. a linear Activation)
                self.output[layer.name] = sources[0] if sources else layer.name
                continue
            self.output[layer.name] = layer.name
            if converted is UNKNOWN:  # already reported; what follows it has no known shape
                self.shapes[layer.name] = None
                continue
            studio = Layer(layer.name, converted[0], converted[1], sources)
            inputs = [self.shapes.get(s) for s in sources]
            self.shapes[layer.name] = infer(studio, inputs, layer.cls, self.problems)
            if studio.type in _BIAS_VECTORS and inputs and inputs[0] is not None:
                self._count_note(studio, inputs[0])
            out.append(studio)
        return out

    def _count_note(self, layer: Layer, shape: TensorShape) -> None:
        """torch's recurrent layers keep two bias vectors (input and recurrent) where Keras' LSTM and
        SimpleRNN keep one (Keras' GRU with reset_after=True keeps two, like torch)."""
        units, gates = layer.params["units"], _BIAS_VECTORS[layer.type]
        directions = 2 if layer.params["bidirectional"] else 1
        keras = directions * gates * (units * (shape.features + units) + units)
        studio = keras + directions * gates * units
        self.notes.append(f"'{layer.name}' ({layer.type}): {studio:,} parameters here, {keras:,} in Keras: "
                          "torch keeps two bias vectors per gate (input and recurrent) where Keras keeps one")

    def _input(self, layer: KerasLayer, consumers: list[KerasLayer]) -> Layer:
        cfg = layer.config
        given = self.input_shape
        shape = given if given is not None else _input_dims(cfg)
        self.output[layer.name] = layer.name
        if shape is None or any(not isinstance(d, int) or d < 1 for d in shape):
            shown = "unknown" if shape is None else "(" + ", ".join(map(str, shape)) + ")"
            self.problems.other.append(f"the model's input shape is {shown}: the studio needs fixed sizes; "
                                       "give them with --input-shape (Keras order, without the batch axis)")
            self.shapes[layer.name] = None
            return Layer(layer.name, "Input", {}, [])
        if not 1 <= len(shape) <= 3:
            self.problems.other.append(f"the model's input has {len(shape)} axes besides the batch; the "
                                       "studio's inputs have 1 to 3")
            self.shapes[layer.name] = None
            return Layer(layer.name, "Input", {}, [])
        dims = tuple(shape)
        vocab = None
        if consumers and all(c.cls == "Embedding" for c in consumers):
            vocab = max(int(c.config.get("input_dim", 1)) for c in consumers)
        elif len(dims) == 3:
            dims = (dims[2], dims[0], dims[1])  # (H, W, C) -> (C, H, W)
        params = input_params(dims, vocab)
        studio = Layer(layer.name, "Input", params, [])
        self.shapes[layer.name] = infer(studio, [], "InputLayer", self.problems)
        return studio

    def _ignored(self, layer: KerasLayer) -> None:
        ignored = [key for key in _REGULARIZERS if layer.config.get(key)]
        if ignored:
            self.notes.append(f"'{layer.name}' ({layer.cls}): ignored {', '.join(ignored)} (the studio has "
                              "weight decay in the training settings instead)")

    def _layer(self, layer: KerasLayer) -> Conversion:
        convert = _CONVERTERS.get(layer.cls)
        if convert is None:
            self.problems.no_counterpart(layer.name, layer.cls)
            return UNKNOWN
        shape = self.shapes.get(self.output.get(layer.inputs[0], "")) if layer.inputs else None
        return convert(_Settings(layer, self.problems, self.notes), shape)


class _Settings:
    """A Keras layer's config, read with checks that record every setting the studio lacks."""

    def __init__(self, layer: KerasLayer, problems: Problems, notes: list[str]):
        self.layer = layer
        self.problems = problems
        self.notes = notes

    def get(self, key: str, default: Any = None) -> Any:
        value = self.layer.config.get(key, default)
        return default if value is None else value

    def require(self, key: str, *allowed: Any, default: Any = None) -> Any:
        value = self.get(key, default)
        if value not in allowed:
            self.unsupported(f"{key}={describe(value)}")
        return value

    def unsupported(self, text: str) -> None:
        self.problems.setting(self.layer.name, self.layer.cls, text)

    def note(self, text: str) -> None:
        self.notes.append(f"'{self.layer.name}' ({self.layer.cls}): {text}")

    def activation(self, key: str = "activation", default: str = "linear") -> str:
        value = self.get(key, default)
        if isinstance(value, Mapping):  # a serialised function: {"class_name": "function", "config": "relu"}
            config = value.get("config")
            value = config if isinstance(config, str) else value
        if not isinstance(value, str) or value not in ACTIVATIONS:
            self.unsupported(f"{key}={describe(value)}")
            return "linear"
        return ACTIVATIONS[value]

    def ints(self, key: str, length: int, default: Any = None) -> list[int]:
        value = self.get(key, default)
        if isinstance(value, int) and not isinstance(value, bool):
            return [value] * length
        if isinstance(value, list) and len(value) == length and all(isinstance(v, int) for v in value):
            return value
        self.unsupported(f"{key}={describe(value)}")
        return [1] * length

    def channels_last(self) -> None:
        self.require("data_format", "channels_last", default="channels_last")

    def last_axis(self, key: str, shape: TensorShape | None, default: Any = -1) -> None:
        """Axis settings the studio has only for the features (Keras' last axis, batch counted)."""
        value = self.get(key, default)
        axis = value[0] if isinstance(value, list) and len(value) == 1 else value
        if axis != -1 and (shape is None or axis != shape.rank):
            self.unsupported(f"{key}={describe(value)}")


def _dense(s: _Settings, _shape: TensorShape | None) -> Conversion:
    return "Dense", {"units": s.get("units"), "activation": s.activation(),
                     "use_bias": s.get("use_bias", True)}


def _conv(ndim: int) -> Callable[[_Settings, TensorShape | None], Conversion]:
    def convert(s: _Settings, _shape: TensorShape | None) -> Conversion:
        s.channels_last()
        s.require("groups", 1, default=1)
        padding = s.require("padding", "valid", "same", default="valid")
        return f"Conv{ndim}D", {
            "filters": s.get("filters"), "kernel_size": s.ints("kernel_size", ndim),
            "strides": s.ints("strides", ndim, 1), "padding": padding if padding == "same" else "valid",
            "dilation": s.ints("dilation_rate", ndim, 1), "activation": s.activation(),
            "use_bias": s.get("use_bias", True),
        }

    return convert


def _pool(kind: str) -> Callable[[_Settings, TensorShape | None], Conversion]:
    def convert(s: _Settings, _shape: TensorShape | None) -> Conversion:
        s.channels_last()
        padding = s.require("padding", "valid", "same", default="valid")
        window = s.ints("pool_size", 2, 2)
        return kind, {"kernel_size": window, "strides": s.ints("strides", 2, window),
                      "padding": padding if padding == "same" else "valid"}

    return convert


def _global_pool(kind: str) -> Callable[[_Settings, TensorShape | None], Conversion]:
    def convert(s: _Settings, _shape: TensorShape | None) -> Conversion:
        s.channels_last()
        s.require("keepdims", False, default=False)
        return kind, {}

    return convert


def _dropout(s: _Settings, _shape: TensorShape | None) -> Conversion:
    s.require("noise_shape", None)  # dropping whole channels or steps together
    return "Dropout", {"rate": s.get("rate", 0.5)}


def _batch_norm(s: _Settings, shape: TensorShape | None) -> Conversion:
    s.last_axis("axis", shape)
    s.require("center", True, default=True)
    s.require("scale", True, default=True)
    s.require("renorm", False, default=False)
    # Keras' momentum weighs the old statistics, torch's the newest batch.
    return "BatchNorm", {"momentum": round(1.0 - float(s.get("momentum", 0.99)), 10),
                         "epsilon": s.get("epsilon", 1e-3)}


def _layer_norm(s: _Settings, shape: TensorShape | None) -> Conversion:
    s.last_axis("axis", shape)
    s.require("center", True, default=True)
    s.require("scale", True, default=True)
    s.require("rms_scaling", False, default=False)
    return "LayerNorm", {"epsilon": s.get("epsilon", 1e-3)}


def _embedding(s: _Settings, _shape: TensorShape | None) -> Conversion:
    s.require("mask_zero", False, default=False)
    return "Embedding", {"vocab_size": s.get("input_dim"), "dim": s.get("output_dim")}


def _recurrent(s: _Settings, _shape: TensorShape | None, *, bidirectional: bool = False) -> Conversion:
    kind = _RECURRENT[s.layer.cls]
    for key in ("return_state", "go_backwards", "stateful", "time_major"):
        s.require(key, False, default=False)
    s.require("use_bias", True, default=True)
    s.require("dropout", 0, 0.0, default=0.0)
    s.require("recurrent_dropout", 0, 0.0, default=0.0)
    params = {"units": s.get("units"), "return_sequences": bool(s.get("return_sequences", False)),
              "bidirectional": bidirectional}
    activation = s.get("activation", "tanh")
    if kind == "RNN" and activation in ("tanh", "relu"):
        params["nonlinearity"] = activation
    else:
        s.require("activation", "tanh", default="tanh")
    if kind != "RNN":
        s.require("recurrent_activation", "sigmoid", default="sigmoid")
    if kind == "GRU":
        s.require("reset_after", True, default=True)  # torch's GRU is Keras' reset_after=True
    return kind, params


def _bidirectional(s: _Settings, shape: TensorShape | None) -> Conversion:
    inner = s.get("layer", {})
    inner_cls = inner.get("class_name") if isinstance(inner, Mapping) else None
    s.require("merge_mode", "concat", default="concat")
    if s.get("backward_layer"):
        s.unsupported("backward_layer (a separately configured backward layer)")
    if inner_cls not in _RECURRENT:
        s.problems.no_counterpart(s.layer.name, f"Bidirectional({inner_cls})")
        return UNKNOWN
    layer = KerasLayer(s.layer.name, inner_cls, dict(inner.get("config") or {}), s.layer.inputs)
    return _recurrent(_Settings(layer, s.problems, s.notes), shape, bidirectional=True)


def _activation_layer(s: _Settings, _shape: TensorShape | None) -> Conversion:
    function = s.activation()
    return None if function == "linear" else (LAYER_OF_ACTIVATION[function], {})


def _relu(s: _Settings, _shape: TensorShape | None) -> Conversion:
    s.require("max_value", None)
    s.require("negative_slope", 0, 0.0, default=0.0)
    s.require("threshold", 0, 0.0, default=0.0)
    return "ReLU", {}


def _leaky_relu(s: _Settings, _shape: TensorShape | None) -> Conversion:
    slope = s.get("negative_slope", s.get("alpha", 0.3))  # Keras 3 / Keras 2 names; default 0.3
    if abs(float(slope) - 0.01) > 1e-9:
        s.unsupported(f"negative slope {float(slope):.6g} (the studio's LeakyReLU has torch's 0.01)")
    return "LeakyReLU", {}


def _elu(s: _Settings, _shape: TensorShape | None) -> Conversion:
    s.require("alpha", 1, 1.0, default=1.0)
    return "ELU", {}


def _softmax(s: _Settings, shape: TensorShape | None) -> Conversion:
    s.last_axis("axis", shape)
    return "Softmax", {}


def _concatenate(s: _Settings, shape: TensorShape | None) -> Conversion:
    s.last_axis("axis", shape)
    return "Concat", {}


def _reshape(s: _Settings, shape: TensorShape | None) -> Conversion:
    target = [int(d) for d in s.get("target_shape", [])]
    if -1 in target and shape is not None:
        known = 1
        for d in target:
            known *= d if d != -1 else 1
        target[target.index(-1)] = shape.numel // max(known, 1)
    if len(target) == 3:
        target = [target[2], target[0], target[1]]  # (H, W, C) -> (C, H, W)
        if target[0] > 1:
            s.note("reshapes to an image: Keras fills it pixel by pixel (channels last), the studio "
                   "channel by channel; the sizes are the same")
    return "Reshape", {"shape": target}


_CONVERTERS: dict[str, Callable[[_Settings, TensorShape | None], Conversion]] = {
    "Dense": _dense,
    "Conv2D": _conv(2),
    "Conv1D": _conv(1),
    "MaxPooling2D": _pool("MaxPool2D"),
    "AveragePooling2D": _pool("AvgPool2D"),
    "GlobalAveragePooling2D": _global_pool("GlobalAvgPool2D"),
    "GlobalAveragePooling1D": _global_pool("GlobalAvgPool1D"),
    "Flatten": lambda s, _shape: ("Flatten", {}),
    "Dropout": _dropout,
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "Embedding": _embedding,
    "LSTM": _recurrent,
    "GRU": _recurrent,
    "SimpleRNN": _recurrent,
    "Bidirectional": _bidirectional,
    "Activation": _activation_layer,
    "ReLU": _relu,
    "LeakyReLU": _leaky_relu,
    "ELU": _elu,
    "Softmax": _softmax,
    "Add": lambda s, _shape: ("Add", {}),
    "Concatenate": _concatenate,
    "Reshape": _reshape,
}


def _input_dims(config: Mapping[str, Any]) -> list[Any] | None:
    """One sample's shape (Keras order) from an InputLayer or first layer config, batch axis dropped."""
    for key in ("batch_shape", "batch_input_shape"):
        if isinstance(config.get(key), list):
            return list(config[key][1:])
    for key in ("shape", "input_shape"):
        if isinstance(config.get(key), list):
            return list(config[key])
    if isinstance(config.get("input_length"), int):  # a Keras 2 Embedding given only its length
        return [config["input_length"]]
    return None
