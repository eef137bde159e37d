"""Training on two processes with torchrun and gloo: shards, identical weights, one writer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import torch

from studio.core.project import load_project
from studio.train.distributed import shard

PROJECTS = Path(__file__).resolve().parents[2] / "projects"


def test_each_rank_gets_an_equal_share_and_together_they_cover_the_epoch():
    order = torch.randperm(11)
    shares = [shard(order, rank, 3) for rank in range(3)]
    assert [len(s) for s in shares] == [4, 4, 4]
    assert set(torch.cat(shares).tolist()) == set(range(11))
    assert not set(shares[0].tolist()) & set(shares[1].tolist())


def _train(path: Path, *launcher: str) -> subprocess.CompletedProcess:
    command = [sys.executable, *launcher, "-m", "studio", "train", str(path), "--epochs", "3"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=path.parent)


def test_two_gloo_processes_train_in_step_like_one(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    single, double = tmp_path / "one" / "digits.studio", tmp_path / "two" / "digits.studio"
    shutil.copy(PROJECTS / "digits_cnn.studio", single)
    shutil.copy(PROJECTS / "digits_cnn.studio", double)

    alone = _train(single)
    assert alone.returncode == 0, alone.stderr
    together = _train(double, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2")
    assert together.returncode == 0, together.stderr[-3000:]

    assert "x 2 processes (gloo)" in together.stdout
    assert "All 2 processes ended with identical weights" in together.stdout
    assert together.stdout.count("Epoch 1/3") == 1  # only rank 0 prints
    (run,) = load_project(double).runs  # only rank 0 writes the project
    assert (double.parent / run["weights"]).exists()
    # Each rank sees half of each epoch: half the steps, each averaged over both shards.
    assert run["settings"]["epochs"] == 3
    accuracy = run["epochs"][-1]["val_accuracy"]
    reference = load_project(single).runs[0]["epochs"][-1]["val_accuracy"]
    assert accuracy > 0.85 and abs(accuracy - reference) < 0.08
