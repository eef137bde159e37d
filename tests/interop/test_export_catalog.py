"""Every catalog layer through every export format, compared with the studio's own model; and layers a
format cannot express, named in the error."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from studio.core.layers import LayerSpec, all_specs, register, unregister
from studio.core.params import params
from studio.interop import InteropError
from studio.interop.export import export_project

from .helpers import CASES, VECTOR, case_graph, project_with_weights, sample, studio_model

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated:FutureWarning")

HAVE_ONNXRUNTIME = importlib.util.find_spec("onnxruntime") is not None


def test_every_layer_type_has_an_export_case():
    covered = {p.values[0][0] for p in CASES}
    assert {spec.type for spec in all_specs()} - {"Input"} <= covered


@pytest.fixture
def case_project(request, tmp_path):
    type_name, input_cfg, layer_params, branches = request.param
    return project_with_weights(case_graph(type_name, input_cfg, layer_params, branches), tmp_path)


def load_python(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("case_project", CASES, indirect=True)
def test_pytorch_source_computes_what_the_studio_computes(case_project, tmp_path):
    path = export_project(case_project, "pytorch", tmp_path / "exported_model.py").path
    module = load_python(path)
    model = module.Model()
    module.load_studio_weights(model, str(case_project.weights_path("run-1")))
    x = sample(case_project)
    with torch.no_grad():
        expected = studio_model(case_project)(x)
        assert (model.eval()(x) - expected).abs().max() <= 1e-5


@pytest.mark.parametrize("case_project", CASES, indirect=True)
def test_torchscript_computes_what_the_studio_computes(case_project, tmp_path):
    path = export_project(case_project, "torchscript").path
    assert path == tmp_path / "model.torchscript.pt"
    loaded = torch.jit.load(str(path))
    x = sample(case_project, batch=5)  # neither the traced batch size nor the checked one
    with torch.no_grad():
        assert (loaded(x) - studio_model(case_project)(x)).abs().max() <= 1e-5


@pytest.mark.parametrize("case_project", CASES, indirect=True)
def test_onnx_is_valid_and_computes_what_the_studio_computes(case_project, tmp_path):
    path = export_project(case_project, "onnx").path
    assert path == tmp_path / "model.onnx"
    onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed: exported, not checked")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert proto.opset_import[0].version == 17
    batch_axis = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_axis.dim_param == "batch"
    if not HAVE_ONNXRUNTIME:
        pytest.skip("onnxruntime is not installed: the export is checked, its outputs are not compared")
    import onnxruntime

    x = sample(case_project, batch=5)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    with torch.no_grad():
        assert (got - studio_model(case_project)(x)).abs().max() <= 1e-4


# --- layers a format cannot express -----------------------------------------------------------------

class BesselI0(nn.Module):
    """An operation ONNX opset 17 has no operator for."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.special.i0(x)


class ScaledBySum(nn.Module):
    """Reads a tensor's value into Python: a trace freezes it, so the trace computes something else."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float(x.detach().sum())


@pytest.fixture
def odd_layers():
    for name, module in (("BesselI0", BesselI0), ("ScaledBySum", ScaledBySum)):
        register(LayerSpec(type=name, category="Core", help="test layer", params=params(),
                           infer=lambda inputs, cfg: inputs[0], build=lambda inputs, cfg, m=module: m()))
    yield
    for name in ("BesselI0", "ScaledBySum"):
        unregister(name)


def odd_project(tmp_path, *layers):
    graph = case_graph("Dense", VECTOR, {"units": 4}, ((),))
    previous = next(n for n in graph.nodes.values() if n.type == "Dense")
    for type_name in layers:
        node = graph.add_node(type_name)
        graph.connect(previous.id, node.id)
        previous = node
    return project_with_weights(graph, tmp_path)


def test_onnx_names_the_layer_it_cannot_express(odd_layers, tmp_path):
    project = odd_project(tmp_path, "BesselI0", "ReLU")
    with pytest.raises(InteropError) as caught:
        export_project(project, "onnx")
    message = str(caught.value)
    assert message.startswith("cannot export to ONNX: BesselI0 'bessel_i0' (")
    assert "aten::i0" in message and "Dense" not in message and "ReLU" not in message
    assert not (tmp_path / "model.onnx").exists()


def test_torchscript_names_the_layer_whose_trace_differs(odd_layers, tmp_path):
    project = odd_project(tmp_path, "ScaledBySum")
    with pytest.raises(InteropError, match=r"cannot export to TorchScript: ScaledBySum 'scaled_by_sum' "
                                           r"\(the traced model differs"):
        export_project(project, "torchscript")


def test_pytorch_source_names_the_layer_it_has_no_code_for(odd_layers, tmp_path):
    project = odd_project(tmp_path, "BesselI0", "ScaledBySum")
    with pytest.raises(InteropError) as caught:
        export_project(project, "pytorch")
    here = BesselI0.__module__
    assert str(caught.value) == (
        f"cannot export to PyTorch: BesselI0 'bessel_i0' (no Python form for {here}.BesselI0); "
        f"ScaledBySum 'scaled_by_sum' (no Python form for {here}.ScaledBySum)")

