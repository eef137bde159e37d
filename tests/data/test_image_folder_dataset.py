"""Image folders: layouts, sizes, bad files, the decode cache, and write_image_folder round trips."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.data import DataError, load_dataset, model_input, write_image_folder
from studio.data import image_folder as image_folder_module
from studio.data.shapes import render_shapes


def load(path: Path, **settings):
    return load_dataset("image_folder", {"path": str(path), "image_size": [24, 24], **settings})


@pytest.fixture
def decode_counter(monkeypatch):
    """How many images were decoded since the test started."""
    calls = []
    real = image_folder_module._decode_image

    def counting(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(image_folder_module, "_decode_image", counting)
    return calls


def test_train_and_validation_folders_are_used_as_they_are(shapes_folder):
    data = load(shapes_folder)
    assert data.info.class_names == ["cat", "dog"]
    assert data.num_train == 16 and data.num_val == 8
    assert torch.bincount(data.val_y).tolist() == [4, 4]
    assert data.train_x.shape == (16, 3, 24, 24) and data.train_x.dtype == torch.uint8
    assert data.train_x.max() > 0
    assert data.info.skipped == [] and data.info.source == str(shapes_folder)


def test_write_image_folder_round_trip_gives_back_the_rendered_pixels(tmp_path):
    folder = write_image_folder(tmp_path / "round", classes=("a", "b", "c"), per_class=3, size=(12, 20),
                                seed=9, validation=False, noise=0.2)
    assert sorted(p.name for p in (folder / "train").iterdir()) == ["a", "b", "c"]
    assert not (folder / "validation").exists()
    data = load_dataset("image_folder", {"path": str(folder), "image_size": [12, 20],
                                         "validation_split": 0.0})
    expected = render_shapes(np.repeat([0, 1, 2], 3), height=12, width=20, channels=3, noise=0.2,
                             rng=np.random.default_rng(9))
    expected_bytes = (expected * 255 + 0.5).astype(np.uint8)
    got_bytes = data.train_x.numpy()
    # Files are read in sorted order (a.0, a.1, ...), then the training part is shuffled: match by label.
    for label in range(3):
        got = got_bytes[data.train_y.numpy() == label]
        want = expected_bytes[label * 3:(label + 1) * 3]
        assert sorted(g.tobytes() for g in got) == sorted(w.tobytes() for w in want)


def test_write_image_folder_refuses_to_mix_into_existing_images(shapes_folder):
    with pytest.raises(DataError, match="already holds files"):
        write_image_folder(shapes_folder, per_class=2, size=8)


def test_flat_layout_is_split_by_the_validation_setting(tmp_path, shapes_folder):
    flat = tmp_path / "flat"
    shutil.copytree(shapes_folder / "train", flat)
    data = load(flat, validation_split=0.25)
    assert data.num_train == 12 and data.num_val == 4
    assert torch.bincount(data.val_y).tolist() == [2, 2]


def test_train_folder_without_validation_folder_is_split(tmp_path, shapes_folder):
    shutil.rmtree(shapes_folder / "validation")
    data = load(shapes_folder, validation_split=0.5)
    assert data.info.class_names == ["cat", "dog"]  # not "train"
    assert data.num_train == 8 and data.num_val == 8


def test_image_size_zero_takes_the_models_input(shapes_folder):
    data = load_dataset("image_folder", {"path": str(shapes_folder), "image_size": [0, 0]},
                        input_shape=(1, 10, 14))
    assert data.train_x.shape[1:] == (1, 10, 14) and data.info.input_shape == (1, 10, 14)
    with pytest.raises(DataError, match="setting 'image_size'.*no model"):
        load_dataset("image_folder", {"path": str(shapes_folder)})


def test_grey_images_have_one_channel_equal_to_the_luminance(shapes_folder):
    colour = load(shapes_folder, channels="3", validation_split=0.0)
    grey = load(shapes_folder, channels="1", validation_split=0.0)
    assert grey.train_x.shape == (16, 1, 24, 24)
    r, g, b = model_input(colour.val_x[0])
    assert torch.allclose(model_input(grey.val_x[0, 0]), (0.299 * r + 0.587 * g + 0.114 * b), atol=2 / 255)


def test_relative_paths_are_taken_from_the_base_folder(shapes_folder):
    data = load_dataset("image_folder", {"path": shapes_folder.name, "image_size": [8, 8]},
                        base_dir=shapes_folder.parent)
    assert data.num_train == 16


def test_corrupt_and_non_image_files_are_skipped_and_counted(shapes_folder):
    (shapes_folder / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    (shapes_folder / "train" / "dog" / "notes.txt").write_text("hello")
    (shapes_folder / "train" / "dog" / ".DS_Store").write_bytes(b"\0")  # hidden: ignored, not counted
    data = load(shapes_folder)
    assert data.num_train == 16
    skipped = dict(data.info.skipped)
    assert set(skipped) == {str(shapes_folder / "train" / "cat" / "broken.png"),
                            str(shapes_folder / "train" / "dog" / "notes.txt")}
    assert skipped[str(shapes_folder / "train" / "cat" / "broken.png")] == "not an image"
    assert "not an image file (.txt)" in skipped[str(shapes_folder / "train" / "dog" / "notes.txt")]


def test_a_folder_where_no_file_is_an_image_is_an_error(tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match="none of the 2 files .* could be read as an image"):
        load(tmp_path)


def test_a_class_whose_every_file_is_bad_is_named(shapes_folder):
    for file in (shapes_folder / "train" / "dog").iterdir():
        file.write_bytes(b"garbage")
    with pytest.raises(DataError, match="no readable training images for class dog"):
        load(shapes_folder)


@pytest.mark.parametrize(("arrange", "words"), [
    (lambda root: None, "does not exist"),
    (lambda root: root.write_text("x"), "is a file"),
    (lambda root: root.mkdir(), "has no class sub-folders"),
    (lambda root: (root / "cat").mkdir(parents=True), "only one class folder \\(cat\\)"),
    (lambda root: [(root / c).mkdir(parents=True) for c in ("cat", "dog")], "holds no files"),
])
def test_bad_folders_give_a_clear_error(tmp_path, arrange, words):
    root = tmp_path / "images"
    arrange(root)
    with pytest.raises(DataError, match=words) as caught:
        load(root)
    assert caught.value.dataset == "image_folder" and caught.value.setting == "path"


def test_images_lying_directly_in_the_folder_get_a_hint(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "photo.png")
    with pytest.raises(DataError, match="images are directly in it"):
        load(tmp_path)


def test_a_validation_class_unknown_to_training_is_an_error(shapes_folder):
    shutil.copytree(shapes_folder / "validation" / "dog", shapes_folder / "validation" / "bird")
    with pytest.raises(DataError, match="bird is a class that the training folder does not have"):
        load(shapes_folder)


def test_a_second_load_uses_the_cache_and_a_changed_file_does_not(shapes_folder, decode_counter):
    first = load(shapes_folder)
    assert len(decode_counter) == 24
    second = load(shapes_folder, seed=1)  # another split seed needs no decoding
    assert len(decode_counter) == 24
    assert torch.equal(torch.sort(first.val_x.flatten(1), 0)[0], torch.sort(second.val_x.flatten(1), 0)[0])
    second.train_x.fill_(128)  # callers own their tensors; the cache is untouched
    assert torch.equal(load(shapes_folder).train_x, first.train_x)
    load(shapes_folder, image_size=[16, 16])  # another size decodes again
    assert len(decode_counter) == 48
    file = shapes_folder / "train" / "cat" / "cat.0.png"
    stat = file.stat()
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    load(shapes_folder)
    assert len(decode_counter) == 72


def test_progress_is_reported_up_to_the_total(shapes_folder):
    seen = []
    load_dataset("image_folder", {"path": str(shapes_folder), "image_size": [8, 8]},
                 progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (24, 24)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    seen.clear()
    load_dataset("image_folder", {"path": str(shapes_folder), "image_size": [8, 8]},
                 progress=lambda done, total: seen.append((done, total)))
    assert seen == [(24, 24)]  # from the cache: one report that it is complete


def test_augmentation_is_built_from_the_settings(shapes_folder):
    assert load(shapes_folder).augment is None
    data = load(shapes_folder, augment_flip=True, augment_rotation=20.0, augment_crop=True)
    batch = model_input(data.train_x[:8])
    torch.manual_seed(0)
    out = data.augment(batch)
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert not torch.equal(out, batch)


def test_large_jpegs_are_reduced_to_the_asked_size(tmp_path):
    for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (tmp_path / name).mkdir()
        Image.new("RGB", (640, 480), colour).save(tmp_path / name / "big.jpg", quality=95)
    data = load(tmp_path, validation_split=0.0)
    assert data.train_x.shape == (2, 3, 24, 24)
    red = model_input(data.train_x[data.train_y == data.info.class_names.index("red")][0])
    assert red[0].mean() > 0.9 and red[2].mean() < 0.1


def test_labels_follow_the_sorted_folder_names(tmp_path):
    for name, grey in (("b_white", 255), ("a_black", 0), ("c_grey", 128)):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.new("L", (6, 6), grey).save(tmp_path / name / f"{i}.png")
    data = load_dataset("image_folder", {"path": str(tmp_path), "image_size": [6, 6],
                                         "validation_split": 0.0, "channels": "1"})
    assert data.info.class_names == ["a_black", "b_white", "c_grey"]
    brightness = {int(label): float(model_input(image).mean())
                  for image, label in zip(data.train_x, data.train_y, strict=True)}
    assert brightness == pytest.approx({0: 0.0, 1: 1.0, 2: 128 / 255})


def test_the_oldest_decoded_folder_is_dropped_when_the_cache_is_full(shapes_folder, decode_counter,
                                                                      monkeypatch):
    monkeypatch.setattr(image_folder_module, "_CACHE_BYTES", 1)  # room for the newest folder only
    load(shapes_folder)
    load(shapes_folder)
    assert len(decode_counter) == 24  # the newest stays even when it alone is over the limit
    load(shapes_folder, image_size=[16, 16])
    load(shapes_folder)
    assert len(decode_counter) == 72
