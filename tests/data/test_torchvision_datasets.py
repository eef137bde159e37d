"""Local torchvision datasets: read from files in torchvision's layout, never downloaded."""

from __future__ import annotations

import pytest
import torch

from studio.data import DataError, load_dataset


def test_mnist_loads_from_local_idx_files(fake_mnist):
    root = fake_mnist()
    data = load_dataset("mnist", {"root": str(root)})
    assert data.train_x.shape == (60, 1, 28, 28) and data.val_x.shape == (20, 1, 28, 28)
    assert data.info.class_names == [str(d) for d in range(10)] and data.info.sample_kind == "image"
    # Image i is filled with 10 * label, kept as bytes.
    assert data.train_x.dtype == data.val_x.dtype == torch.uint8
    assert torch.equal(data.train_x[:, 0, 5, 5].long(), data.train_y * 10)
    assert data.augment is None


def test_fashion_mnist_takes_torchvisions_class_names(fake_mnist):
    data = load_dataset("fashion_mnist", {"root": str(fake_mnist("FashionMNIST"))})
    assert data.info.class_names[0] == "T-shirt/top" and len(data.info.class_names) == 10


def test_max_samples_cuts_both_parts_in_proportion(fake_mnist):
    data = load_dataset("mnist", {"root": str(fake_mnist()), "max_samples": 30, "augment_flip": True})
    assert data.num_train == 30 and data.num_val == 10
    assert data.augment is not None


def test_missing_files_say_where_to_put_which_files(tmp_path):
    with pytest.raises(DataError) as caught:
        load_dataset("mnist", {"root": str(tmp_path)})
    message = str(caught.value)
    assert caught.value.setting == "root"
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert "Nothing is downloaded" in message


def test_packed_files_are_pointed_out(fake_mnist):
    root = fake_mnist()
    raw = root / "MNIST" / "raw"
    (raw / "train-images-idx3-ubyte").rename(raw / "train-images-idx3-ubyte.gz")
    with pytest.raises(DataError, match="lacks train-images-idx3-ubyte \\(train-images-idx3-ubyte are "
                       "still packed as .gz: unpack them\\)"):
        load_dataset("mnist", {"root": str(root)})


def test_cifar10_missing_files_name_the_archive(tmp_path):
    with pytest.raises(DataError, match="cifar-10-batches-py has none of the dataset's files. Put these "
                       "files there: data_batch_1, .*; they are the contents of cifar-10-python.tar.gz"):
        load_dataset("cifar10", {"root": str(tmp_path)})


def test_cifar10_files_that_are_not_the_official_ones_are_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                 "test_batch", "batches.meta"):
        (folder / name).write_bytes(b"not the real thing")
    with pytest.raises(DataError, match="cannot be read"):
        load_dataset("cifar10", {"root": str(tmp_path)})


def test_corrupt_idx_files_are_an_error_not_a_crash(fake_mnist):
    root = fake_mnist()
    (root / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x09junk")
    with pytest.raises(DataError, match="cannot be read"):
        load_dataset("mnist", {"root": str(root)})
