"""Running an exporter and, when it fails, finding the layers the format cannot express."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from studio.core.project import Project
from studio.core.shapes import TensorShape
from studio.interop.common import ExportModel, InteropError

# convert(module, example inputs, check inputs): exports `module` traced on the example inputs and
# raises when that fails or when the result differs from the module on the check inputs.
Inputs = tuple[torch.Tensor, ...]
Convert = Callable[[nn.Module, Inputs, Inputs], None]

EXAMPLE_BATCH = 2
CHECK_BATCH = 3  # a different batch size, so that a batch size frozen into an export shows up


def example_input(shape: TensorShape, batch: int, seed: int = 0) -> torch.Tensor:
    """A batch of random samples of `shape` (token ids for token inputs)."""
    generator = torch.Generator().manual_seed(seed)
    if shape.is_tokens:
        return torch.randint(0, shape.vocab or 1, (batch, *shape.dims), generator=generator)
    return torch.randn(batch, *shape.dims, generator=generator)


@contextmanager
def quiet_torch_warnings() -> Iterator[None]:
    """Silences torch's deprecation notices and tracer warnings while exporting: every export is
    checked against the model on a second batch instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        yield


def assert_close(got: torch.Tensor, expected: torch.Tensor, what: str, atol: float = 1e-4) -> None:
    if got.shape != expected.shape:
        raise InteropError(f"{what} gives outputs of shape {tuple(got.shape)} instead of "
                           f"{tuple(expected.shape)}")
    difference = (got - expected).abs().max().item() if got.numel() else 0.0
    if not difference <= atol:
        raise InteropError(f"{what} differs from the model by up to {difference:.3g}")


def export_or_explain(model: ExportModel, project: Project, format_name: str, convert: Convert) -> None:
    """Run `convert` on the whole model; when it fails, try every layer on its own and raise
    InteropError naming those the format cannot express (or giving the whole model's reason)."""
    example = (example_input(model.input_shape, EXAMPLE_BATCH),)
    check = (example_input(model.input_shape, CHECK_BATCH, seed=1),)
    try:
        with quiet_torch_warnings():
            convert(model.module, example, check)
        return
    except Exception as exc:  # exporters fail in many ways; the per-layer pass says where
        reason = _first_line(exc)
    failing = failing_layers(model, project, convert)
    if failing:
        raise InteropError(f"cannot export to {format_name}: " + "; ".join(failing)) from None
    raise InteropError(f"cannot export to {format_name}: {reason}") from None


def failing_layers(model: ExportModel, project: Project, convert: Convert) -> list[str]:
    """Every layer that `convert` fails on when it is exported alone, as "Type 'name' (reason)"."""
    module = model.module
    names = [n for n in module.node_names if n != module.input_name]
    values = {}
    for batch, seed in ((EXAMPLE_BATCH, 0), (CHECK_BATCH, 1)):
        x = example_input(model.input_shape, batch, seed)
        with torch.no_grad():
            values[batch] = {module.input_name: x, **module.features(x, names)}
    failing = []
    for name in names:
        node = project.graph.node_by_name(name)
        assert node is not None, name
        sources = [project.graph.nodes[s].name for s in project.graph.inputs_of(node.id)]
        example = tuple(values[EXAMPLE_BATCH][s] for s in sources)
        check = tuple(values[CHECK_BATCH][s] for s in sources)
        try:
            with quiet_torch_warnings():
                convert(Alone(module.layers[name]), example, check)
        except Exception as exc:  # any failure marks the layer
            failing.append(f"{node.type} '{name}' ({_first_line(exc)})")
    return failing


class Alone(nn.Module):
    """One layer as a model of its own, so that an exporter can be tried on it."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.layer(*xs)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."
