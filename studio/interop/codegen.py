"""Python source for built layers, and the only ways text from a project enters generated code.

Layers: each module becomes the constructor call that rebuilds it. torch's own modules are written from
their attributes; the studio's helper modules (studio.core.modules) from the arguments of their
constructors, and their class definitions are copied from that module's source, so an exported file
always carries the same code the studio runs.

Text: a project file is data. Its text (names, descriptions, file names) enters generated code only as a
string literal made by `repr` (`py_string`, `docstring_text`), and its names only as identifiers checked
by a full match (`identifier`). `same_code` then proves it for a whole file before anything runs it.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import math
import re
from collections.abc import Callable, Mapping

from torch import nn
from torch.nn import functional as F  # noqa: N812

from studio.core import modules as studio_modules
from studio.interop.common import InteropError

NEUTRAL = "StudioNeutral"  # begins every placeholder of a neutral file (see `same_code`)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Unrenderable(Exception):
    """A module with no known constructor call."""


class Renderer:
    """Renders modules to constructor calls, remembering which helper classes they use."""

    def __init__(self) -> None:
        self.helpers: set[type] = set()

    def render(self, module: nn.Module) -> str:
        kind = type(module)
        if kind.__module__ == studio_modules.__name__:
            return self._helper(module)
        render = _TORCH.get(kind)
        if render is None:
            raise Unrenderable(f"no Python form for {kind.__module__}.{kind.__name__}")
        return render(module)

    def helper_sources(self) -> list[str]:
        """Source of the helper classes used so far, in the order studio.core.modules defines them."""
        return [inspect.getsource(cls) for cls in sorted(self.helpers, key=_defined_at)]

    def _helper(self, module: nn.Module) -> str:
        kind = type(module)
        self.helpers.add(kind)
        special = _HELPER_ARGS.get(kind)
        known = special(module) if special else vars(module) | module._modules
        args = []
        by_name = False  # once one argument is given by name, so are the rest
        for name, param in list(inspect.signature(kind.__init__).parameters.items())[1:]:
            if name not in known:
                raise Unrenderable(f"{kind.__name__} keeps no attribute '{name}' to rebuild it from")
            value = known[name]
            by_name = by_name or isinstance(value, bool)  # flags by name, so the call reads well
            if param.default is inspect.Parameter.empty and not by_name:
                args.append(self.value(value))
            elif value != param.default:
                args.append(f"{name}={self.value(value)}")
                by_name = True
        return f"{kind.__name__}({', '.join(args)})"

    def value(self, value: object) -> str:
        if isinstance(value, nn.Module):
            return self.render(value)
        return literal(value)


def literal(value: object) -> str:
    """Python source for a plain value (numbers, text, tuples of them)."""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f'float("{value}")'
    if isinstance(value, tuple):
        items = [literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, list):
        return f"[{', '.join(literal(v) for v in value)}]"
    if isinstance(value, str):
        return py_string(value)
    if isinstance(value, (bool, int)) or value is None:
        return repr(value)
    raise Unrenderable(f"no Python literal for a {type(value).__name__}")


def py_string(text: str) -> str:
    """`text` as a Python string literal, made by `repr` (which escapes backslashes, quotes, control
    characters and line separators); in double quotes, like the rest of the file, when `text` holds no
    quote at all, so that swapping repr's quotes cannot change what the literal means."""
    quoted = repr(text)
    if "'" in text or '"' in text:
        return quoted
    return f'"{quoted[1:-1]}"'


def docstring_text(text: str) -> str:
    """`text` for the inside of a triple-double-quoted docstring, on one source line, reading back as
    exactly `text`: backslashes and double quotes are escaped, and every character that is not
    printable (newlines, returns, NUL, tabs, U+2028, bidirectional controls, ...) becomes repr's
    escape for it. So no text can close the docstring, end its line or hide code."""
    return "".join(_DOCSTRING_ESCAPES.get(c) or (c if c.isprintable() else repr(c)[1:-1]) for c in text)


_DOCSTRING_ESCAPES = {"\\": "\\\\", '"': '\\"'}


def identifier(name: str, what: str) -> str:
    """`name` when it is a plain ASCII Python identifier and no keyword; else InteropError naming `what`."""
    if not (isinstance(name, str) and _IDENTIFIER.fullmatch(name) and not keyword.iskeyword(name)):
        shown = repr(name) if not isinstance(name, str) or len(name) <= 40 else repr(name[:40]) + "..."
        raise InteropError(f"{what} {shown} is not a Python name (letters, digits and '_')")
    return name


def same_code(source: bytes, neutral: bytes, identifiers: Mapping[str, str], what: str) -> ast.Module:
    """The parsed `source`, once it is shown to be `neutral` with only its placeholders filled in;
    InteropError when it is not.

    `neutral` is the same file generated from the same model with a placeholder (beginning with
    NEUTRAL) for every text and name taken from the project, so it holds nothing a file chose. The two
    syntax trees must match node for node: where `neutral` has a string holding a placeholder, `source`
    may have any string (a literal: data, never code); where it has a placeholder identifier, `source`
    must have exactly the identifier `identifiers` gives for it (chosen from validated names); every
    other node, name and constant must be the same. Text that slipped into the code itself would change
    the tree, so the check refuses the file before anything runs it. Both are parsed from the bytes that
    are written, as Python reads them (an encoding declaration included)."""
    tree = _parse(source, what)
    line = _difference(tree, _parse(neutral, what), identifiers, 1)
    if line is not None:
        raise InteropError(f"cannot export to {what}: text from the project would become code in the "
                           f"generated file (line {line}); nothing was written")
    return tree


def _parse(source: bytes, what: str) -> ast.Module:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise InteropError(f"cannot export to {what}: the generated file is not valid Python{where}; "
                           "nothing was written") from None


def _difference(real: object, neutral: object, identifiers: Mapping[str, str], line: int) -> int | None:
    """The line of the first place where `real` is not `neutral` with its placeholders filled in, or
    None. Recurses only as deep as both trees agree, so the neutral tree bounds the depth."""
    if type(real) is not type(neutral):
        return getattr(real, "lineno", line)
    if isinstance(neutral, ast.AST):
        line = getattr(real, "lineno", line)
        if isinstance(neutral, ast.Constant) and isinstance(neutral.value, str) and NEUTRAL in neutral.value:
            return None  # a quoted text: any string
        for name in neutral._fields:
            found = _difference(getattr(real, name, None), getattr(neutral, name, None), identifiers, line)
            if found is not None:
                return found
        return None
    if isinstance(neutral, list):
        assert isinstance(real, list)  # the types matched above
        for r, n in zip(real, neutral, strict=False):
            found = _difference(r, n, identifiers, line)
            if found is not None:
                return found
        if len(real) != len(neutral):  # the first statement or item one of them has and the other lacks
            extra = real[len(neutral)] if len(real) > len(neutral) else None
            return getattr(extra, "lineno", line)
        return None
    if isinstance(neutral, str) and neutral in identifiers:
        return None if real == identifiers[neutral] else line
    return None if real == neutral else line


def helper_imports(sources: list[str]) -> set[str]:
    """The module-level names ('math', 'F') the helper classes' code refers to."""
    text = "\n".join(sources)
    return {name for name in ("math", "F") if re.search(rf"\b{name}\.", text)}


def _defined_at(cls: type) -> int:
    return inspect.getsourcelines(cls)[1]


def _self_attention(m: nn.Module) -> dict[str, object]:
    return {"embed": m.attention.embed_dim, "heads": m.attention.num_heads, "dropout": m.attention.dropout}


def _positional_encoding(m: nn.Module) -> dict[str, object]:
    max_len, embed = m.table.shape
    return {"max_len": max_len, "embed": embed, "learned": isinstance(m.table, nn.Parameter)}


# Helpers whose constructor arguments are not kept as attributes of the same names.
_HELPER_ARGS: dict[type, Callable[[nn.Module], dict[str, object]]] = {
    studio_modules.SelfAttention: _self_attention,
    studio_modules.PositionalEncoding: _positional_encoding,
}


def _call(name: str, *args: object, **options: object) -> str:
    """`nn.Name(args, key=value)`, leaving out options that are None."""
    parts = [literal(a) for a in args] + [f"{k}={literal(v)}" for k, v in options.items() if v is not None]
    return f"nn.{name}({', '.join(parts)})"


def _unless(value: object, default: object) -> object:
    """`value`, or None (left out of the call) when it is the constructor's default."""
    return None if value == default else value


def _linear(m: nn.Linear) -> str:
    return _call("Linear", m.in_features, m.out_features, bias=_unless(m.bias is not None, True))


def _conv(m: nn.Conv1d | nn.Conv2d) -> str:
    one = (1,) * len(m.kernel_size)
    kernel = m.kernel_size[0] if isinstance(m, nn.Conv1d) else m.kernel_size
    return _call(type(m).__name__, m.in_channels, m.out_channels, kernel,
                 stride=_unless(m.stride, one), padding=_unless(m.padding, (0,) * len(one)),
                 dilation=_unless(m.dilation, one), groups=_unless(m.groups, 1),
                 bias=_unless(m.bias is not None, True))


def _pool(m: nn.MaxPool2d | nn.AvgPool2d) -> str:
    return _call(type(m).__name__, m.kernel_size, stride=_unless(m.stride, m.kernel_size),
                 padding=_unless(m.padding, 0))


def _batch_norm(m: nn.BatchNorm1d | nn.BatchNorm2d) -> str:
    return _call(type(m).__name__, m.num_features, eps=_unless(m.eps, 1e-5),
                 momentum=_unless(m.momentum, 0.1))


def _layer_norm(m: nn.LayerNorm) -> str:
    return _call("LayerNorm", m.normalized_shape[0] if len(m.normalized_shape) == 1 else m.normalized_shape,
                 eps=_unless(m.eps, 1e-5))


def _recurrent(m: nn.RNNBase) -> str:
    nonlinearity = _unless(m.nonlinearity, "tanh") if isinstance(m, nn.RNN) else None
    return _call(type(m).__name__, m.input_size, m.hidden_size, num_layers=_unless(m.num_layers, 1),
                 batch_first=m.batch_first, bidirectional=_unless(m.bidirectional, False),
                 nonlinearity=nonlinearity)


def _transformer_encoder_layer(m: nn.TransformerEncoderLayer) -> str:
    activations = {F.relu: "relu", F.gelu: "gelu"}
    if m.activation not in activations:
        raise Unrenderable("TransformerEncoderLayer with a custom activation")
    return _call("TransformerEncoderLayer", m.self_attn.embed_dim, m.self_attn.num_heads,
                 dim_feedforward=m.linear1.out_features, dropout=m.dropout.p,
                 activation=activations[m.activation], layer_norm_eps=_unless(m.norm1.eps, 1e-5),
                 batch_first=m.self_attn.batch_first, norm_first=m.norm_first)


def _plain(m: nn.Module) -> str:
    return _call(type(m).__name__)


_TORCH: dict[type, Callable[[nn.Module], str]] = {
    nn.Linear: _linear,
    nn.Conv1d: _conv,
    nn.Conv2d: _conv,
    nn.MaxPool2d: _pool,
    nn.AvgPool2d: _pool,
    nn.BatchNorm1d: _batch_norm,
    nn.BatchNorm2d: _batch_norm,
    nn.LayerNorm: _layer_norm,
    nn.RNN: _recurrent,
    nn.LSTM: _recurrent,
    nn.GRU: _recurrent,
    nn.TransformerEncoderLayer: _transformer_encoder_layer,
    nn.Embedding: lambda m: _call("Embedding", m.num_embeddings, m.embedding_dim),
    nn.Dropout: lambda m: _call("Dropout", m.p),
    nn.Flatten: lambda m: _call("Flatten", start_dim=_unless(m.start_dim, 1), end_dim=_unless(m.end_dim, -1)),
    nn.Softmax: lambda m: _call("Softmax", dim=m.dim),
    nn.LeakyReLU: lambda m: _call("LeakyReLU", negative_slope=_unless(m.negative_slope, 0.01)),
    nn.ELU: lambda m: _call("ELU", alpha=_unless(m.alpha, 1.0)),
    nn.GELU: lambda m: _call("GELU", approximate=_unless(m.approximate, "none")),
    **{kind: _plain for kind in (nn.Identity, nn.ReLU, nn.Tanh, nn.Sigmoid, nn.SiLU)},
}
