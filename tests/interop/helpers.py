"""Small models and projects the interop tests share."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from studio.core.build import GraphModule, build_model
from studio.core.graph import ModelGraph
from studio.core.project import Project, load_project, save_project
from studio.train import load_weights, save_weights
from tests.core.builders import build_case

PROJECTS = Path(__file__).resolve().parents[2] / "projects"

IMAGE = {"kind": "image", "channels": 3, "height": 9, "width": 8}
VECTOR = {"kind": "vector", "features": 6}
SEQ = {"kind": "sequence", "length": 7, "features": 8}
TOKENS = {"kind": "tokens", "length": 5, "vocab_size": 11}


def case(type_name: str, input_cfg: dict, params: dict | None = None, branches: tuple = ((),), id: str = ""):  # noqa: A002
    """One small model around `type_name`: the Input feeds it through `branches` (lists of layers)."""
    return pytest.param((type_name, input_cfg, params or {}, branches),
                        id=f"{type_name}-{id}" if id else type_name)


# One case for every way a catalog layer is built (the build rules branch on rank, padding, kind, ...).
CASES = [
    case("Dense", VECTOR, {"units": 5, "activation": "tanh"}),
    case("Dense", SEQ, {"units": 3, "activation": "softmax", "use_bias": False}, id="sequence-softmax"),
    case("Dropout", IMAGE, {"rate": 0.3}),
    case("Flatten", IMAGE),
    case("Reshape", VECTOR, {"shape": [1, 2, 3]}),
    case("Conv2D", IMAGE, {"filters": 4, "dilation": [2, 1], "use_bias": False}),
    case("Conv2D", IMAGE, {"filters": 4, "kernel_size": [4, 4], "strides": [2, 2], "padding": "same",
                           "activation": "elu"}, id="same-even-kernel"),
    case("Conv1D", SEQ, {"filters": 3, "kernel_size": [4], "strides": [2], "padding": "same"}),
    case("MaxPool2D", IMAGE, {"kernel_size": [3, 3], "strides": [2, 2], "padding": "same"}),
    case("AvgPool2D", IMAGE, {"kernel_size": [2, 2], "strides": [3, 3], "padding": "same"}),
    case("GlobalAvgPool2D", IMAGE),
    case("GlobalAvgPool1D", SEQ),
    case("BatchNorm", VECTOR, {"momentum": 0.2}, id="vector"),
    case("BatchNorm", SEQ, {"epsilon": 1e-3}, id="sequence"),
    case("BatchNorm", IMAGE, id="image"),
    case("LayerNorm", SEQ, {"epsilon": 1e-6}, id="sequence"),
    case("LayerNorm", IMAGE, id="image"),
    case("ReLU", VECTOR),
    case("LeakyReLU", SEQ),
    case("Tanh", VECTOR),
    case("Sigmoid", VECTOR),
    case("Softmax", IMAGE),
    case("GELU", IMAGE),
    case("ELU", VECTOR),
    case("SiLU", VECTOR),
    case("Embedding", TOKENS, {"vocab_size": 20, "dim": 4}),
    case("RNN", SEQ, {"units": 3, "nonlinearity": "relu", "bidirectional": True}),
    case("LSTM", SEQ, {"units": 5, "return_sequences": True}),
    case("LSTM", SEQ, {"units": 4, "bidirectional": True}, id="bidirectional-last"),
    case("GRU", SEQ, {"units": 5, "bidirectional": True, "return_sequences": True}),
    case("MultiHeadSelfAttention", SEQ, {"heads": 2, "dropout": 0.1}),
    case("TransformerEncoderLayer", SEQ, {"heads": 2, "ff_dim": 16}),
    case("TransformerEncoderLayer", SEQ, {"heads": 4, "ff_dim": 6, "activation": "gelu", "norm_first": True},
         id="pre-ln-gelu"),
    case("PositionalEncoding", SEQ, {"max_length": 9}, id="sinusoidal"),
    case("PositionalEncoding", SEQ, {"kind": "learned", "max_length": 10}, id="learned"),
    case("Add", IMAGE, branches=((), (("Conv2D", {"filters": 3, "padding": "same"}),))),
    case("Concat", SEQ, branches=((), (("Dense", {"units": 2}),),
                                  (("Conv1D", {"filters": 3, "padding": "same"}),))),
]


def case_graph(type_name: str, input_cfg: dict, params: dict, branches: tuple) -> ModelGraph:
    return build_case(type_name, input_cfg, params, branches)[0]


def project_with_weights(graph: ModelGraph, folder: Path, name: str = "model", **fields: Any) -> Project:
    """A saved project whose run 'run-1' holds random weights (running statistics included), so that an
    export which ignored the weights, or used fresh ones, would not match."""
    project = Project(graph=graph, name=name, **fields)
    save_project(project, folder / f"{name}.studio")
    torch.manual_seed(1234)
    model = build_model(graph)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if "running_var" in key:
                value.copy_(torch.rand_like(value) + 0.5)
            elif value.is_floating_point():
                value.copy_(torch.randn_like(value) * 0.3)
    weights = project.weights_path("run-1")
    save_weights(model, weights)
    project.runs = [{"id": "run-1", "status": "completed", "weights": weights.name}]
    save_project(project)
    return project


def example_project(name: str, folder: Path) -> Project:
    """An example project copied to `folder`, with random weights as run 'run-1'."""
    shutil.copy(PROJECTS / f"{name}.studio", folder / f"{name}.studio")
    project = load_project(folder / f"{name}.studio")
    return project_with_weights(project.graph, folder, name, description=project.description,
                                training=project.training)


def studio_model(project: Project) -> GraphModule:
    """The studio's own model with the project's run weights and the final activation, in eval mode."""
    model = build_model(project.graph)
    load_weights(model, project.weights_path("run-1"))
    return model.eval()


def sample(graph_or_project: ModelGraph | Project, batch: int = 4, seed: int = 7) -> torch.Tensor:
    from studio.runs import input_shape

    project = graph_or_project if isinstance(graph_or_project, Project) else Project(graph=graph_or_project)
    shape = input_shape(project)
    generator = torch.Generator().manual_seed(seed)
    if shape.is_tokens:
        return torch.randint(0, shape.vocab or 1, (batch, *shape.dims), generator=generator)
    return torch.randn(batch, *shape.dims, generator=generator)
