"""Data files from strangers: pipes are refused at once, bad images are skipped and named, CSV values
that would break training are named with their line, and targets are checked against the model's output."""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.project import load_project
from studio.core.shapes import TensorShape
from studio.data import (
    DataError,
    DatasetInfo,
    check_model_outputs,
    check_outputs,
    load_dataset,
    quiet_warnings,
    skipped_message,
    write_image_folder,
)
from studio.data.assemble import standardise
from studio.data.image_folder import read_image
from tests.core.builders import tiny_image_project

PROJECTS = Path(__file__).resolve().parents[2] / "projects"
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")


def load_images(path: Path, **settings):
    return load_dataset("image_folder", {"path": str(path), "image_size": [24, 24], **settings})


def load_csv(path: Path, **settings):
    return load_dataset("csv", {"path": str(path), **settings})


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` pixels, with almost no pixel data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


def truncated_png() -> bytes:
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, "PNG")
    data = buffer.getvalue()
    return data[: len(data) // 2]


# --- named pipes and links --------------------------------------------------------------------------

@needs_fifo
@pytest.mark.timeout(30)
def test_a_pipe_in_an_image_folder_is_skipped_and_counted(shapes_folder):
    pipe = shapes_folder / "train" / "cat" / "c.png"
    os.mkfifo(pipe)
    data = load_images(shapes_folder)
    assert data.num_train == 16
    assert data.info.skipped == [(str(pipe), "a named pipe")]
    assert skipped_message(data.info) == "skipped 1 unreadable image (train/cat/c.png: a named pipe)"


@needs_fifo
@pytest.mark.timeout(30)
def test_a_pipe_given_as_the_csv_file_is_refused_at_once(tmp_path):
    pipe = tmp_path / "table.csv"
    os.mkfifo(pipe)
    with pytest.raises(DataError, match=r"setting 'path': .*table\.csv is a named pipe") as caught:
        load_csv(pipe)
    assert caught.value.dataset == "csv" and caught.value.setting == "path"


@needs_fifo
@pytest.mark.timeout(30)
def test_a_pipe_given_as_an_image_to_predict_is_refused_at_once(tmp_path):
    from studio.analysis.images import image_batch

    pipe = tmp_path / "photo.png"
    os.mkfifo(pipe)
    with pytest.raises(DataError, match=r"photo\.png': cannot be read: a named pipe") as caught:
        image_batch([pipe], (3, 8, 8))
    assert caught.value.path == str(pipe)


@needs_fifo
@pytest.mark.timeout(30)
def test_a_pipe_among_torchvision_files_is_named(fake_mnist):
    root = fake_mnist()
    images = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.unlink()
    os.mkfifo(images)
    with pytest.raises(DataError, match="train-images-idx3-ubyte is a named pipe"):
        load_dataset("mnist", {"root": str(root)})


@needs_fifo
@pytest.mark.timeout(30)
def test_a_pipe_as_the_image_folder_itself_is_named(tmp_path):
    os.mkfifo(tmp_path / "pets")
    with pytest.raises(DataError, match="is a named pipe; expected a folder"):
        load_images(tmp_path / "pets")


@pytest.mark.timeout(30)
def test_links_are_followed_to_files_and_class_folders_but_not_into_loops(tmp_path):
    outside = write_image_folder(tmp_path / "elsewhere", classes=("cat", "dog"), per_class=3, size=24,
                                 seed=1, validation=False)
    root = tmp_path / "pets"
    (root / "cat").mkdir(parents=True)
    for image in (outside / "train" / "cat").iterdir():
        (root / "cat" / image.name).symlink_to(image)  # links to files outside the folder: followed
    (root / "dog").symlink_to(outside / "train" / "dog", target_is_directory=True)  # a linked class
    (root / "cat" / "loop").symlink_to(root, target_is_directory=True)  # would recurse forever
    (root / "cat" / "gone.png").symlink_to(tmp_path / "nothing.png")
    data = load_images(root, validation_split=0.0)
    assert data.num_train == 6 and data.info.class_names == ["cat", "dog"]
    assert dict(data.info.skipped) == {str(root / "cat" / "loop"): "a linked folder (not followed)",
                                       str(root / "cat" / "gone.png"): "a link to nothing"}


# --- corrupt images ---------------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_corrupt_images_are_skipped_with_their_reasons_and_nothing_on_stderr(shapes_folder, capfd):
    cat, dog = shapes_folder / "train" / "cat", shapes_folder / "train" / "dog"
    (cat / "a.png").write_bytes(truncated_png())
    (cat / "b.jpg").write_bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    (dog / "c.png").write_bytes(b"")
    (dog / "d.png").write_bytes(png_header(60000, 60000))  # Pillow calls this a decompression bomb
    (dog / "e.png").write_bytes(png_header(10000, 10000))  # over the limit, under Pillow's own error
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        data = load_images(shapes_folder)
    assert data.num_train == 16
    assert dict(data.info.skipped) == {
        str(cat / "a.png"): "truncated", str(cat / "b.jpg"): "not an image", str(dog / "c.png"): "empty",
        str(dog / "d.png"): "too large (over 89,478,485 pixels)",
        str(dog / "e.png"): "too large (10000x10000 pixels)"}
    assert skipped_message(data.info) == (
        "skipped 5 unreadable images (train/cat/a.png: truncated, train/cat/b.jpg: not an image, "
        "train/dog/c.png: empty, ...)")
    assert leaked == []
    assert capfd.readouterr().err == ""


def test_an_image_whose_decoder_warns_about_metadata_only_is_read(shapes_folder, capfd):
    """A palette image with byte transparency makes Pillow warn while converting; its pixels are fine."""
    image = Image.new("P", (24, 24), 1)
    image.putpalette([0, 0, 0, 255, 255, 255] * 128)
    path = shapes_folder / "train" / "cat" / "palette.png"
    image.save(path, transparency=b"\x80\xff")  # one alpha per palette entry
    with pytest.warns(UserWarning, match="Transparency expressed in bytes"):
        Image.open(path).convert("RGB")  # what Pillow does when no one catches its warnings
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        pixels = read_image(path, 3, 24, 24)
        data = load_images(shapes_folder)
    assert pixels.shape == (3, 24, 24) and int(pixels.min()) == 255
    assert data.num_train == 17 and data.info.skipped == []
    assert leaked == [] and capfd.readouterr().err == ""


def test_warnings_are_kept_per_thread_and_others_still_shown():
    results: dict[str, list[str]] = {}

    def decode(name: str) -> None:
        with quiet_warnings.recorded() as caught:
            warnings.warn(f"from {name}", UserWarning, stacklevel=1)
        results[name] = [str(w.message) for w in caught]

    with quiet_warnings.routed():
        threads = [threading.Thread(target=decode, args=(name,)) for name in ("one", "two", "three")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with pytest.warns(UserWarning, match="not decoding"):
            warnings.warn("not decoding", UserWarning, stacklevel=1)
    assert results == {"one": ["from one"], "two": ["from two"], "three": ["from three"]}


def test_the_skipped_message_names_the_first_files_and_counts_all():
    info = DatasetInfo(name="image_folder", input_shape=(3, 8, 8), task="classification",
                       class_names=["a", "b"], num_outputs=2, sample_kind="image", source="/data/pets",
                       skipped=[("/data/pets/a/1.png", "truncated"), ("/elsewhere/2.jpg", "not an image")])
    assert skipped_message(info) == ("skipped 2 unreadable images (a/1.png: truncated, "
                                     "/elsewhere/2.jpg: not an image)")
    info.skipped = []
    assert skipped_message(info) is None


# --- targets against the model's output -------------------------------------------------------------

def thirty_classes_csv(write_csv) -> Path:
    return write_csv("x,y\n" + "".join(f"{i * 0.37:.2f},{i % 30}\n" for i in range(90)))


def test_thirty_whole_number_targets_against_one_sigmoid_unit_are_named(write_csv):
    info = load_csv(thirty_classes_csv(write_csv)).info
    assert info.task == "regression" and info.target_range.distinct == 30
    assert check_outputs(info, TensorShape((1,)), "sigmoid") == (
        "the target column 'y' holds 30 whole numbers (0..29), taken as values to predict, but the model "
        "ends in 1 unit with sigmoid, which gives only values between 0 and 1: to predict the values, "
        "remove the sigmoid (or scale the target to 0..1); if they are classes, set the dataset's task to "
        "classification and end in a Dense of 30 units with softmax")
    assert check_outputs(info, 1, None) is None  # plain regression of the numbers is fine


def test_thirty_classes_against_one_sigmoid_unit_offer_both_fixes(write_csv):
    info = load_csv(thirty_classes_csv(write_csv), task="classification").info
    assert check_outputs(info, (1,), "sigmoid") == (
        "the target column 'y' holds 30 classes (0..29) but the model ends in 1 unit with sigmoid: end in a "
        "Dense of 30 units with softmax, or set the dataset's task to regression")
    assert check_outputs(info, (30,), "softmax") is None
    assert "end in softmax instead" in check_outputs(info, (30,), "sigmoid")
    assert "end in a Dense of 30 units with softmax" in check_outputs(info, (10,), "softmax")


def test_output_checks_of_the_other_shapes(write_csv):
    two = load_csv(write_csv("x,label\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(20)))).info
    assert check_outputs(two, (1,), "sigmoid") is None and check_outputs(two, (2,), "softmax") is None
    assert "always gives 1" in check_outputs(two, (1,), "softmax")
    assert check_outputs(two, (4, 4), None).startswith("the model's output is 4x4 per sample")
    prices = load_csv(write_csv("x,price\n" + "".join(f"{i},{i * 2.5 + 0.1}\n" for i in range(20)))).info
    assert check_outputs(prices, (1,), None) is None
    assert "values from 0.1 to 47.6" in check_outputs(prices, (1,), "sigmoid")
    assert "outputs sum to 1" in check_outputs(prices, (1,), "softmax")
    assert "1 value to predict per sample but the model ends in 3 units" in check_outputs(prices, (3,), None)
    unit = load_csv(write_csv("x,p\n" + "".join(f"{i},{i / 20}\n" for i in range(20)))).info
    assert check_outputs(unit, (1,), "sigmoid") is None  # targets within 0..1 fit a sigmoid


def test_the_example_projects_fit_their_own_data():
    for name in ("moons_mlp", "digits_cnn", "sequence_lstm", "transformer_tokens"):
        project = load_project(PROJECTS / f"{name}.studio")
        data = load_dataset(project.dataset["name"], project.dataset.get("settings", {}))
        assert check_model_outputs(data.info, project.graph) is None, name


def test_a_model_graph_is_checked_by_its_output_node(write_csv):
    project = load_project(PROJECTS / "moons_mlp.studio")  # ends in Dense(1, sigmoid)
    info = load_csv(thirty_classes_csv(write_csv), task="classification").info
    assert "ends in 1 unit with sigmoid" in check_model_outputs(info, project.graph)


# --- values a CSV must not hold ---------------------------------------------------------------------

def test_a_huge_feature_value_is_named_with_its_column_and_line(write_csv):
    lines = ["x1,x2,x3,y"] + [f"{i},{i * 2},{1e308 if i == 15 else i},{i % 2}" for i in range(30)]
    path = write_csv("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"column 'x3' holds 1e\+308 at line 17, too large to standardise"):
        load_csv(path)


def test_a_huge_regression_target_is_named(write_csv):
    path = write_csv("x,y\n" + "".join(f"{i},{i * 0.5 if i != 4 else -3e20}\n" for i in range(30)))
    with pytest.raises(DataError, match=r"column 'y' holds -3e\+20 at line 6, too large for a regression"):
        load_csv(path)


@pytest.mark.parametrize(("cell", "words"), [
    ("inf", "line 3, column 'b' is 'inf', not a finite number"),
    ("-1e999", "line 3, column 'b' is '-1e999', not a finite number"),
    ("NaN", "line 3, column 'b' is 'NaN', not a finite number"),
    (" ", "line 3, column 'b' is empty"),
])
def test_cells_that_are_not_finite_numbers_are_named(write_csv, cell, words):
    path = write_csv(f"a,b,y\n1,2,0\n3,{cell},1\n5,6,0\n7,8,1\n")
    with pytest.raises(DataError, match=words):
        load_csv(path)


def test_standardising_names_a_feature_too_large_for_float64():
    x = np.array([[1.0, 1e200], [2.0, -1e200], [3.0, 1e200]])
    with pytest.raises(DataError, match="feature 'far' holds 1e\\+200, too large to standardise"):
        standardise(x, x[:1], ["near", "far"])
    train, _, mean, std = standardise(x[:, :1], x[:1, :1], ["near"])
    assert train.dtype == np.float64 and mean == [2.0]


def test_a_byte_order_mark_never_reaches_the_column_names(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text('"length";"kind"\n' + "".join(f"{i};{'ab'[i % 2]}\n" for i in range(10)),
                    encoding="utf-8-sig")
    info = load_csv(path, validation_split=0.0).info
    assert info.feature_names == ["length"] and info.target_column == "kind"
    assert not any("\ufeff" in name for name in [*info.feature_names, *info.class_names])
    path.write_bytes("a,y\n1,0\n".encode("utf-16"))
    with pytest.raises(DataError, match="is UTF-16 text; save it as UTF-8 CSV"):
        load_csv(path)


def test_data_errors_carry_the_file_and_can_name_the_project(write_csv):
    path = write_csv("a,b,y\n1,,0\n3,4,1\n")
    with pytest.raises(DataError) as caught:
        load_csv(path)
    error = caught.value.in_project("/work/pets.studio")
    assert error.path == str(path) and error.dataset == "csv" and error.project == "/work/pets.studio"
    assert str(error).startswith(f"project '/work/pets.studio', dataset 'csv', file '{path}': line 2")


# --- the command line, end to end -------------------------------------------------------------------

@needs_fifo
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_train_evaluate_and_predict_never_wait_on_a_pipe(tmp_path, capsys):
    from studio.cli import main

    project = tiny_image_project(tmp_path)
    os.mkfifo(tmp_path / "pets" / "train" / "cat" / "pipe.png")
    assert main(["train", str(project)]) == 0
    assert "Note: skipped 1 unreadable image (train/cat/pipe.png: a named pipe)" in capsys.readouterr().out
    assert main(["evaluate", str(project)]) == 0
    assert "Note: skipped 1 unreadable image" in capsys.readouterr().out
    os.mkfifo(tmp_path / "photo.png")
    assert main(["predict", str(project), str(tmp_path / "photo.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("model-studio: error: ")
    assert "photo.png': cannot be read: a named pipe" in err
    assert "Traceback" not in err
