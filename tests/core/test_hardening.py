"""Inputs at the edges: special files, non-finite positions, empty names, Keras' border averages."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch

from studio.core.build import build_model
from studio.core.errors import GraphError, ProjectError
from studio.core.graph import ModelGraph
from studio.core.project import load_project


def test_a_device_file_is_refused_not_read_forever():
    with pytest.raises(ProjectError, match="not a regular file"):
        load_project("/dev/zero")


def test_a_named_pipe_is_refused(tmp_path):
    pipe = tmp_path / "pipe.studio"
    os.mkfifo(pipe)
    with pytest.raises(ProjectError, match="not a regular file"):
        load_project(pipe)


@pytest.mark.parametrize("pos", [(math.nan, 0.0), (0.0, math.inf)])
def test_non_finite_positions_are_refused_on_edit(pos):
    graph = ModelGraph()
    with pytest.raises(GraphError, match="finite"):
        graph.add_node("Dense", pos=pos)
    node = graph.add_node("Dense")
    with pytest.raises(GraphError, match="finite"):
        graph.move(node.id, pos)


@pytest.mark.parametrize("field", ["id", "name"])
def test_empty_ids_and_names_in_a_file_are_errors_not_replaced(tmp_path, field):
    node = {"id": "n1", "type": "Input", "name": "input", "params": {}, "pos": [0, 0]}
    node[field] = ""
    path = tmp_path / "p.studio"
    path.write_text(json.dumps({"format": "model-studio-project", "format_version": 1, "name": "p",
                                "graph": {"nodes": [node], "edges": []},
                                "dataset": {"name": "digits", "settings": {}}}))
    with pytest.raises(ProjectError, match=field) as caught:
        load_project(path)
    assert caught.value.field == f"graph.nodes[0].{field}"


def test_average_pooling_with_same_padding_averages_only_real_values_like_keras():
    graph = ModelGraph()
    source = graph.add_node("Input", params={"kind": "image", "channels": 1, "height": 3, "width": 3})
    pool = graph.add_node("AvgPool2D", params={"padding": "same"})
    graph.connect(source.id, pool.id)
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    # Windows at the right and bottom border hold 2 (or 1) real values; Keras divides by those.
    expected = torch.tensor([[[[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8.0]]]])
    assert torch.allclose(build_model(graph)(x), expected)


def test_saved_files_get_normal_permissions_not_private_temp_ones(tmp_path):
    from studio.core.atomic import write_atomic

    fresh = tmp_path / "fresh.studio"
    write_atomic(fresh, b"{}")
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask
    shared = tmp_path / "shared.studio"
    shared.write_bytes(b"old")
    shared.chmod(0o640)
    write_atomic(shared, b"new")
    assert shared.stat().st_mode & 0o777 == 0o640 and shared.read_bytes() == b"new"
