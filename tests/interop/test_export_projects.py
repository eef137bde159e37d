"""The example projects exported, then used in a fresh Python process that never imports the studio."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from studio.cli import main
from studio.interop import InteropError
from studio.interop.export import export_project
from studio.interop.export_pytorch import class_name

from .helpers import example_project, sample, studio_model

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated:FutureWarning")

EXAMPLES = ("digits_cnn", "residual_cnn", "transformer_tokens", "sequence_lstm")

# Runs in a fresh process: loads each exported file and writes its outputs for the given inputs.
DRIVER = r'''
import importlib.util, json, sys
import torch
from safetensors.torch import load_file, save_file

jobs = json.loads(sys.argv[1])
for job in jobs:
    x = load_file(job["inputs"])["x"]
    spec = importlib.util.spec_from_file_location(job["class"], job["python"])
    source = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(source)
    model = getattr(source, job["class"])()
    source.load_studio_weights(model, job["weights"])
    outputs = {"pytorch": model.eval()(x), "torchscript": torch.jit.load(job["torchscript"])(x)}
    try:
        import onnxruntime
    except ImportError:
        pass
    else:
        session = onnxruntime.InferenceSession(job["onnx"], providers=["CPUExecutionProvider"])
        outputs["onnx"] = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    save_file({k: v.detach().contiguous() for k, v in outputs.items()}, job["outputs"])
    if job.get("demo"):
        sys.argv = [job["python"], "--demo", "--epochs", "1"]
        source.main()
assert "studio" not in sys.modules
'''


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each example exported in every format, and the fresh process's outputs for them."""
    folder = tmp_path_factory.mktemp("examples")
    jobs, projects = [], {}
    for name in EXAMPLES:
        project = example_project(name, folder)
        projects[name] = project
        files = {fmt: str(export_project(project, fmt).path) for fmt in ("pytorch", "torchscript", "onnx")}
        save_file({"x": sample(project, batch=6)}, folder / f"{name}.inputs.safetensors")
        jobs.append({"class": class_name(name), "python": files["pytorch"],
                     "torchscript": files["torchscript"], "onnx": files["onnx"],
                     "weights": str(project.weights_path("run-1")),
                     "inputs": str(folder / f"{name}.inputs.safetensors"),
                     "outputs": str(folder / f"{name}.outputs.safetensors"), "demo": name == "digits_cnn"})
    # A clean working directory and no studio on the path: the files stand on their own.
    run = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(jobs)], cwd=folder, capture_output=True,
                         text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ""})
    assert run.returncode == 0, run.stderr[-3000:]
    return folder, projects, run.stdout


@pytest.mark.parametrize("name", EXAMPLES)
def test_exports_compute_what_the_studio_computes_in_a_fresh_process(exported, name):
    folder, projects, _ = exported
    project = projects[name]
    outputs = load_file(folder / f"{name}.outputs.safetensors")
    x = load_file(folder / f"{name}.inputs.safetensors")["x"]
    with torch.no_grad():
        expected = studio_model(project)(x)
    assert (outputs["pytorch"] - expected).abs().max() <= 1e-5
    assert (outputs["torchscript"] - expected).abs().max() <= 1e-5
    if "onnx" in outputs:
        assert (outputs["onnx"] - expected).abs().max() <= 1e-4


def test_exported_python_trains_on_random_data_with_demo(exported):
    *_, stdout = exported
    assert "epoch 1/1: loss" in stdout


def test_exported_python_passes_ruff_with_default_rules(exported):
    folder, _, _ = exported
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the test extra)")
    files = [str(folder / f"{name}.py") for name in EXAMPLES]
    for options in ([], ["--select", "E,F,W,I,UP,B", "--line-length", "110"]):  # default, then ours
        result = subprocess.run([ruff, "check", "--isolated", "--no-cache", *options, *files],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout


def test_exported_python_is_readable(exported):
    folder, _, _ = exported
    source = (folder / "residual_cnn.py").read_text()
    assert "class ResidualCnn(nn.Module):" in source
    assert "\n        self.conv2d_1 = WithActivation(Padded((1, 1, 1, 1), nn.Conv2d(32, 32, (3, 3))), " \
           "nn.ReLU())\n" in source
    assert "        x_add = x_conv2d + x_conv2d_2\n" in source
    assert "class Padded(nn.Module):" in source and "class Recurrent" not in source
    assert "optimizer = torch.optim.Adam(model.parameters(), lr=0.002)" in source
    lstm = (folder / "sequence_lstm.py").read_text()
    assert "class Recurrent(nn.Module):" in lstm and "_open_forget_gates(self.lstm.rnn, 32)" in lstm


def test_safetensors_export_holds_the_run_weights_and_the_graph(tmp_path):
    project = example_project("residual_cnn", tmp_path)
    result = export_project(project, "safetensors")
    assert result.path == tmp_path / "residual_cnn.safetensors"
    assert result.weights == "of run 'run-1' (residual_cnn.run-1.safetensors)"
    exported, original = load_file(result.path), load_file(project.weights_path("run-1"))
    assert exported.keys() == original.keys()
    assert all(torch.equal(exported[k], original[k]) for k in original)
    with safe_open(result.path, "pt") as handle:
        metadata = handle.metadata()
    assert metadata["project"] == "residual_cnn" and metadata["run"] == "run-1"
    assert json.loads(metadata["graph"]) == project.graph.to_dict()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_names_that_are_python_keywords_or_module_attributes_still_export(tmp_path):
    from studio.core.graph import ModelGraph

    graph = ModelGraph()
    previous = graph.add_node("Input", params={"kind": "vector", "features": 3})
    for name in ("train", "lambda", "forward", "__x"):
        node = graph.add_node("Dense", name=name, params={"units": 3})
        graph.connect(previous.id, node.id)
        previous = node
    from .helpers import project_with_weights

    project = project_with_weights(graph, tmp_path)
    path = export_project(project, "pytorch").path  # the export checks its outputs against the studio's
    source = path.read_text()
    assert all(f"self.{name} = " in source for name in ("train_layer", "lambda_layer", "layer_x"))
    assert 'RENAMED: dict[str, str] = {"train": "train_layer", "lambda": "lambda_layer", "forward": ' \
           '"forward_layer", "__x": "layer_x"}' in source


def test_fresh_weights_when_the_project_has_no_run(tmp_path, capsys):
    shutil.copy(example_project("digits_cnn", tmp_path).path, tmp_path / "fresh.studio")
    data = json.loads((tmp_path / "fresh.studio").read_text())
    data["runs"] = []
    (tmp_path / "fresh.studio").write_text(json.dumps(data))
    assert main(["export", str(tmp_path / "fresh.studio"), "--format", "onnx"]) == 0
    out = capsys.readouterr().out
    checked = " (checked with onnxruntime)" if "checked" in out else ""
    assert out.splitlines() == [
        f"Exported digits_cnn to {tmp_path / 'fresh.onnx'}: ONNX opset 17, input 'input' with a dynamic "
        f"batch axis{checked}",
        "Weights: fresh, drawn from seed 0 (the project has no trained run)"]


def test_unknown_run_is_one_line_error(tmp_path, capsys):
    project = example_project("digits_cnn", tmp_path)
    assert main(["export", str(project.path), "--format", "torchscript", "--run", "run-9"]) == 2
    error = capsys.readouterr().err
    assert error == "model-studio: error: no run 'run-9' with trained weights (runs: run-1)\n"
    assert not (tmp_path / "digits_cnn.torchscript.pt").exists()


def test_output_into_a_missing_folder_is_refused(tmp_path):
    project = example_project("digits_cnn", tmp_path)
    with pytest.raises(InteropError, match="does not exist"):
        export_project(project, "safetensors", tmp_path / "nope" / "x.safetensors")
