"""A table in a CSV file: one column is the target, the others are features.

Numeric columns are used as they are, text columns with few distinct values are one-hot encoded, and
every problem (a missing column, text in a numeric column, an empty cell, a value too large to
standardise) is reported with its line and column. Only a regular file is read (a named pipe is refused
at once); a UTF-8 byte order mark is dropped. Read with the csv module and numpy only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.params import Param, params
from studio.data.assemble import split_and_assemble
from studio.data.base import DataError, DatasetInfo, DatasetSpec, LoadContext, LoadedData
from studio.data.file_checks import read_data_file
from studio.data.registry import register
from studio.data.settings import SPLIT_SETTINGS, path_setting

DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
MAX_CATEGORIES = 50  # a text feature with more distinct values is probably a name or an id
MAX_AUTO_CLASSES = 20  # whole-number targets with at most this many values are taken as classes
MAX_FILE_BYTES = 2 * 2**30  # parsed into Python strings, a larger table would not fit in memory
# Features are standardised in float64: beyond this, the sum of squares over the rows overflows.
MAX_FEATURE = 1e150
# Regression targets are compared with the model's float32 outputs: beyond this, a batch's squared
# errors overflow float32 (about 3.4e38).
MAX_TARGET = 1e15
BYTE_ORDER_MARK = "\ufeff"


@dataclass(frozen=True)
class _Column:
    name: str
    cells: list[str]
    lines: list[int]  # the file line of each cell, for messages
    path: Path

    def where(self, row: int) -> str:
        return f"line {self.lines[row]}, column '{self.name}'"

    def numbers(self) -> np.ndarray | None:
        """The column as float64, None when it holds text; DataError for a stray text or empty cell."""
        for row, cell in enumerate(self.cells):
            if not cell.strip():
                raise DataError(f"{self.where(row)} is empty; fill it in or remove the row", path=self.path)
        try:
            values = np.asarray(self.cells).astype(np.float64)
        except ValueError:
            return self._numbers_with_stray_text()
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise DataError(f"{self.where(bad[0])} is '{self.cells[bad[0]]}', not a finite number",
                            path=self.path)
        return values

    def check_size(self, values: np.ndarray, limit: float, why: str) -> None:
        """DataError naming the first value larger than `limit` (either sign), its line and `why`."""
        big = np.flatnonzero(np.abs(values) > limit)
        if len(big):
            row = big[0]
            raise DataError(f"column '{self.name}' holds {values[row]:g} at line {self.lines[row]}, {why}; "
                            "scale the column down (other units, or a logarithm)", path=self.path)

    def _numbers_with_stray_text(self) -> None:
        """None for a text column; DataError for a number column with a stray text cell."""
        numeric = [_is_number(cell) for cell in self.cells]
        if sum(numeric) * 2 <= len(numeric):
            return None  # mostly text: a text column
        row = numeric.index(False)
        raise DataError(f"{self.where(row)} is '{self.cells[row]}', but the column holds numbers",
                        path=self.path)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _load_csv(settings: dict[str, Any], context: LoadContext) -> LoadedData:
    path = context.resolve_path(settings["path"], "path")
    columns = _read_columns(path, settings["delimiter"])
    target_name = settings["target"].strip() or columns[-1].name
    names = [c.name for c in columns]
    if target_name not in names:
        raise DataError(f"{path} has no column '{target_name}'; its columns are {', '.join(names)}",
                        setting="target")
    target = columns[names.index(target_name)]
    features = [c for c in columns if c is not target]
    if not features:
        raise DataError(f"{path} has only the target column; it needs at least one feature column",
                        setting="path")
    x, feature_names = _encode_features(features)
    task, y, class_names = _encode_target(target, settings["task"])
    info = DatasetInfo(name="csv", input_shape=(x.shape[1],), task=task, class_names=class_names,
                       num_outputs=len(class_names) if task == "classification" else 1, sample_kind="row",
                       feature_names=feature_names,
                       target_names=[] if task == "classification" else [target_name],
                       target_column=target_name, source=str(path))
    return split_and_assemble(x, y, info, settings, standardise_features=True)


def _read_columns(path: Path, delimiter: str) -> list[_Column]:
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text, delimiter))
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"line {reader.line_num}: {exc}", path=path) from None
    if len(rows) < 2:
        raise DataError("has a header line but no data rows" if rows else "the file is empty", path=path)
    header = [name.replace(BYTE_ORDER_MARK, "").strip() for name in rows[0]]
    for row, line in zip(rows[1:], lines[1:], strict=True):
        if len(row) != len(header):
            raise DataError(f"line {line} has {len(row)} fields but the header has {len(header)}", path=path)
    names = [name or f"column {i + 1}" for i, name in enumerate(header)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"the header names a column twice: {', '.join(duplicates)}", path=path)
    return [_Column(name, [row[i] for row in rows[1:]], lines[1:], path) for i, name in enumerate(names)]


def _read_text(path: Path) -> str:
    data = read_data_file(path, setting="path", limit=MAX_FILE_BYTES)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError("is UTF-16 text; save it as UTF-8 CSV", path=path)
    try:
        return data.decode("utf-8-sig")  # drops a byte order mark, as spreadsheet programs write one
    except UnicodeDecodeError as exc:
        raise DataError(f"is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV", path=path) from None


def _delimiter(text: str, setting: str) -> str:
    if setting != "auto":
        return DELIMITERS[setting]
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters="".join(DELIMITERS.values())).delimiter
    except csv.Error:
        return ","  # one column, or nothing to go on: the usual separator


def _encode_features(columns: list[_Column]) -> tuple[np.ndarray, list[str]]:
    """Numeric columns as they are; text columns one-hot, one feature per distinct value."""
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for column in columns:
        values = column.numbers()
        if values is not None:
            column.check_size(values, MAX_FEATURE, "too large to standardise")
            blocks.append(values[:, None])
            names.append(column.name)
            continue
        categories, codes = np.unique(np.asarray([c.strip() for c in column.cells]), return_inverse=True)
        if len(categories) > MAX_CATEGORIES:
            raise DataError(f"column '{column.name}' holds text with {len(categories)} different values; "
                            "remove it or turn it into numbers", path=column.path)
        blocks.append(np.eye(len(categories))[codes])
        names.extend(f"{column.name}={category}" for category in categories)
    return np.concatenate(blocks, axis=1), names


def _encode_target(column: _Column, task: str) -> tuple[str, np.ndarray, list[str]]:
    """(task, y, class names): class indices for classification, values for regression."""
    values = column.numbers()
    if values is None:
        if task == "regression":
            raise DataError(f"column '{column.name}' holds text, so it can only be a classification "
                            "target", setting="task")
        class_names, y = np.unique(np.asarray([c.strip() for c in column.cells]), return_inverse=True)
        class_names = [str(c) for c in class_names]
    else:
        distinct = np.unique(values)
        whole = bool(np.all(distinct == np.round(distinct)))
        if task == "regression" or (task == "auto" and not (whole and len(distinct) <= MAX_AUTO_CLASSES)):
            column.check_size(values, MAX_TARGET, "too large for a regression target")
            return "regression", values, []
        y = np.searchsorted(distinct, values)
        class_names = [f"{v:g}" for v in distinct]
    if len(class_names) < 2:
        raise DataError(f"column '{column.name}' has only one value ({class_names[0]}); a classifier needs "
                        "at least two classes", setting="target")
    return "classification", y, class_names


register(DatasetSpec(
    name="csv", title="CSV table", category="files",
    description="A table with a header line: one column is the target, the others are features.",
    settings=params(
        path_setting("The CSV file (first line: column names).", "file"),
        Param("target", "str", "", "Column to predict (empty: the last column)."),
        Param("task", "choice", "auto",
              "auto: text or few whole-number values are classes, other numbers are regression.",
              choices=("auto", "classification", "regression")),
        Param("delimiter", "choice", "auto", "What separates the fields (auto: guess from the file).",
              choices=("auto", *DELIMITERS)),
        SPLIT_SETTINGS,
    ),
    loader=_load_csv))
