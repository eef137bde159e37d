"""One parametrized walk over the whole layer catalog (Keras' run_class_serialization_test, for us).

For every layer type: its configuration survives the trip through a project file, the built module's
real output shape is the inferred one, and the spec's weight and buffer counts are the module's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch

from studio.core.build import build_model
from studio.core.graph import ModelGraph
from studio.core.inference import analyse
from studio.core.layers import all_specs, get_spec

from .builders import build_case

IMAGE = {"kind": "image", "channels": 3, "height": 9, "width": 8}
VECTOR = {"kind": "vector", "features": 6}
SEQ = {"kind": "sequence", "length": 7, "features": 8}
SEQ_ODD = {"kind": "sequence", "length": 4, "features": 5}
TOKENS = {"kind": "tokens", "length": 5, "vocab_size": 11}

DIRECT: tuple = ((),)  # one input, straight from the Input node


def case(type_name: str, input_cfg: dict, params: dict | None = None, branches: tuple = DIRECT,
         id: str = ""):  # noqa: A002 - mirrors pytest.param
    return pytest.param(type_name, input_cfg, params or {}, branches, id=f"{type_name}-{id or 'default'}")


def _recurrent_cases() -> list:
    out = []
    for kind in ("RNN", "LSTM", "GRU"):
        for bidirectional in (False, True):
            for sequences in (False, True):
                out.append(case(kind, SEQ, {"units": 5, "bidirectional": bidirectional,
                                            "return_sequences": sequences},
                                id=f"bi{int(bidirectional)}-seq{int(sequences)}"))
    out.append(case("RNN", SEQ, {"units": 3, "nonlinearity": "relu", "bidirectional": True}, id="relu"))
    return out


def _activation_cases() -> list:
    out = [case(t, VECTOR) for t in ("ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softmax", "GELU", "ELU",
                                        "SiLU")]
    out += [case("Softmax", IMAGE, id="image"), case("Softmax", SEQ, id="sequence"),
            case("LeakyReLU", SEQ, id="sequence"), case("GELU", IMAGE, id="image")]
    return out


CASES = [
    case("Dense", VECTOR, {"units": 5}),
    case("Dense", SEQ, {"units": 3, "activation": "softmax", "use_bias": False}, id="sequence-nobias"),
    case("Dense", VECTOR, {"units": 1, "activation": "sigmoid"}, id="sigmoid"),
    case("Dropout", VECTOR, {"rate": 0.25}),
    case("Dropout", IMAGE, {"rate": 0.9}, id="image"),
    case("Flatten", IMAGE),
    case("Flatten", SEQ, id="sequence"),
    case("Reshape", VECTOR, {"shape": [2, 3]}, id="to-sequence"),
    case("Reshape", VECTOR, {"shape": [1, 2, 3]}, id="to-image"),
    case("Reshape", IMAGE, {"shape": [216]}, id="flat"),
    case("Conv2D", IMAGE),
    case("Conv2D", IMAGE, {"filters": 4, "kernel_size": [4, 4], "strides": [2, 2], "padding": "same"},
         id="same-stride2-even-kernel"),
    case("Conv2D", IMAGE, {"filters": 2, "kernel_size": [3, 2], "strides": [2, 3], "padding": "same"},
         id="same-uneven-strides"),
    case("Conv2D", IMAGE, {"filters": 5, "dilation": [2, 1], "use_bias": False, "activation": "softmax"},
         id="dilated-valid-nobias"),
    case("Conv2D", IMAGE, {"filters": 3, "dilation": [2, 2], "padding": "same", "activation": "linear"},
         id="dilated-same"),
    case("Conv2D", IMAGE, {"filters": 2, "kernel_size": [2, 3], "strides": [3, 2]}, id="strided-valid"),
    case("Conv1D", SEQ, {"filters": 4}),
    case("Conv1D", SEQ, {"filters": 3, "kernel_size": [4], "strides": [2], "padding": "same"},
         id="same-stride2-even-kernel"),
    case("Conv1D", SEQ, {"filters": 2, "kernel_size": [2], "strides": [3], "padding": "same"},
         id="same-stride3"),
    case("Conv1D", SEQ, {"filters": 2, "dilation": [2], "use_bias": False}, id="dilated"),
    case("MaxPool2D", IMAGE),
    case("MaxPool2D", IMAGE, {"kernel_size": [3, 3], "strides": [2, 2], "padding": "same"}, id="same"),
    case("MaxPool2D", IMAGE, {"kernel_size": [3, 2], "strides": [1, 2]}, id="uneven"),
    case("AvgPool2D", IMAGE),
    case("AvgPool2D", IMAGE, {"kernel_size": [2, 2], "strides": [3, 3], "padding": "same"}, id="same"),
    case("GlobalAvgPool2D", IMAGE),
    case("GlobalAvgPool1D", SEQ),
    case("BatchNorm", VECTOR, id="rank1"),
    case("BatchNorm", SEQ, {"momentum": 0.3, "epsilon": 1e-3}, id="rank2"),
    case("BatchNorm", IMAGE, id="rank3"),
    case("LayerNorm", VECTOR, id="rank1"),
    case("LayerNorm", SEQ, {"epsilon": 1e-6}, id="rank2"),
    case("LayerNorm", IMAGE, id="image"),
    *_activation_cases(),
    case("Embedding", TOKENS, {"vocab_size": 11, "dim": 4}),
    case("Embedding", TOKENS, {"vocab_size": 20, "dim": 3}, id="bigger-vocab"),
    *_recurrent_cases(),
    case("MultiHeadSelfAttention", SEQ, {"heads": 2}),
    case("MultiHeadSelfAttention", SEQ, {"heads": 8, "dropout": 0.1}, id="heads8"),
    case("TransformerEncoderLayer", SEQ, {"heads": 2, "ff_dim": 16}),
    case("TransformerEncoderLayer", SEQ, {"heads": 4, "ff_dim": 6, "activation": "gelu", "norm_first": True,
                                          "dropout": 0.0}, id="pre-ln-gelu"),
    case("PositionalEncoding", SEQ, {"max_length": 7}, id="sinusoidal-exact-length"),
    case("PositionalEncoding", SEQ_ODD, {"max_length": 9}, id="sinusoidal-odd-embedding"),
    case("PositionalEncoding", SEQ, {"kind": "learned", "max_length": 10}, id="learned"),
    case("Add", VECTOR, branches=((), (("ReLU", {}),)), id="vector"),
    case("Add", IMAGE, branches=((), (("Conv2D", {"filters": 3, "padding": "same"}),)), id="image"),
    case("Add", SEQ, branches=((), (("Tanh", {}),), (("Dense", {"units": 8}),)), id="sequence-3-inputs"),
    case("Concat", VECTOR, branches=((("Dense", {"units": 4}),), ()), id="vector"),
    case("Concat", IMAGE, branches=((), (("Conv2D", {"filters": 5, "padding": "same"}),)), id="image"),
    case("Concat", SEQ, branches=((), (("Dense", {"units": 2}),), (("Conv1D", {"filters": 3, "padding":
                                                                               "same"}),)),
         id="sequence-3-inputs"),
]


def sample(input_cfg: dict, batch: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    kind = input_cfg["kind"]
    if kind == "image":
        dims = (input_cfg["channels"], input_cfg["height"], input_cfg["width"])
    elif kind == "vector":
        dims = (input_cfg["features"],)
    elif kind == "sequence":
        dims = (input_cfg["length"], input_cfg["features"])
    else:
        return torch.randint(0, input_cfg["vocab_size"], (batch, input_cfg["length"]), generator=generator)
    return torch.randn(batch, *dims, generator=generator)


@pytest.mark.parametrize(("type_name", "input_cfg", "params", "branches"), CASES)
def test_config_survives_a_project_file(type_name, input_cfg, params, branches):
    graph, node = build_case(type_name, input_cfg, params, branches)
    spec = get_spec(type_name)
    # Every setting given is kept (lists are stored as tuples), the rest are the defaults.
    assert set(node.params) == set(spec.params.names())
    for key, value in node.params.items():
        given = params.get(key, spec.params[key].default)
        assert value == (tuple(given) if isinstance(given, list) else given), key

    text = json.dumps(graph.to_dict(), allow_nan=False)
    again = ModelGraph.from_dict(json.loads(text))
    assert again.nodes[node.id].params == node.params
    assert again.nodes[node.id].type == type_name and again.nodes[node.id].name == node.name
    assert again.inputs_of(node.id) == graph.inputs_of(node.id)
    assert again.to_dict() == graph.to_dict()


@pytest.mark.parametrize(("type_name", "input_cfg", "params", "branches"), CASES)
def test_built_module_matches_inferred_shape_and_counts(type_name, input_cfg, params, branches):
    graph, node = build_case(type_name, input_cfg, params, branches)
    spec = get_spec(type_name)
    analysis = analyse(graph)
    assert analysis.ok, analysis.problems
    assert analysis.output_id == node.id
    inferred = analysis.nodes[node.id].shape

    torch.manual_seed(0)
    model = build_model(graph).eval()
    with torch.no_grad():
        out = model(sample(input_cfg))
    assert tuple(out.shape) == (2, *inferred.dims)
    assert out.is_floating_point() and torch.isfinite(out).all()

    module = model.layers[node.name]
    in_shapes = [analysis.nodes[s].shape for s in graph.inputs_of(node.id)]
    real_params = sum(p.numel() for p in module.parameters())
    assert spec.count_params(in_shapes, node.params) == real_params
    assert analysis.nodes[node.id].params == real_params

    parameter_names = {name for name, _ in module.named_parameters()}
    real_buffers = sum(value.numel() for name, value in module.state_dict().items()
                       if name not in parameter_names and value.is_floating_point())
    assert spec.count_buffers(in_shapes, node.params) == real_buffers
    assert analysis.nodes[node.id].buffers == real_buffers


def test_every_layer_type_has_a_catalog_case():
    covered = {c.values[0] for c in CASES}
    catalog = {spec.type for spec in all_specs()} - {"Input"}
    assert catalog - covered == set(), "add a case for each new layer type to CASES"
    assert covered - catalog == set()


@pytest.mark.parametrize(("input_cfg", "dims"), [
    (IMAGE, (3, 9, 8)), (VECTOR, (6,)), (SEQ, (7, 8)), (TOKENS, (5,)),
])
def test_input_kinds_round_trip_and_build(input_cfg: dict[str, Any], dims):
    graph, node = build_case("ReLU" if input_cfg is not TOKENS else "Embedding", input_cfg,
                             {"vocab_size": 11, "dim": 2} if input_cfg is TOKENS else {}, DIRECT)
    source = graph.inputs_of(node.id)[0]
    again = ModelGraph.from_dict(json.loads(json.dumps(graph.to_dict())))
    assert again.nodes[source].params == graph.nodes[source].params
    shape = analyse(again).nodes[source].shape
    assert shape.dims == dims
    assert shape.is_tokens == (input_cfg is TOKENS)
