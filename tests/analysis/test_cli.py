"""`model-studio cluster` and `model-studio predict` on a trained project, and their one-line errors."""

from __future__ import annotations

import csv
import re

import numpy as np
from PIL import Image

from studio.cli import main

from .helpers import copy_project


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("model-studio: error: ")
    return err


def test_cluster_prints_the_scores_the_elbow_and_the_layer_table(trained_digits, tmp_path, capsys):
    out_csv = tmp_path / "clusters.csv"
    args = ["cluster", str(trained_digits.path), "--max-k", "12", "--compare", "--csv", str(out_csv)]
    assert main(args) == 0
    out = capsys.readouterr().out
    samples = trained_digits.data.num_val
    assert f"{samples} validation samples of digits" in out
    assert "k-means on layer 'dense': 128 features, standardised, k = 10" in out
    for name in ("Adjusted Rand index", "Normalised mutual information", "Purity", "Silhouette", "Inertia"):
        assert name in out
    elbow = re.findall(r"^ +(\d+) +[\d.e+]+(   <- k)?$", out, flags=re.MULTILINE)
    assert elbow == [(str(k), "   <- k" if k == 10 else "") for k in range(2, 13)]
    table = out[out.index("Scores by layer"):]
    for layer in ("input (raw input)", "conv2d", "conv2d_1", "max_pooling2d", "dense", "dense_1"):
        assert f"\n{layer} " in table
    with open(out_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == samples and rows[0].keys() == {"index", "true_label", "cluster", "x", "y"}
    assert f"Wrote {samples} assignments to {out_csv} (x, y: PCA)" in out


def test_cluster_on_the_raw_input_with_another_k(trained_digits, capsys):
    assert main(["cluster", str(trained_digits.path), "--layer", "input", "--k", "4", "--no-standardize",
                 "--max-k", "5"]) == 0
    out = capsys.readouterr().out
    assert "k-means on layer 'input' (raw input): 64 features, k = 4" in out
    assert "4" in out and "   <- k" in out and "Scores by layer" not in out


def test_cluster_errors_are_one_line_with_exit_status_2(trained_digits, untrained_moons, capsys):
    assert main(["cluster", str(untrained_moons)]) == 2
    assert "no trained model yet: train it first" in one_line_error(capsys)
    assert main(["cluster", str(trained_digits.path), "--layer", "dense_7"]) == 2
    assert "no layer named 'dense_7'" in one_line_error(capsys)
    assert main(["cluster", str(trained_digits.path), "--k", "1"]) == 2
    assert "k-means needs at least 2 clusters" in one_line_error(capsys)
    assert main(["cluster", str(trained_digits.path), "--run", "nope"]) == 2
    assert "no run 'nope'" in one_line_error(capsys)


def test_predict_prints_the_top_classes_of_each_image(trained_digits, tmp_path, capsys):
    paths = []
    for i in (0, 1):
        paths.append(tmp_path / f"digit.{i}.png")
        pixels = np.round(trained_digits.data.val_x[i, 0].numpy() * 255).astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(paths[-1])
    assert main(["predict", str(trained_digits.path), *map(str, paths), "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for path, line in zip(paths, lines, strict=True):
        name, ranking = line.split(": ")
        assert name == str(path)
        shown = [item.split(" ") for item in ranking.split(", ")]
        assert len(shown) == 2 and all(c in trained_digits.data.info.class_names for c, _ in shown)
        assert float(shown[0][1]) >= float(shown[1][1])


def test_predict_errors_are_one_line_with_exit_status_2(trained_digits, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    assert main(["predict", str(trained_digits.path), str(broken)]) == 2
    assert "broken.png': cannot be decoded" in one_line_error(capsys)
    image = tmp_path / "grey.png"
    Image.new("L", (8, 8)).save(image)
    assert main(["predict", str(trained_digits.path), str(image), "--top", "0"]) == 2
    assert "show at least 1 class" in one_line_error(capsys)
    untrained = copy_project("digits_cnn", tmp_path / "untrained")
    assert main(["predict", str(untrained), str(image)]) == 2
    assert "no trained model yet" in one_line_error(capsys)
