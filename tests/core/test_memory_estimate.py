"""The training-memory estimate: close to what torch really allocates for small models, and a model
too big for the machine refused with one line, fast, without allocating it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from studio.cli import main
from studio.core import memory_estimate
from studio.core.build import build_model
from studio.core.inference import analyse
from studio.core.memory_estimate import (
    ModelTooBig,
    check_fits,
    estimate_training,
    optimizer_slots,
    out_of_memory_as_error,
)
from studio.core.summary import summarize
from studio.core.training_settings import TRAINING_PARAMS
from tests.core.builders import by_name, chain, mlp, seed_cnn

PROJECTS = Path(__file__).resolve().parents[2] / "projects"
GB = 1024**3


def _huge_dense():
    """Two Dense layers of a million units: the second holds 10^12 weights (about 3.6 TB)."""
    return chain([("Input", {"kind": "vector", "features": 2}),
                  ("Dense", {"units": 1_000_000}), ("Dense", {"units": 1_000_000}), ("Dense", {"units": 1})])


def _huge_lstm():
    """An LSTM of 32,000 units: about 4.1 billion weights (16 GB), 4 times as much to train with Adam."""
    return chain([("Input", {"kind": "sequence", "features": 5, "length": 30}),
                  ("LSTM", {"units": 32_000}), ("Dense", {"units": 4})])


@pytest.fixture
def machine(monkeypatch):
    """A machine with 16 GB of memory, 15 GB of it free, whatever this one has."""
    monkeypatch.setattr(memory_estimate, "total_memory", lambda: 16 * GB)
    monkeypatch.setattr(memory_estimate, "available_memory", lambda: 15 * GB)


def _bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


@pytest.mark.parametrize("graph", [seed_cnn(), mlp(), mlp(hidden=64)], ids=["seed cnn", "mlp", "wider mlp"])
def test_parameters_and_gradients_match_what_torch_allocates(graph):
    model = build_model(graph)
    estimate = estimate_training(graph, {"batch_size": 2})
    assert estimate.parameters == _bytes(model.parameters()) + _bytes(model.buffers())
    x = torch.randn(2, *analyse(graph).nodes[analyse(graph).input_id].shape.dims)
    model(x).sum().backward()
    assert estimate.gradients == _bytes(p.grad for p in model.parameters())


@pytest.mark.parametrize("optimizer, momentum, slots", [("adam", 0.9, 2), ("adamw", 0.0, 2), ("sgd", 0.9, 1),
                                                        ("sgd", 0.0, 0), ("rmsprop", 0.0, 1),
                                                        ("rmsprop", 0.9, 2)])
def test_optimizer_state_matches_a_real_step(optimizer, momentum, slots):
    from studio.train.optim import build_optimizer

    graph = mlp(hidden=32)
    settings = TRAINING_PARAMS.validate({"optimizer": optimizer, "momentum": momentum})
    assert optimizer_slots(settings) == slots
    model = build_model(graph)
    step = build_optimizer(model.parameters(), settings)
    model(torch.randn(4, 4)).sum().backward()
    step.step()
    real = _bytes(t for state in step.state.values() for t in state.values()
                  if isinstance(t, torch.Tensor) and t.dim() > 0)
    assert estimate_training(graph, settings).optimizer == real


def test_activations_are_within_a_factor_of_what_the_backward_pass_keeps():
    graph = seed_cnn()
    model = build_model(graph)
    weights = {p.data_ptr() for p in model.parameters()}
    kept: list[int] = []

    def pack(t):
        if t.data_ptr() not in weights:
            kept.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(torch.randn(3, 3, 150, 150))
    estimate = estimate_training(graph, {"batch_size": 3}).activations
    assert 0.5 <= sum(kept) / estimate <= 2


@pytest.mark.timeout(30)
@pytest.mark.parametrize("graph", [_huge_dense(), _huge_lstm()], ids=["dense", "lstm"])
def test_a_model_too_big_is_refused_with_the_estimate(machine, graph):
    with pytest.raises(ModelTooBig) as caught:
        check_fits(graph, {"optimizer": "adam", "batch_size": 32}, "cpu")
    message = str(caught.value)
    assert message.startswith("the model needs about ") and "\n" not in message
    for part in ("parameters", "gradients", "optimizer state", "activations", "weight copies"):
        assert part in message
    assert message.endswith("to train but this machine has 15.00 GB available; make layers smaller or the "
                            "batch smaller")


def test_the_lstm_needs_about_four_times_its_weights_with_adam(machine):
    estimate = estimate_training(_huge_lstm(), {"optimizer": "adam", "batch_size": 32})
    weights = 4 * 32_000 * (5 + 32_000 + 2) * 4
    assert estimate.parameters == pytest.approx(weights, rel=1e-3)
    training = estimate.parameters + estimate.gradients + estimate.optimizer
    assert training == pytest.approx(4 * weights, rel=1e-3)


def test_a_model_that_fits_passes(machine):
    check_fits(seed_cnn(), {"batch_size": 20}, "cpu")


def test_a_gpu_run_is_measured_against_the_gpus_free_memory(machine, monkeypatch):
    monkeypatch.setattr(memory_estimate, "cuda_free_memory", lambda index: 1024**2)
    with pytest.raises(ModelTooBig, match=r"to train but the GPU cuda:1 has 1.00 MB free"):
        check_fits(seed_cnn(), {"batch_size": 20}, "cuda:1")


def test_the_allocator_giving_up_while_building_becomes_the_message(machine):
    with pytest.raises(ModelTooBig, match=r"ran out of memory while it was built: it needs about .* TB"):
        with out_of_memory_as_error(_huge_dense(), {"batch_size": 32}, "cpu"):
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't "
                               "allocate memory: you tried to allocate 4000000000000 bytes")
    with pytest.raises(ModelTooBig, match="make layers smaller"), out_of_memory_as_error(mlp(), {}, "cpu"):
        raise MemoryError
    with pytest.raises(RuntimeError, match="something else"), out_of_memory_as_error(mlp(), {}, "cpu"):
        raise RuntimeError("something else")


def test_the_trainer_refuses_a_built_model_it_has_no_room_to_train(monkeypatch):
    from studio.train import Trainer

    monkeypatch.setattr(memory_estimate, "available_memory", lambda: 0)
    info = SimpleNamespace(task="classification", class_names=["a", "b", "c"], num_outputs=3)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    data = SimpleNamespace(train_x=x, train_y=y, val_x=x, val_y=y, info=info)
    model = build_model(mlp(features=4, hidden=8, outputs=3))
    with pytest.raises(ModelTooBig, match="this machine has"):
        Trainer(model, data, {"device": "cpu", "epochs": 1})


# -- the problem in the window and the summary -------------------------------------------------------


def test_analyse_puts_the_problem_on_the_layer_that_does_not_fit(machine):
    graph = _huge_dense()
    analysis = analyse(graph)
    (problem,) = analysis.problems
    big = by_name(graph, graph.nodes[problem.node].name)
    assert big.id == problem.node and analysis.nodes[big.id].params == 10**12 + 10**6
    assert problem.message.startswith(f"Dense '{big.name}' holds 1,000,001,000,000 weights (3.64 TB)")
    assert "more than this machine's 16.00 GB of memory; make this layer smaller" in problem.message


def test_analyse_names_as_many_layers_as_it_takes(monkeypatch):
    monkeypatch.setattr(memory_estimate, "total_memory", lambda: 1024)
    graph = mlp(features=4, hidden=64, outputs=3)  # weights: 320 + 195 values = 2060 bytes
    problems = analyse(graph).problems
    assert [graph.nodes[p.node].params["units"] for p in problems] == [64]
    monkeypatch.setattr(memory_estimate, "total_memory", lambda: 100)
    assert len(analyse(graph).problems) == 2


def test_the_lstm_is_flagged_where_its_weights_alone_are_too_many(monkeypatch):
    monkeypatch.setattr(memory_estimate, "total_memory", lambda: 8 * GB)
    graph = _huge_lstm()
    (problem,) = analyse(graph).problems
    assert graph.nodes[problem.node].type == "LSTM" and "make this layer smaller" in problem.message
    assert summarize(graph).problems == [problem.message]


def test_a_model_that_fits_has_no_memory_problem():
    assert analyse(seed_cnn()).ok


def test_memory_readers_fall_back_when_proc_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(memory_estimate, "_MEMINFO", tmp_path / "no-meminfo")
    monkeypatch.setattr(memory_estimate, "_CGROUP", tmp_path / "no-cgroup")
    total = memory_estimate.total_memory.__wrapped__()
    available = memory_estimate.available_memory()
    assert total is None or total > 0
    assert available is None or available > 0
    (tmp_path / "meminfo").write_text("MemTotal:       1000 kB\nMemAvailable:    500 kB\n")
    monkeypatch.setattr(memory_estimate, "_MEMINFO", tmp_path / "meminfo")
    assert memory_estimate.total_memory.__wrapped__() == 1000 * 1024
    assert memory_estimate.available_memory() == 500 * 1024
    (tmp_path / "cg").mkdir()
    (tmp_path / "cg" / "memory.max").write_text("409600\n")
    (tmp_path / "cg" / "memory.current").write_text("300000\n")
    monkeypatch.setattr(memory_estimate, "_CGROUP", tmp_path / "cg")
    assert memory_estimate.available_memory() == 109600


# -- the command line --------------------------------------------------------------------------------


@pytest.fixture
def huge_project(tmp_path) -> Path:
    data = json.loads((PROJECTS / "moons_mlp.studio").read_text())
    for node in data["graph"]["nodes"][1:3]:
        node["params"]["units"] = 1_000_000
    path = tmp_path / "huge.studio"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.timeout(60)
def test_summary_of_a_huge_model_prints_the_problem_without_allocating(huge_project):
    # The peak of this process's own memory (VmHWM): ru_maxrss would count the forking test process.
    script = ("import re, sys; from studio.cli import main; code = main(['summary', sys.argv[1]]); "
              "peak = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
              "print('torch' in sys.modules, peak); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", script, str(huge_project)], capture_output=True, text=True,
                          timeout=50, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout.splitlines()
    assert any("holds 1,000,001,000,000 weights (3.64 TB)" in line for line in out)
    assert any(line.startswith("Training memory (adam, batch of 32): about ") for line in out)
    torch_loaded, max_rss_kb = out[-1].split()
    assert torch_loaded == "False" and int(max_rss_kb) < 1024 * 1024


@pytest.mark.timeout(60)
def test_train_refuses_a_huge_model_in_one_line(huge_project, capsys, monkeypatch):
    def never(*_args, **_kwargs):
        raise AssertionError("the model was built")

    monkeypatch.setattr("studio.runs.build_for_training", never)
    assert main(["train", str(huge_project), "--device", "cpu"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("model-studio: error: ") and "weights alone need about 3.64 TB" in line
