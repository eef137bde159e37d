"""The command line: summary output, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main

PROJECTS = Path(__file__).resolve().parents[1] / "projects"


def test_summary_of_the_seed_cnn_matches_keras(capsys):
    assert main(["summary", str(PROJECTS / "cats_vs_dogs.studio")]) == 0
    out = capsys.readouterr().out
    assert "Total params: 4,828,481 (18.42 MB)" in out
    assert "Trainable params: 4,828,481 (18.42 MB)" in out
    assert "Non-trainable params: 0 (0.00 B)" in out
    assert "(N, 128, 17, 17)" in out and "(N, 36992)" in out
    assert "4,735,104" in out
    assert "Multiply-accumulates per sample" in out and "for a batch of 20" in out


def test_summary_batch_size_changes_the_memory_estimate(capsys):
    main(["summary", str(PROJECTS / "digits_cnn.studio"), "--batch-size", "7"])
    assert "for a batch of 7:" in capsys.readouterr().out


def test_bad_file_is_one_line_on_stderr_with_exit_status_2(tmp_path, capsys):
    data = json.loads((PROJECTS / "moons_mlp.studio").read_text())
    data["graph"]["nodes"][1]["params"]["units"] = 0
    bad = tmp_path / "bad.studio"
    bad.write_text(json.dumps(data))
    assert main(["summary", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(bad) in err and "graph.nodes[1].params.units" in err and "at least 1" in err


def test_missing_file(tmp_path, capsys):
    assert main(["summary", str(tmp_path / "nope.studio")]) == 2
    assert "nope.studio: does not exist" in capsys.readouterr().err


def test_invalid_model_prints_summary_with_problems_and_exit_1(tmp_path, capsys):
    data = json.loads((PROJECTS / "digits_cnn.studio").read_text())
    # Drop the Flatten: Dense then receives an image.
    nodes = data["graph"]["nodes"]
    flatten = next(n for n in nodes if n["type"] == "Flatten")
    nodes.remove(flatten)
    edges = data["graph"]["edges"]
    into = next(e for e in edges if e["to"] == flatten["id"])
    out_of = next(e for e in edges if e["from"] == flatten["id"])
    edges[:] = [e for e in edges if flatten["id"] not in (e["from"], e["to"])]
    edges.append({"from": into["from"], "to": out_of["to"], "port": 0})
    path = tmp_path / "noflat.studio"
    path.write_text(json.dumps(data))
    assert main(["summary", str(path)]) == 1
    out = capsys.readouterr().out
    assert "Dense 'dense' expects" in out and "(N, 64, 4, 4)" in out and "add a Flatten" in out


def test_python_dash_m_studio_runs_the_same_command():
    result = subprocess.run([sys.executable, "-m", "studio", "summary", str(PROJECTS / "moons_mlp.studio")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Total params: 337" in result.stdout


@pytest.mark.parametrize("path", sorted(PROJECTS.glob("*.studio")), ids=lambda p: p.name)
def test_every_example_project_is_valid(path, capsys):
    assert main(["summary", str(path)]) == 0, capsys.readouterr().out
