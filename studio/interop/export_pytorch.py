"""PyTorch export: one readable Python file with the model as an `nn.Module` and a small training script.

Each layer is an attribute named after its node and built by the same constructor calls the studio
uses (see `codegen`), so the studio's weights load into it by name. `forward` follows the graph with
one variable per layer; Add and Concat are plain torch operations.

The project's text (name, description) and the file's own name appear only in the docstring, quoted by
`codegen.docstring_text`; layer and class names only as validated identifiers. The file is checked
before it is written: first that it is exactly the code the exporter writes (`check_source`), and only
then that its model, given the studio's weights, computes what the studio computes.
"""

from __future__ import annotations

import builtins
import inspect
import itertools
import keyword
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import torch
from torch import nn

from studio.core import modules as studio_modules
from studio.core.atomic import write_atomic
from studio.core.build import build_model
from studio.core.catalog.recurrent import _open_forget_gates
from studio.core.graph import ModelGraph
from studio.core.inference import GraphAnalysis, analyse
from studio.core.modules import feature_dim
from studio.core.project import Project
from studio.core.shapes import TensorShape
from studio.interop.checks import CHECK_BATCH, assert_close, example_input
from studio.interop.codegen import (
    NEUTRAL,
    Renderer,
    Unrenderable,
    docstring_text,
    helper_imports,
    identifier,
    literal,
    py_string,
    same_code,
)
from studio.interop.common import ExportModel, InteropError

FORMAT = "PyTorch"
_WIDTH = 100  # longest line the generated file aims for
_MERGES = ("Add", "Concat")
_CLASS_LENGTH = 64  # a longer project name still makes a class name of a readable length
# Names the model class must not take: builtins, and the capitalised names the file defines itself
# (its constants, the torch functional module and the helper classes it may copy).
_TAKEN = (frozenset(dir(builtins))
          | {"F", "INPUT_SHAPE", "VOCAB_SIZE", "OUTPUTS", "EPOCHS", "BATCH_SIZE", "SEED", "RENAMED"}
          | {name for name, value in vars(studio_modules).items() if isinstance(value, type)})


def export_pytorch(project: Project, model: ExportModel, path: Path) -> str:
    plan = _plan(project, path.stem, model.weights_file)
    source = _render(plan, plan.names).encode("utf-8")
    check_source(source, plan, model)
    write_atomic(path, source)
    return (f"PyTorch source with the model class {plan.names.cls}, which loads the studio's "
            "weights with load_studio_weights(model, PATH), and a training script (try --demo)")


def class_name(project_name: str) -> str:
    """The project's name in CamelCase: 'cats_vs_dogs' -> 'CatsVsDogs'; never a keyword, a builtin or a
    name the exported file defines itself."""
    words = re.findall(r"[A-Za-z0-9]+", project_name)
    name = "".join(w[:1].upper() + w[1:] for w in words)[:_CLASS_LENGTH]
    if not name or name[0].isdigit():
        name = "Model" + name
    if keyword.iskeyword(name) or name in _TAKEN:
        name += "Model"
    return identifier(name, "the model class")


def attribute_names(names: list[str]) -> dict[str, str]:
    """Node name -> attribute name; names that are Python keywords, `nn.Module` attributes ('train',
    'forward') or mangled by Python ('__x') get a suffix."""
    taken = set(names)
    plain = nn.Module()
    out = {}
    for name in names:
        if keyword.iskeyword(name) or hasattr(plain, name) or name.startswith("__"):
            base = f"layer_{name.strip('_')}" if name.startswith("__") else f"{name}_layer"
            candidate, i = base, 1
            while candidate in taken:
                candidate, i = f"{base}_{i}", i + 1
            taken.add(candidate)
            out[name] = candidate
        else:
            out[name] = name
    return out


@dataclass(frozen=True)
class _Names:
    """All the file takes from the project and from its own name: identifiers, each validated by a full
    match, and texts, each quoted as a literal."""

    cls: str
    attributes: dict[str, str]  # layer node id -> the model's attribute holding the layer
    variables: dict[str, str]  # node id -> `forward`'s variable holding the node's output
    renamed: dict[str, str]  # node id -> its layer name, for layers whose attribute is another name
    texts: dict[str, str]  # template field -> text

    def neutral(self) -> tuple[_Names, dict[str, str]]:
        """The same names as placeholders, and the identifier each placeholder identifier stands for."""
        count = itertools.count()
        identifiers: dict[str, str] = {}

        def placeholder(real: str | None = None) -> str:
            name = f"{NEUTRAL}{next(count)}"
            if real is not None:
                identifiers[name] = real
            return name

        neutral = _Names(placeholder(self.cls),
                         {n: placeholder(a) for n, a in self.attributes.items()},
                         {n: placeholder(v) for n, v in self.variables.items()},
                         {n: placeholder() for n in self.renamed},
                         {k: placeholder() for k in self.texts})
        return neutral, identifiers


@dataclass(frozen=True)
class _Plan:
    """The model the file is generated for, worked out once; `_render` writes it with some `_Names`."""

    graph: ModelGraph
    analysis: GraphAnalysis
    module: nn.Module
    activation: str | None
    layers: list[str]  # node ids in `forward`'s order
    input_shape: TensorShape
    output_shape: TensorShape
    result: str  # node id whose variable `forward` returns (before the final activation)
    training: dict[str, Any]
    names: _Names


def pytorch_source(project: Project, file_stem: str | None = None, weights_file: str | None = None) -> str:
    """The Python file for the project's model; `file_stem` is its name without '.py', `weights_file`
    the studio weights its docstring shows loading."""
    plan = _plan(project, file_stem, weights_file)
    return _render(plan, plan.names)


def _plan(project: Project, file_stem: str | None, weights_file: str | None) -> _Plan:
    graph = project.graph
    analysis = analyse(graph)
    if not analysis.ok:
        raise InteropError("the model has problems: " + "; ".join(p.message for p in analysis.problems))
    module = build_model(graph, logits=True)  # the final sigmoid/softmax becomes `forward`'s last step
    activation = module.output_activation
    input_shape = analysis.nodes[analysis.input_id].shape  # type: ignore[index]
    output_node = graph.nodes[analysis.output_id]  # type: ignore[index]
    output_shape = analysis.nodes[output_node.id].shape
    assert input_shape is not None and output_shape is not None
    # A final Sigmoid/Softmax layer is only `forward`'s last step, not a layer of its own.
    skipped = output_node.id if activation and output_node.spec.category == "Activation" else None
    layers = [nid for nid in analysis.order if nid != skipped]
    result = graph.inputs_of(skipped)[0] if skipped else layers[-1]
    stem = file_stem or (project.path.stem if project.path else project.name)
    texts = {"name": project.name, "description": project.description, "stem": stem,
             "weights_file": weights_file or f"{stem}.RUN.safetensors"}
    return _Plan(graph, analysis, module, activation, layers, input_shape, output_shape, result,
                 project.training, _names(graph, layers, class_name(project.name), texts))


def _names(graph: ModelGraph, layers: list[str], cls: str, texts: dict[str, str]) -> _Names:
    with_attribute = [n for n in layers if graph.nodes[n].type not in ("Input", *_MERGES)]
    chosen = attribute_names([graph.nodes[n].name for n in with_attribute])
    attributes = {n: identifier(chosen[graph.nodes[n].name], f"layer '{graph.nodes[n].name}'")
                  for n in with_attribute}
    variables = {n: identifier(f"x_{graph.nodes[n].name}", f"layer '{graph.nodes[n].name}'")
                 for n in layers}
    renamed = {n: graph.nodes[n].name for n, a in attributes.items() if graph.nodes[n].name != a}
    return _Names(cls, attributes, variables, renamed, texts)


def _render(plan: _Plan, names: _Names) -> str:
    """The file's source. Text from `names` goes in only through `docstring_text` and `py_string`,
    identifiers only as they are (each one validated)."""
    init_lines, helpers = _constructors(plan.graph, plan.module, names.attributes)
    needs = helper_imports(helpers)
    tokens = plan.input_shape.is_tokens
    texts = names.texts
    values = {
        "name": docstring_text(texts["name"]),
        "stem": docstring_text(texts["stem"]),
        "weights_file": docstring_text(texts["weights_file"]),
        "description": _docstring_paragraphs(texts["description"]),
        "renamed": "{" + ", ".join(f"{py_string(layer)}: {py_string(names.attributes[n])}"
                                   for n, layer in names.renamed.items()) + "}",
        "cls": names.cls,
        "stdlib_imports": "import argparse\nimport math" if "math" in needs else "import argparse",
        "functional_import": "from torch.nn import functional as F\n" if "F" in needs else "",
        "input_shape": literal(plan.input_shape.dims),
        "input_text": _shape_text(plan.input_shape.dims),
        "output_text": _shape_text(plan.output_shape.dims),
        "vocab": f"VOCAB_SIZE = {plan.input_shape.vocab}  # token ids run from 0 to VOCAB_SIZE - 1\n"
        if tokens else "",
        "random_x": "torch.randint(0, VOCAB_SIZE, (samples, *INPUT_SHAPE))" if tokens
        else "torch.randn(samples, *INPUT_SHAPE)",
        "input_kind": "integer token ids (int64)" if tokens else "a float tensor",
        "helpers": "".join(f"\n\n{h.rstrip()}\n" for h in helpers),
        "init": _indent(init_lines, 8),
        "forward_signature": f"{names.variables[plan.analysis.input_id]}: torch.Tensor"  # type: ignore[index]
        + (", logits: bool = False" if plan.activation else ""),
        "forward": _indent(_forward(plan, names), 8),
        "forward_doc": _forward_doc(plan.activation),
        "result": _result(names.variables[plan.result], plan.activation, plan.output_shape.rank),
        **_training(plan.training, plan.activation, plan.output_shape.dims),
    }
    return Template(_FILE).substitute(values)


def _constructors(graph: ModelGraph, module: nn.Module,
                  attributes: dict[str, str]) -> tuple[list[str], list[str]]:
    """`__init__`'s lines, and the source of the helper code they use; InteropError naming the layers
    that have no Python form."""
    renderer = Renderer()
    lines, failing = [], []
    lstm = False
    for node_id, attribute in attributes.items():
        node = graph.nodes[node_id]
        try:
            lines.append(_assignment(f"self.{attribute}", renderer.render(module.layers[node.name]), 8))
        except Unrenderable as exc:
            failing.append(f"{node.type} '{node.name}' ({exc})")
        if node.type == "LSTM":  # built with its forget gates open, as the studio builds it
            lines.append(f"_open_forget_gates(self.{attribute}.rnn, {int(node.params['units'])})")
            lstm = True
    if failing:
        raise InteropError(f"cannot export to {FORMAT}: " + "; ".join(failing))
    helpers = renderer.helper_sources() + ([inspect.getsource(_open_forget_gates)] if lstm else [])
    return lines, helpers


def _forward(plan: _Plan, names: _Names) -> list[str]:
    """`forward`'s lines, one variable per layer."""
    graph, lines = plan.graph, []
    for nid in plan.layers:
        node = graph.nodes[nid]
        if node.type == "Input":
            continue
        sources = [names.variables[s] for s in graph.inputs_of(nid)]
        if node.type == "Add":
            expression = " + ".join(sources)
        elif node.type == "Concat":
            rank = plan.analysis.nodes[graph.inputs_of(nid)[0]].shape.rank  # type: ignore[union-attr]
            expression = f"torch.cat([{', '.join(sources)}], dim={feature_dim(rank)})"
        else:
            expression = f"self.{names.attributes[nid]}({', '.join(sources)})"
        lines.append(f"{names.variables[nid]} = {expression}")
    return lines


def check_source(source: bytes, plan: _Plan, model: ExportModel) -> None:
    """Run the generated file's model with the studio's weights and compare it with the studio's model.

    Before anything runs, the file is shown to be code the exporter itself writes: `same_code` compares
    it with the file generated from the same model with placeholders for all the project's text and
    names, so a text that a mistake let into the code is refused here instead of run."""
    neutral, identifiers = plan.names.neutral()
    tree = same_code(source, _render(plan, neutral).encode("utf-8"), identifiers, FORMAT)
    namespace: dict[str, Any] = {"__name__": "exported_model"}
    exec(compile(tree, "<exported PyTorch model>", "exec"), namespace)  # proved to be our own code above
    exported = namespace[plan.names.cls]()
    namespace["load_state"](exported, model.module.state_dict())
    exported.eval()
    x = example_input(model.input_shape, CHECK_BATCH, seed=1)
    with torch.no_grad():
        assert_close(exported(x), model.module(x), "the exported PyTorch model", atol=1e-5)


def _training(settings: dict[str, Any], activation: str | None,
              output_dims: tuple[int, ...]) -> dict[str, str]:
    loss = settings["loss"]
    outputs = output_dims[-1] if len(output_dims) != 3 else output_dims[0]
    note = ""
    if loss == "auto":
        if activation == "sigmoid" and outputs == 1:
            loss = "binary_cross_entropy"
        elif activation == "softmax":
            loss = "cross_entropy"
        else:
            loss = "mse"
            note = ("    # The project's loss is 'auto' and the model ends without sigmoid or softmax: mean\n"
                    "    # squared error, as for regression. For class scores use nn.CrossEntropyLoss().\n")
    if loss == "binary_cross_entropy":
        fused = activation == "sigmoid"
        loss_fn = "nn.BCEWithLogitsLoss()" if fused else "nn.BCELoss()"
        target = "0/1 labels as a float tensor of shape (N, 1)"
        random_y = "torch.randint(0, 2, (samples, 1)).float()"
    elif loss == "cross_entropy":
        fused = activation == "softmax"
        loss_fn = "nn.CrossEntropyLoss()"
        target = f"class ids 0 to {outputs - 1} as an int64 tensor of shape (N,)"
        random_y = "torch.randint(0, OUTPUTS, (samples,))"
    else:
        fused = False
        loss_fn = {"mse": "nn.MSELoss()", "mae": "nn.L1Loss()", "huber": "nn.HuberLoss()"}[loss]
        target = f"float targets of shape {_shape_text(output_dims)}"
        random_y = f"torch.randn(samples, {', '.join(map(str, output_dims))})"
    extra = [f"{key} {settings[key]}" for key, default in (("schedule", "none"), ("early_stopping", 0),
                                                          ("grad_clip", 0.0)) if settings[key] != default]
    return {
        "optimizer": _optimizer(settings),
        "loss_fn": loss_fn,
        "loss_note": note,
        "call": "model(x[batch], logits=True)" if fused else "model(x[batch])",
        "target_text": target,
        "random_y": random_y,
        "outputs": str(outputs),
        "epochs": str(settings["epochs"]),
        "batch_size": str(settings["batch_size"]),
        "seed": str(settings["seed"]),
        "not_reproduced": f"\nNot reproduced here: the project's {docstring_text(', '.join(extra))}.\n"
        if extra else "",
    }


def _optimizer(settings: dict[str, Any]) -> str:
    name = settings["optimizer"]
    options = [f"lr={settings['learning_rate']!r}"]
    if name in ("sgd", "rmsprop") and settings["momentum"]:
        options.append(f"momentum={settings['momentum']!r}")
    if name == "sgd" and settings["nesterov"]:
        options.append("nesterov=True")
    if settings["weight_decay"]:
        options.append(f"weight_decay={settings['weight_decay']!r}")
    cls = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}[name]
    return f"torch.optim.{cls}(model.parameters(), {', '.join(options)})"


def _result(variable: str, activation: str | None, rank: int) -> str:
    if activation is None:
        return f"        return {variable}"
    if activation == "sigmoid":
        squashed = f"torch.sigmoid({variable})"
    else:
        squashed = f"torch.softmax({variable}, dim={feature_dim(rank)})"
    return f"        if logits:\n            return {variable}\n        return {squashed}"


def _forward_doc(activation: str | None) -> str:
    if activation is None:
        return ""
    return (f"\n\n        With logits=True, the scores before the final {activation} (what the training "
            "loss takes).\n        ")


def _shape_text(dims: tuple[int, ...]) -> str:
    return "(" + ", ".join(["N", *map(str, dims)]) + ")"


def _docstring_paragraphs(text: str) -> str:
    """The description's paragraphs, wrapped, every line made safe by `docstring_text`."""
    paragraphs = [textwrap.wrap(p, _WIDTH) for p in text.split("\n\n")]
    return "".join("\n" + "".join(docstring_text(line) + "\n" for line in lines)
                   for lines in paragraphs if lines)


def _assignment(target: str, expression: str, spaces: int) -> str:
    """`target = expression`, with a long call's arguments moved to a line of their own."""
    line = f"{target} = {expression}"
    if spaces + len(line) <= _WIDTH or not expression.endswith(")") or "(" not in expression:
        return line
    head, args = expression.split("(", 1)
    return f"{target} = {head}(\n{' ' * (spaces + 4)}{args[:-1]}\n{' ' * spaces})"


def _indent(lines: list[str], spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in lines)


_FILE = '''"""$name: a PyTorch model exported from Model Studio.
$description
    model = $cls()
    load_studio_weights(model, "$weights_file")  # weights trained in the studio
    outputs = model(x)  # x: $input_kind of shape $input_text -> $output_text

Train it on your own tensors with train(model, x, y): x is $input_kind of shape $input_text,
y holds $target_text. From the command line:

    python $stem.py --data DATA.safetensors  # a file with tensors "x" and "y"
    python $stem.py --demo                   # random data of the right shapes
$not_reproduced"""

$stdlib_imports

import torch
from torch import nn
$functional_import
INPUT_SHAPE = $input_shape  # one sample, without the batch axis
${vocab}OUTPUTS = $outputs
EPOCHS = $epochs
BATCH_SIZE = $batch_size
SEED = $seed
$helpers

class $cls(nn.Module):
    def __init__(self) -> None:
        super().__init__()
$init

    def forward(self, $forward_signature) -> torch.Tensor:
        """Outputs for a batch of shape $input_text.$forward_doc"""
$forward
$result


# Layers renamed here because their names are Python keywords or nn.Module attributes.
RENAMED: dict[str, str] = $renamed


def layer_key(key: str) -> str:
    """Model Studio names weights "layers.<layer>.<...>"; here each layer is an attribute of the model."""
    layer, rest = key.removeprefix("layers.").split(".", 1)
    return f"{RENAMED.get(layer, layer)}.{rest}"


def studio_key(key: str) -> str:
    """The inverse of layer_key."""
    attribute, rest = key.split(".", 1)
    layer = next((k for k, v in RENAMED.items() if v == attribute), attribute)
    return f"layers.{layer}.{rest}"


def load_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Loads weights named as Model Studio names them."""
    model.load_state_dict({layer_key(k): v for k, v in state.items()})


def load_studio_weights(model: nn.Module, path: str) -> None:
    """Loads a Model Studio weights file (NAME.RUN.safetensors)."""
    from safetensors.torch import load_file

    load_state(model, load_file(path))


def save_studio_weights(model: nn.Module, path: str) -> None:
    """Writes the weights as Model Studio names them."""
    from safetensors.torch import save_file

    save_file({studio_key(k): v.contiguous() for k, v in model.state_dict().items()}, path)


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int = EPOCHS,
          batch_size: int = BATCH_SIZE) -> list[float]:
    """Trains with the project's optimizer and loss; returns the mean loss of each epoch.

    x: $input_kind of shape $input_text; y: $target_text.
    """
    optimizer = $optimizer
$loss_note    loss_fn = $loss_fn
    losses = []
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn($call, y[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(x))
        print(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}")
    model.eval()
    return losses


def random_data(samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random inputs and targets of the right shapes, to try the training loop."""
    return $random_x, $random_y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help='a .safetensors file with tensors "x" (inputs) and "y" (targets)')
    parser.add_argument("--demo", action="store_true", help="train on random data of the right shapes")
    parser.add_argument("--weights", help="start from a Model Studio weights file")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--save", help="write the trained weights to this .safetensors file")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    model = $cls()
    if args.weights:
        load_studio_weights(model, args.weights)
    if args.demo:
        x, y = random_data(4 * BATCH_SIZE)
    elif args.data:
        from safetensors.torch import load_file

        tensors = load_file(args.data)
        x, y = tensors["x"], tensors["y"]
    else:
        parser.error("give --data FILE or --demo")
    train(model, x, y, epochs=args.epochs)
    if args.save:
        save_studio_weights(model, args.save)


if __name__ == "__main__":
    main()
'''
