"""Does a dataset fit a model's Input? If not, say what differs and how to fix it, either way round."""

from __future__ import annotations

from collections.abc import Sequence

from studio.data.base import DatasetInfo
from studio.data.registry import all_dataset_specs


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
