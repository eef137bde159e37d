"""Importing a PyTorch module: traced with torch.fx and mapped, operation by operation, to studio layers.

Recognised: nn.Linear, nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d(1), nn.Flatten,
torch.flatten, x.flatten(1), x.view(x.size(0), -1), x.view(-1, n), nn.Dropout, nn.BatchNorm1d/2d,
nn.LayerNorm, nn.Embedding, nn.TransformerEncoderLayer, activations as modules, functions or methods (F.relu,
torch.sigmoid, x.tanh(), ...), `+` / torch.add and torch.cat. nn.RNN/LSTM/GRU (batch_first) are
recognised with the usual unpacking: `out, _ = rnn(x)` gives the whole sequence, and `out[:, -1]` or
`h_n[-1]` the last step. Only the architecture is imported, not the weights. Everything else is
listed by name in one error.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp
from torch.nn import functional as F  # noqa: N812

from studio.interop.common import InteropError
from studio.interop.imported import ImportResult, Layer, Problems, build_graph, input_params, parameter_count

# Activation functions and methods -> studio activation layers (softmax is checked for its axis).
_ACTIVATION_FUNCTIONS: dict[Any, str] = {
    F.relu: "ReLU", torch.relu: "ReLU", torch.sigmoid: "Sigmoid", F.sigmoid: "Sigmoid",
    torch.tanh: "Tanh", F.tanh: "Tanh", F.silu: "SiLU",
}
_ACTIVATION_METHODS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}
_ACTIVATION_MODULES = {nn.ReLU: "ReLU", nn.Tanh: "Tanh", nn.Sigmoid: "Sigmoid", nn.SiLU: "SiLU"}
_ADD = (operator.add, operator.iadd, torch.add)
_RECURRENT = {nn.RNN: "RNN", nn.LSTM: "LSTM", nn.GRU: "GRU"}


@dataclass
class _Value:
    """What an fx node computes, as far as the studio is concerned."""

    # "tensor": a studio layer's output; "rnn": a recurrent layer's (out, hidden) tuple; "sequence":
    # its `out`; "hidden": an LSTM's (h_n, c_n); "states": h_n; "shape": x.shape; "batch": x.size(0)
    kind: str
    layer: str  # the studio layer it belongs to ("" for shapes)


def graph_from_module(module: nn.Module, example_input_shape: Sequence[int]) -> ImportResult:
    """The module as a studio graph; `example_input_shape` is one sample's shape without the batch
    axis, in PyTorch order ((C, H, W) for images, (T, F) for sequences, (T,) for token ids)."""
    if not isinstance(module, nn.Module):
        raise InteropError(f"expects a torch.nn.Module, got {type(module).__name__}")
    shape = tuple(int(d) for d in example_input_shape)
    if not 1 <= len(shape) <= 3 or min(shape) < 1:
        raise InteropError(f"input shape {shape}: expects 1 to 3 positive sizes (without the batch axis)")
    try:
        traced = fx.symbolic_trace(module)
    except Exception as exc:  # torch.fx raises many kinds of errors for code it cannot follow
        raise InteropError(f"cannot trace {type(module).__name__} with torch.fx: {exc}") from None
    traced.graph.eliminate_dead_code()
    importer = _Importer(traced, shape)
    layers = importer.run()
    importer.problems.raise_if_any()
    graph = build_graph(layers)
    notes = []
    expected = sum(p.numel() for p in module.parameters())
    trainable, _buffers = parameter_count(graph)
    if trainable != expected:
        notes.append(f"the studio counts {trainable:,} weights where the module has {expected:,}")
    return ImportResult(graph, notes)


class _Importer:
    def __init__(self, traced: fx.GraphModule, shape: tuple[int, ...]):
        self.traced = traced
        self.shape = shape
        self.problems = Problems()
        self.layers: dict[str, Layer] = {}
        self.values: dict[fx.Node, _Value] = {}
        self.failed: set[fx.Node] = set()  # nodes reported as problems
        self.last_step: set[str] = set()  # recurrent layers read at their last step only
        self.sequence: set[str] = set()  # recurrent layers whose whole sequence is read

    def run(self) -> list[Layer]:
        placeholders = [n for n in self.traced.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise InteropError(f"forward takes {len(placeholders)} inputs; a studio model takes one")
        tokens = self._token_vocab(placeholders[0])
        example = (torch.zeros(2, *self.shape, dtype=torch.long) if tokens
                   else torch.randn(2, *self.shape))
        modes = {m: m.training for m in self.traced.modules()}
        try:
            self.traced.eval()  # no running statistics change while shapes are measured
            with torch.no_grad():
                self.traced(example)  # the module's own error for a wrong shape, before ShapeProp's
                with contextlib.redirect_stderr(io.StringIO()):  # ShapeProp prints tracebacks
                    ShapeProp(self.traced).propagate(example)
        except Exception as exc:
            while exc.__cause__ is not None:
                exc = exc.__cause__  # type: ignore[assignment]
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InteropError(f"the module does not run on an input of shape (N, "
                               f"{', '.join(map(str, self.shape))}): {reason}") from None
        finally:
            for m, training in modes.items():
                m.training = training
        taken = {n.name for n in self.traced.graph.nodes}
        name = "input" if "input" not in taken or placeholders[0].name == "input" else placeholders[0].name
        self._add(placeholders[0], Layer(name, "Input", input_params(self.shape, tokens), []))
        self._shared_weights()
        for node in self.traced.graph.nodes:
            self._node(node)
        for name in self.last_step & self.sequence:
            self.problems.other.append(f"'{name}' is read both as a whole sequence and at its last step")
        for name in self.last_step:
            layer = self.layers[name]
            layer.params["return_sequences"] = False
            if layer.params["bidirectional"]:
                self.problems.setting(name, layer.type, "bidirectional and read at its last step (the "
                                      "studio joins each direction's final state instead)")
        return list(self.layers.values())

    def _shared_weights(self) -> None:
        """A module with weights called more than once shares them; studio layers never do."""
        calls: dict[str, int] = {}
        for node in self.traced.graph.nodes:
            if node.op == "call_module":
                calls[node.target] = calls.get(node.target, 0) + 1
        for target, count in calls.items():
            module = self.traced.get_submodule(target)
            if count > 1 and any(True for _ in module.parameters()):
                self.problems.other.append(f"'{target}' ({type(module).__name__}) is applied {count} times "
                                           "(shared weights); each studio layer is applied once")

    def _token_vocab(self, placeholder: fx.Node) -> int | None:
        users = list(placeholder.users)
        modules = [self.traced.get_submodule(u.target) if u.op == "call_module" else None for u in users]
        if users and all(isinstance(m, nn.Embedding) for m in modules):
            return max(m.num_embeddings for m in modules)  # type: ignore[union-attr]
        return None

    # --- one fx node -----------------------------------------------------------------------------

    def _node(self, node: fx.Node) -> None:
        reported = len(self.problems.missing)
        if self._follows_failure(node):
            self.failed.add(node)
            return
        self._convert(node)
        if len(self.problems.missing) > reported:
            self.failed.add(node)

    def _follows_failure(self, node: fx.Node) -> bool:
        """Taking an attribute or item of something already reported (`torch.sort(x).values`)."""
        plain = node.op == "call_function" and node.target in (builtins.getattr, operator.getitem)
        return plain and node.args[0] in self.failed

    def _convert(self, node: fx.Node) -> None:
        if node.op == "call_module":
            self._module(node, self.traced.get_submodule(node.target))
        elif node.op == "call_function":
            self._function(node)
        elif node.op == "call_method":
            self._method(node)
        elif node.op == "get_attr":
            self.problems.no_counterpart(node.name, f"uses the tensor '{node.target}' directly")
        elif node.op == "output":
            result = node.args[0]
            if not isinstance(result, fx.Node) or self._tensor(result) is None:
                self.problems.other.append("the module's output is not a single tensor")

    def _module(self, node: fx.Node, module: nn.Module) -> None:
        kind = type(module)
        if isinstance(module, nn.Identity):
            self._alias(node, node.args[0])
            return
        convert = _recurrent if kind in _RECURRENT else _MODULES.get(kind)
        if convert is None:
            self.problems.no_counterpart(str(node.target), kind.__name__)  # the module's path: "features.3"
            return
        check = _Check(str(node.target), kind.__name__, self.problems)
        layer_type, params = convert(module, check, self._rank(node.args[0]))
        layer = Layer(node.name, layer_type, params, self._sources(node.args[:1]))
        self._add(node, layer, "rnn" if kind in _RECURRENT else "tensor")

    def _function(self, node: fx.Node) -> None:
        target = node.target
        if target is builtins.getattr:
            if node.args[1:] == ("shape",):
                self.values[node] = _Value("shape", "")
            else:
                self.problems.no_counterpart(node.name, f"attribute .{node.args[1]}")
        elif target in _ADD:
            self._merge(node, "Add", node.args)
        elif target is torch.cat:
            inputs = node.args[0]
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
            self._feature_axis(node, "dim", dim, inputs[0] if inputs else None)
            self._merge(node, "Concat", inputs)
        elif target is torch.flatten:
            self._flatten(node, node.args[1:] or (node.kwargs.get("start_dim", 0),))
        elif target in _ACTIVATION_FUNCTIONS:
            self._activation(node, _ACTIVATION_FUNCTIONS[target])
        elif target in (F.softmax, torch.softmax):
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
            self._feature_axis(node, "dim", dim, node.args[0])
            self._activation(node, "Softmax")
        elif target is operator.getitem:
            self._getitem(node)
        else:
            self.problems.no_counterpart(node.name, _function_name(target))

    def _method(self, node: fx.Node) -> None:
        name = node.target
        source = node.args[0]
        if name in _ACTIVATION_METHODS:
            self._activation(node, _ACTIVATION_METHODS[name])
        elif name == "softmax":
            self._feature_axis(node, "dim", node.args[1] if len(node.args) > 1 else node.kwargs.get("dim"),
                               source)
            self._activation(node, "Softmax")
        elif name == "add" and len(node.args) == 2:
            self._merge(node, "Add", node.args)
        elif name == "flatten":
            self._flatten(node, node.args[1:] or (node.kwargs.get("start_dim", 0),))
        elif name in ("view", "reshape") and self._flattens(source, node.args[1:]):
            self._flatten(node, (1,))
        elif name == "size" and node.args[1:] in ((0,), ()):
            self.values[node] = _Value("batch" if node.args[1:] else "shape", "")
        else:
            self.problems.no_counterpart(node.name, f"Tensor.{name}")

    def _getitem(self, node: fx.Node) -> None:
        source, index = node.args
        value = self.values.get(source) if isinstance(source, fx.Node) else None
        if value is None:
            self.problems.no_counterpart(node.name, "indexing")
            return
        if value.kind == "rnn" and index == 0:  # out, _ = rnn(x)
            self.values[node] = _Value("sequence", value.layer)
        elif value.kind == "rnn" and index == 1:  # _, h_n = gru(x) or _, (h_n, c_n) = lstm(x)
            lstm = self.layers[value.layer].type == "LSTM"
            self.values[node] = _Value("hidden" if lstm else "states", value.layer)
        elif value.kind == "hidden" and index == 0:
            self.values[node] = _Value("states", value.layer)
        elif value.kind == "states" and index == -1:
            self._last_step(node, value.layer)
        elif value.kind == "sequence" and _is_last_step(index):
            self._last_step(node, value.layer)
        elif value.kind == "shape" and index == 0:
            self.values[node] = _Value("batch", "")
        else:
            self.problems.no_counterpart(node.name, f"indexing [{_show_index(index)}]")

    # --- helpers ---------------------------------------------------------------------------------

    def _add(self, node: fx.Node, layer: Layer, value: str = "tensor") -> None:
        self.layers[layer.name] = layer
        self.values[node] = _Value(value, layer.name)

    def _alias(self, node: fx.Node, source: Any) -> None:
        name = self._tensor(source)
        if name is not None:
            self.values[node] = _Value("tensor", name)

    def _last_step(self, node: fx.Node, layer: str) -> None:
        self.last_step.add(layer)
        self.values[node] = _Value("tensor", layer)

    def _tensor(self, arg: Any) -> str | None:
        """The studio layer whose output `arg` is, or None when it is not a layer's tensor."""
        value = self.values.get(arg) if isinstance(arg, fx.Node) else None
        if value is None:
            return None
        if value.kind == "sequence":
            self.sequence.add(value.layer)
            return value.layer
        return value.layer if value.kind == "tensor" else None

    def _sources(self, args: Sequence[Any]) -> list[str]:
        sources = []
        for arg in args:
            name = self._tensor(arg)
            if name is None:
                if isinstance(arg, fx.Node) and arg in self.values:
                    self.problems.other.append(f"'{arg.name}' is not a tensor the studio can pass on")
                elif not isinstance(arg, fx.Node):
                    self.problems.other.append(f"an operation mixes a tensor with the constant {arg!r}")
                continue
            sources.append(name)
        return sources

    def _merge(self, node: fx.Node, kind: str, inputs: Sequence[Any]) -> None:
        if any(not isinstance(i, fx.Node) for i in inputs):
            self.problems.no_counterpart(node.name, f"{kind} with a constant")
            return
        self._add(node, Layer(node.name, kind, {}, self._sources(inputs)))

    def _activation(self, node: fx.Node, kind: str) -> None:
        self._add(node, Layer(node.name, kind, {}, self._sources(node.args[:1])))

    def _flatten(self, node: fx.Node, start: Sequence[Any]) -> None:
        if tuple(start[:1]) != (1,) or len(start) > 2 or (len(start) == 2 and start[1] != -1):
            self.problems.setting(node.name, "flatten", f"from dimension {start[0]} (the studio flattens "
                                  "everything but the batch)")
        self._add(node, Layer(node.name, "Flatten", {}, self._sources(node.args[:1])))

    def _flattens(self, source: Any, sizes: Sequence[Any]) -> bool:
        """True for view/reshape sizes that flatten all but the batch: (x.size(0), -1), or (-1, n) with n
        the number of values in one sample."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = sizes[0]
        if len(sizes) != 2:
            return False
        first = self.values.get(sizes[0]) if isinstance(sizes[0], fx.Node) else None
        if first is not None and first.kind == "batch" and sizes[1] == -1:
            return True
        meta = source.meta.get("tensor_meta") if isinstance(source, fx.Node) else None
        per_sample = math.prod(meta.shape[1:]) if meta is not None and hasattr(meta, "shape") else None
        return sizes[0] == -1 and sizes[1] == per_sample

    def _rank(self, arg: Any) -> int:
        meta = arg.meta.get("tensor_meta") if isinstance(arg, fx.Node) else None
        return len(meta.shape) if meta is not None and hasattr(meta, "shape") else 0

    def _feature_axis(self, node: fx.Node, key: str, dim: Any, source: Any) -> None:
        rank = self._rank(source)
        features = 1 if rank == 4 else rank - 1
        if not isinstance(dim, int) or rank == 0 or dim % rank != features:
            self.problems.setting(node.name, str(node.target), f"{key}={dim!r} (the studio joins and "
                                  "normalises along the features: channels of images, else the last axis)")


def _function_name(function: Any) -> str:
    """'torch.sort', 'operator.mul', 'torch.nn.functional.max_pool2d'."""
    module = getattr(function, "__module__", None) or "torch"
    module = {"_operator": "operator", "torch._C._nn": "torch.nn.functional"}.get(module, module)
    return f"{module}.{getattr(function, '__name__', repr(function))}"


def _is_last_step(index: Any) -> bool:
    """`[:, -1]` or `[:, -1, :]`."""
    full = slice(None, None, None)
    return isinstance(index, tuple) and index[:2] == (full, -1) and all(i == full for i in index[2:])


def _show_index(index: Any) -> str:
    """`[:, -1]` as Python writes it."""
    def one(item: Any) -> str:
        if not isinstance(item, slice):
            return repr(item)
        parts = ["" if v is None else str(v) for v in (item.start, item.stop, item.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")

    return ", ".join(one(i) for i in (index if isinstance(index, tuple) else (index,)))


class _Check:
    """Records settings of a torch module that the studio's layer does not have."""

    def __init__(self, label: str, kind: str, problems: Problems):
        self.label = label
        self.kind = kind
        self.problems = problems

    def require(self, name: str, value: Any, *allowed: Any) -> None:
        if value not in allowed:
            self.problems.setting(self.label, self.kind, f"{name}={value!r}")

    def rank(self, rank: int, *allowed: int) -> None:
        if rank not in allowed:
            self.problems.setting(self.label, self.kind, f"applied to a tensor of rank {rank}")


Converted = tuple[str, dict[str, Any]]


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


def _linear(m: nn.Linear, c: _Check, rank: int) -> Converted:
    c.rank(rank, 2, 3)
    return "Dense", {"units": m.out_features, "use_bias": m.bias is not None}


def _conv2d(m: nn.Conv2d, c: _Check, rank: int) -> Converted:
    c.rank(rank, 4)
    c.require("groups", m.groups, 1)
    c.require("padding_mode", m.padding_mode, "zeros")
    padding = m.padding
    if padding not in ("valid", "same"):
        if all(p == 0 for p in padding):
            padding = "valid"
        elif m.stride == (1, 1) and all(2 * p == d * (k - 1) for p, d, k in
                                        zip(padding, m.dilation, m.kernel_size, strict=True)):
            padding = "same"  # pads that keep the size, on both sides equally
        else:
            c.require("padding", padding)  # padding that neither keeps the size nor is absent
    return "Conv2D", {"filters": m.out_channels, "kernel_size": list(m.kernel_size),
                      "strides": list(m.stride), "padding": padding, "dilation": list(m.dilation),
                      "activation": "linear", "use_bias": m.bias is not None}


def _pool(kind: str) -> Callable[[nn.Module, _Check, int], Converted]:
    def convert(m: nn.MaxPool2d | nn.AvgPool2d, c: _Check, rank: int) -> Converted:
        c.rank(rank, 4)
        c.require("padding", _pair(m.padding), (0, 0))
        c.require("ceil_mode", m.ceil_mode, False)
        if isinstance(m, nn.MaxPool2d):
            c.require("dilation", _pair(m.dilation), (1, 1))
            c.require("return_indices", m.return_indices, False)
        else:
            c.require("divisor_override", m.divisor_override, None)
        window = _pair(m.kernel_size)
        return kind, {"kernel_size": list(window), "strides": list(_pair(m.stride or window)),
                      "padding": "valid"}

    return convert


def _adaptive_avg_pool(m: nn.AdaptiveAvgPool2d, c: _Check, rank: int) -> Converted:
    c.rank(rank, 4)
    c.require("output_size", _pair(m.output_size), (1, 1))
    return "GlobalAvgPool2D", {}


def _batch_norm(m: nn.BatchNorm1d | nn.BatchNorm2d, c: _Check, rank: int) -> Converted:
    # BatchNorm1d on (N, C, L) normalises C, not the last axis as the studio's sequence BatchNorm does.
    c.rank(rank, 4 if isinstance(m, nn.BatchNorm2d) else 2)
    c.require("affine", m.affine, True)
    c.require("track_running_stats", m.track_running_stats, True)
    if m.momentum is None:
        c.require("momentum", None)
    return "BatchNorm", {"momentum": m.momentum if m.momentum is not None else 0.1, "epsilon": m.eps}


def _layer_norm(m: nn.LayerNorm, c: _Check, rank: int) -> Converted:
    c.rank(rank, 2, 3)
    c.require("elementwise_affine", m.elementwise_affine, True)
    c.require("bias", getattr(m, "bias", True) is not None, True)
    if len(m.normalized_shape) != 1:
        c.require("normalized_shape", m.normalized_shape)
    return "LayerNorm", {"epsilon": m.eps}


def _recurrent(m: nn.RNNBase, c: _Check, rank: int) -> Converted:
    c.rank(rank, 3)
    c.require("batch_first", m.batch_first, True)
    c.require("num_layers", m.num_layers, 1)
    c.require("bias", m.bias, True)
    c.require("dropout", m.dropout, 0.0)
    c.require("proj_size", getattr(m, "proj_size", 0), 0)
    params = {"units": m.hidden_size, "return_sequences": True, "bidirectional": m.bidirectional}
    if isinstance(m, nn.RNN):
        params["nonlinearity"] = m.nonlinearity
    return _RECURRENT[type(m)], params



def _embedding(m: nn.Embedding, c: _Check, _rank: int) -> Converted:
    for name, default in (("padding_idx", None), ("max_norm", None), ("scale_grad_by_freq", False),
                          ("sparse", False)):
        c.require(name, getattr(m, name), default)
    return "Embedding", {"vocab_size": m.num_embeddings, "dim": m.embedding_dim}


def _transformer(m: nn.TransformerEncoderLayer, c: _Check, rank: int) -> Converted:
    c.rank(rank, 3)
    c.require("batch_first", m.self_attn.batch_first, True)
    c.require("layer_norm_eps", m.norm1.eps, 1e-5)
    activation = {F.relu: "relu", F.gelu: "gelu"}.get(m.activation)
    c.require("activation", activation or m.activation, "relu", "gelu")
    return "TransformerEncoderLayer", {
        "heads": m.self_attn.num_heads, "ff_dim": m.linear1.out_features, "dropout": m.dropout.p,
        "activation": activation or "relu", "norm_first": m.norm_first}


def _activation(kind: str) -> Callable[[nn.Module, _Check, int], Converted]:
    def convert(_m: nn.Module, _c: _Check, _rank: int) -> Converted:
        return kind, {}

    return convert


def _option_free(kind: str, option: str, value: Any) -> Callable[[nn.Module, _Check, int], Converted]:
    """An activation module the studio has only with `option` at `value` (torch's default)."""

    def convert(m: nn.Module, c: _Check, _rank: int) -> Converted:
        c.require(option, getattr(m, option), value)
        return kind, {}

    return convert


def _flatten(m: nn.Flatten, c: _Check, _rank: int) -> Converted:
    c.require("start_dim", m.start_dim, 1)
    c.require("end_dim", m.end_dim, -1)
    return "Flatten", {}


def _softmax(m: nn.Softmax, c: _Check, rank: int) -> Converted:
    features = 1 if rank == 4 else rank - 1
    if m.dim is None or rank == 0 or m.dim % rank != features:
        c.require("dim", m.dim)
    return "Softmax", {}


_MODULES: dict[type, Callable[[Any, _Check, int], Converted]] = {
    nn.Linear: _linear,
    nn.Conv2d: _conv2d,
    nn.MaxPool2d: _pool("MaxPool2D"),
    nn.AvgPool2d: _pool("AvgPool2D"),
    nn.AdaptiveAvgPool2d: _adaptive_avg_pool,
    nn.Flatten: _flatten,
    nn.Dropout: lambda m, _c, _rank: ("Dropout", {"rate": m.p}),
    nn.BatchNorm1d: _batch_norm,
    nn.BatchNorm2d: _batch_norm,
    nn.LayerNorm: _layer_norm,
    nn.Embedding: _embedding,
    nn.TransformerEncoderLayer: _transformer,
    nn.LeakyReLU: _option_free("LeakyReLU", "negative_slope", 0.01),
    nn.ELU: _option_free("ELU", "alpha", 1.0),
    nn.GELU: _option_free("GELU", "approximate", "none"),
    nn.Softmax: _softmax,
    **{kind: _activation(name) for kind, name in _ACTIVATION_MODULES.items()},
}
