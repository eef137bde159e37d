"""Fixtures for the dataset tests: small folders and files written under tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.data import clear_image_cache, write_image_folder


@pytest.fixture(autouse=True)
def _empty_image_cache():
    """Each test starts without decoded folders, so cache behaviour never leaks between tests."""
    clear_image_cache()
    yield
    clear_image_cache()


@pytest.fixture
def shapes_folder(tmp_path: Path) -> Path:
    """train/ and validation/ folders: cat (circles) and dog (squares), 8 + 4 images each, 24x24."""
    return write_image_folder(tmp_path / "pets", per_class=8, size=24, seed=3)


@pytest.fixture
def write_csv(tmp_path: Path):
    """write_csv(text, name="table.csv") -> path of a CSV file holding `text`."""

    def write(text: str, name: str = "table.csv") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array in the MNIST idx format (big-endian header: magic, then each dimension)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_mnist(tmp_path: Path):
    """fake_mnist(folder_name="MNIST", n_train=60, n_test=20) -> root holding tiny idx files in
    torchvision's layout; image i is filled with the value 10 * label."""

    def make(folder_name: str = "MNIST", n_train: int = 60, n_test: int = 20) -> Path:
        root = tmp_path / "vision"
        raw = root / folder_name / "raw"
        for prefix, n in (("train", n_train), ("t10k", n_test)):
            labels = np.arange(n) % 10
            images = np.broadcast_to((labels * 10)[:, None, None], (n, 28, 28))
            write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
            write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        return root

    return make
