"""CSV tables: tasks, encodings, standardisation, and every kind of bad file."""

from __future__ import annotations

import pytest
import torch

from studio.data import DataError, load_dataset


def load(path, **settings):
    return load_dataset("csv", {"path": str(path), **settings})


def iris_like(rows: int = 30) -> str:
    lines = ["length,width,colour,species"]
    for i in range(rows):
        species = ("setosa", "virginica", "versicolor")[i % 3]
        lines.append(f"{1 + i % 3 + i / 100:.2f},{2 + (i * 7) % 5},{('red', 'blue')[i % 2]},{species}")
    return "\n".join(lines) + "\n"


def test_text_target_is_classification_with_sorted_class_names(write_csv):
    data = load(write_csv(iris_like()), target="species", validation_split=0.2)
    info = data.info
    assert info.task == "classification" and info.class_names == ["setosa", "versicolor", "virginica"]
    assert info.num_outputs == 3 and info.sample_kind == "row"
    assert info.feature_names == ["length", "width", "colour=blue", "colour=red"]
    assert data.train_x.shape == (24, 4) and data.val_x.shape == (6, 4)
    assert torch.bincount(data.val_y).tolist() == [2, 2, 2]
    # Features are standardised with the training part's statistics.
    assert torch.allclose(data.train_x.mean(0), torch.zeros(4), atol=1e-5)
    assert info.feature_mean is not None and len(info.feature_std) == 4


def test_the_last_column_is_the_default_target(write_csv):
    assert load(write_csv(iris_like())).info.class_names == ["setosa", "versicolor", "virginica"]


def test_labels_match_the_rows(write_csv):
    text = "x,label\n" + "".join(f"{i},{'big' if i >= 10 else 'small'}\n" for i in range(20))
    data = load(write_csv(text), validation_split=0.0)
    raw_x = data.train_x[:, 0] * data.info.feature_std[0] + data.info.feature_mean[0]
    big = data.info.class_names.index("big")
    assert torch.equal(data.train_y == big, raw_x.round() >= 10)


def test_real_valued_target_is_regression(write_csv):
    text = "a,b,price\n" + "".join(f"{i},{i % 4},{i * 1.5 + 0.25}\n" for i in range(40))
    data = load(write_csv(text))
    assert data.info.task == "regression" and data.info.class_names == []
    assert data.info.target_names == ["price"] and data.info.num_outputs == 1
    assert data.train_y.dtype == torch.float32 and data.train_y.shape == (32, 1)
    values = torch.cat([data.train_y, data.val_y]).flatten().sort().values
    assert torch.allclose(values, torch.arange(40) * 1.5 + 0.25)  # targets are not standardised


def test_regression_without_a_validation_part_loads(write_csv):
    text = "a,price\n" + "".join(f"{i},{i * 1.5 + 0.25}\n" for i in range(20))
    data = load(write_csv(text), validation_split=0.0)
    assert data.train_y.shape == (20, 1) and data.val_y.shape == (0, 1)


def test_few_whole_numbers_are_classes_unless_regression_is_asked_for(write_csv):
    path = write_csv("a,grade\n" + "".join(f"{i},{i % 3 + 1}\n" for i in range(30)))
    assert load(path).info.class_names == ["1", "2", "3"]
    assert load(path, task="regression").info.task == "regression"


def test_semicolons_are_detected_and_can_be_forced(write_csv):
    path = write_csv("a;b;y\n" + "".join(f"{i};{i * 2};{i % 2}\n" for i in range(20)))
    assert load(path).train_x.shape[1] == 2
    assert load(path, delimiter="semicolon").train_x.shape[1] == 2
    with pytest.raises(DataError, match="has only the target column"):
        load(path, delimiter="comma")


@pytest.mark.parametrize(("text", "settings", "words", "field"), [
    ("", {}, "the file is empty", None),
    ("\n\n", {}, "the file is empty", None),
    ("a,b,y\n", {}, "header line but no data rows", None),
    ("a,b,y\n1,2,0\n1,2\n", {}, "line 3 has 2 fields but the header has 3", None),
    ("a,a,y\n1,2,0\n3,4,1\n", {}, "names a column twice: a", None),
    ("a,b,y\n1,2,0\n3,4,1\n", {"target": "label"}, "no column 'label'; its columns are a, b, y", "target"),
    ("a,b,y\n1,2,0\n3,x7,1\n5,6,0\n", {}, "line 3, column 'b' is 'x7', but the column holds numbers", None),
    ("a,b,y\n1,,0\n3,4,1\n", {}, "line 2, column 'b' is empty", None),
    ("a,b,y\n1,nan,0\n3,4,1\n", {}, "line 2, column 'b' is 'nan', not a finite number", None),
    ("a,b,y\n1,2,cat\n3,4,cat\n", {}, "column 'y' has only one value \\(cat\\)", "target"),
    ("a,b,y\n1,2,cat\n3,4,dog\n", {"task": "regression"}, "holds text", "task"),
    ("y\n1\n2\n", {}, "only the target column", "path"),
])
def test_bad_tables_give_a_clear_error(write_csv, text, settings, words, field):
    path = write_csv(text)
    with pytest.raises(DataError, match=words) as caught:
        load(path, **settings)
    assert caught.value.dataset == "csv"
    assert caught.value.setting == field
    if field is None:
        assert caught.value.path == str(path)


def test_missing_file_and_missing_path_are_named(tmp_path):
    with pytest.raises(DataError, match="setting 'path': the file .*nothere.csv does not exist"):
        load(tmp_path / "nothere.csv")
    with pytest.raises(DataError, match="setting 'path': no path given"):
        load_dataset("csv", {})


def test_text_with_too_many_values_is_refused_as_a_feature(write_csv):
    text = "name,y\n" + "".join(f"person{i},{i % 2}\n" for i in range(60))
    with pytest.raises(DataError, match="column 'name' holds text with more than 50 different values"):
        load(write_csv(text))


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("a,y\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load(path)


def test_a_byte_order_mark_and_blank_lines_are_ignored(write_csv):
    text = "\ufeffa,y\n\n" + "".join(f"{i},{i % 2}\n\n" for i in range(10))
    data = load(write_csv(text), validation_split=0.0)
    assert data.info.feature_names == ["a"] and data.num_train == 10
