"""Does a dataset fit a model's Input, and do its targets fit the model's output? If not, say what
differs and how to fix it, either way round."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from studio.data.base import DatasetInfo
from studio.data.registry import all_dataset_specs

if TYPE_CHECKING:
    from studio.core.graph import ModelGraph
    from studio.core.shapes import TensorShape

# Regression targets that are whole numbers with at most this many values may well be class labels.
MAX_CLASS_HINT = 1000


def check_input_shape(info: DatasetInfo, model_input_shape: Sequence[int | None], *,
                      model_vocab_size: int | None = None) -> str | None:
    """None when samples of `info` fit an Input of `model_input_shape` (None dims fit anything),
    else a message naming what differs and offering the fix."""
    data = tuple(info.input_shape)
    model = tuple(model_input_shape)
    same_rank = len(data) == len(model)
    shapes_fit = same_rank and all(m is None or m == d for d, m in zip(data, model, strict=True))
    if shapes_fit:
        too_few_ids = model_vocab_size is not None and model_vocab_size < (info.vocab_size or 0)
        if too_few_ids:
            return (f"the dataset's token ids go up to {info.vocab_size - 1} but the model's Input has a "
                    f"vocab size of {model_vocab_size}: set the Input's vocab size to {info.vocab_size}")
        return None
    model_kind = _model_kind(model, model_vocab_size)
    message = (f"the dataset gives {_describe(info.input_kind, data)} but the model's Input expects "
               f"{_describe(model_kind, model) if len(model) in (1, 2, 3) else _dims(model)}: "
               f"set the Input to {_input_fix(info, same_kind=same_rank)}")
    alternative = _dataset_fix(info, model)
    if alternative:
        message += f", or set the dataset's {alternative}"
    if len(data) == 3 and len(model) == 1:
        message += " (and put a Flatten layer after it)"
    return message


def _dims(shape: Sequence[int | None]) -> str:
    return "x".join("?" if d is None else str(d) for d in shape)


def _describe(kind: str, shape: Sequence[int | None]) -> str:
    """Samples of an Input `kind` and `shape` in words, e.g. 'sequences of 50 steps x 4 features'."""
    if kind == "image":
        return f"images {_dims(shape)}"
    if kind == "vector":
        return f"vectors of {_count(shape[0], 'feature')}"
    if kind == "sequence":
        return f"sequences of {_count(shape[0], 'step')} x {_count(shape[1], 'feature')}"
    return f"sequences of {_count(shape[0], 'token id')}"


def _count(n: int | None, noun: str) -> str:
    return f"{_dims([n])} {noun}" + ("" if n == 1 else "s")


def _model_kind(shape: tuple[int | None, ...], vocab_size: int | None) -> str:
    if len(shape) == 3:
        return "image"
    if len(shape) == 2:
        return "sequence"
    return "tokens" if vocab_size is not None else "vector"


def _input_fix(info: DatasetInfo, *, same_kind: bool) -> str:
    settings = info.input_layer_settings()
    kind = settings.pop("kind")
    words = [f"{name.replace('_', ' ')} {value}" for name, value in settings.items()]
    return ", ".join(words if same_kind else [f"kind {kind}", *words])


def _dataset_fix(info: DatasetInfo, model: tuple[int | None, ...]) -> str:
    """What to change in the dataset's own settings to fit the model, where its settings allow it."""
    spec = next((s for s in all_dataset_specs() if s.name == info.name), None)
    if spec is None or len(model) != len(info.input_shape):
        return ""
    names = set(spec.settings.names())
    data = info.input_shape
    if info.input_kind == "image" and "image_size" in names and None not in model:
        changes = []
        if model[1:] != data[1:]:
            changes.append(f"image size to {model[1]}x{model[2]}")
        if model[0] != data[0]:
            if "channels" not in names or model[0] not in (1, 3):
                return ""
            changes.append(f"channels to {model[0]}")
        return " and ".join(changes)
    if info.input_kind in ("sequence", "tokens") and "steps" in names and model[0] is not None \
            and model[1:] == data[1:]:
        return f"steps to {model[0]}"
    return ""


def check_model_outputs(info: DatasetInfo, graph: ModelGraph) -> str | None:
    """`check_outputs` for the output node of `graph`; None when the graph has no inferred output."""
    from studio.core.inference import analyse, output_activation

    analysis = analyse(graph)
    shape = analysis.nodes[analysis.output_id].shape if analysis.output_id is not None else None
    if shape is None:
        return None
    return check_outputs(info, shape, output_activation(graph, analysis))


def check_outputs(info: DatasetInfo, output: TensorShape | Sequence[int] | int,
                  activation: str | None) -> str | None:
    """None when the model's output fits the targets of `info`, else a message naming what differs and
    offering the fix.

    `output` is the model's output shape per sample (a TensorShape, its dims, or a unit count);
    `activation` the function it ends in: "sigmoid", "softmax" or None.
    """
    dims = (output,) if isinstance(output, int) else tuple(getattr(output, "dims", output))
    if len(dims) != 1:
        units = info.num_outputs if info.task == "regression" else len(info.class_names)
        return (f"the model's output is {_dims(dims)} per sample, but the dataset needs one row of {units} "
                f"values: end the model in a Flatten and a Dense of {units} units")
    if info.task == "classification":
        return _check_classifier(info, dims[0], activation)
    return _check_regression(info, dims[0], activation)


def _check_classifier(info: DatasetInfo, units: int, activation: str | None) -> str | None:
    classes = len(info.class_names)
    if units == 1 and classes == 2 and activation != "softmax":
        return None  # one probability (or logit) of the second class
    if units == classes and activation != "sigmoid":
        return None
    held = _holding(info, f"{classes} classes ({_class_list(info.class_names)})")
    ends = _ending(units, activation)
    if units == 1 and activation == "softmax":
        return (f"{held} but the model ends in {ends}, which always gives 1: end in 1 unit with sigmoid, "
                f"or in a Dense of {classes} units with softmax")
    if units == classes:  # sigmoid on several units: not one probability per class
        return f"{held} but the model ends in {ends}: end in softmax instead, one probability per class"
    fix = f"{held} but the model ends in {ends}: end in a Dense of {classes} units with softmax"
    if units == 1 and _numeric(info.class_names) and _has_setting(info, "task"):
        fix += ", or set the dataset's task to regression"
    return fix


def _check_regression(info: DatasetInfo, units: int, activation: str | None) -> str | None:
    values = info.num_outputs
    span = info.target_range
    ends = _ending(units, activation)
    may_be_classes = span is not None and span.whole and 2 < span.distinct <= MAX_CLASS_HINT
    as_classes = ""
    if may_be_classes and _has_setting(info, "task"):
        as_classes = (f"; if they are classes, set the dataset's task to classification and end in a Dense "
                      f"of {span.distinct} units with softmax")
    if units != values:
        per_sample = f"{values} value{'s' if values != 1 else ''}"
        return (f"{_holding(info, per_sample + ' to predict per sample')} but the model ends in {ends}: end "
                f"in a Dense of {values} unit{'s' if values != 1 else ''} without activation{as_classes}")
    if activation == "softmax":
        return (f"{_holding(info, 'values to predict')} but the model ends in {ends}, which makes its "
                f"outputs sum to 1: remove the softmax{as_classes}")
    if activation == "sigmoid" and span is not None and (span.low < 0 or span.high > 1):
        if may_be_classes:
            held = _holding(info, f"{span.distinct} whole numbers ({span.low:g}..{span.high:g}), taken as "
                                  "values to predict,")
        else:
            held = _holding(info, f"values from {span.low:g} to {span.high:g}")
        return (f"{held} but the model ends in {ends}, which gives only values between 0 and 1: to predict "
                f"the values, remove the sigmoid (or scale the target to 0..1){as_classes}")
    return None


def _holding(info: DatasetInfo, what: str) -> str:
    """'the target column 'y' holds ...', naming the column or target where the dataset knows it."""
    if info.target_column:
        return f"the target column '{info.target_column}' holds {what}"
    if len(info.target_names) == 1:
        return f"the target '{info.target_names[0]}' holds {what}"
    return f"the dataset has {what}"


def _ending(units: int, activation: str | None) -> str:
    return f"{units} unit{'' if units == 1 else 's'}" + (f" with {activation}" if activation else "")


def _class_list(names: Sequence[str]) -> str:
    if _numeric(names) and len(names) > 3:
        return f"{names[0]}..{names[-1]}"
    return ", ".join(names) if len(names) <= 4 else f"{names[0]}, {names[1]}, ..., {names[-1]}"


def _numeric(names: Sequence[str]) -> bool:
    try:
        [float(name) for name in names]
    except ValueError:
        return False
    return True


def _has_setting(info: DatasetInfo, name: str) -> bool:
    spec = next((s for s in all_dataset_specs() if s.name == info.name), None)
    return spec is not None and name in set(spec.settings.names())
