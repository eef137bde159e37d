"""A table in a CSV file: one column is the target, the others are features.

Numeric columns are used as they are, text columns with few distinct values are one-hot encoded, and
every problem (a missing column, text in a numeric column, an empty cell, a value too large to
standardise) is reported with its line and column. Only a regular file is read (a named pipe is refused
at once); a UTF-8 byte order mark is dropped. Read with the csv module and numpy only.

The rows are read, checked, encoded and summed a chunk of rows at a time, in the same chunks whether
the table is held in memory or streamed from a cache file on disk (`studio.data.table_cache`, for a
table whose decoded size exceeds the `memory_limit_mb` setting, or a file over `MAX_FILE_BYTES`), so
both give the same samples, statistics and errors to the bit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.params import Param, params
from studio.data.assemble import assemble, split_indices
from studio.data.base import DataError, DatasetInfo, DatasetSpec, LoadContext, LoadedData
from studio.data.file_checks import read_data_file
from studio.data.registry import register
from studio.data.settings import MEMORY_LIMIT_SETTING, SPLIT_SETTINGS, path_setting

DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
MAX_CATEGORIES = 50  # a text feature with more distinct values is probably a name or an id
MAX_AUTO_CLASSES = 20  # whole-number targets with at most this many values are taken as classes
MAX_TEXT_CLASSES = 10_000  # a text target with more distinct values is an id, not a class
MAX_FILE_BYTES = 2 * 2**30  # parsed into Python strings, a larger table would not fit in memory
# Features are standardised in float64: beyond this, the sum of squares over the rows overflows.
MAX_FEATURE = 1e150
# Regression targets are compared with the model's float32 outputs: beyond this, a batch's squared
# errors overflow float32 (about 3.4e38).
MAX_TARGET = 1e15
BYTE_ORDER_MARK = "\ufeff"
SNIFF_CHARS = 65536  # the start of the file the delimiter is guessed from
CHUNK_CELLS = 2**16  # cells read, checked and encoded at a time: bounds the memory a chunk takes


def chunk_rows(columns: int) -> int:
    """Rows per chunk of a table with `columns` columns (fixed by the header, so every pass agrees)."""
    return max(1, CHUNK_CELLS // max(1, columns))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _numbers(cells: list[str]) -> np.ndarray | None:
    """The cells as float64, None when one of them is not a number."""
    try:
        return np.asarray(cells).astype(np.float64)
    except ValueError:
        try:  # forms numpy does not read but Python does, such as 1_000
            return np.array([float(cell) for cell in cells], dtype=np.float64)
        except ValueError:
            return None


def _too_large(name: str, line: int, value: float, why: str, path: Path) -> DataError:
    return DataError(f"column '{name}' holds {value:g} at line {line}, {why}; scale the column down "
                     "(other units, or a logarithm)", path=path)


@dataclass
class ColumnScan:
    """What one column's cells show, gathered a chunk of rows at a time: the first cell of each kind
    of problem, how many cells are numbers, and its distinct texts (up to `text_cap` of them).

    The target column also keeps its values: float64 while every cell is a number, and the code of
    each cell's text while there are at most `text_cap` distinct texts."""

    name: str
    path: Path
    is_target: bool = False
    count: int = 0
    empty: int | None = None  # line of the first empty cell
    numeric: int = 0  # cells that read as numbers
    text: tuple[int, str] | None = None  # (line, cell) of the first cell that does not
    not_finite: tuple[int, str] | None = None
    too_large: tuple[int, float] | None = None  # beyond MAX_FEATURE (MAX_TARGET for the target)
    texts: dict[str, int] | None = field(default_factory=dict)  # stripped text -> code; None: too many
    values: list[np.ndarray] | None = field(default_factory=list)  # target only; None: not all numbers
    codes: list[np.ndarray] = field(default_factory=list)  # target only

    @property
    def text_cap(self) -> int:
        return MAX_TEXT_CLASSES if self.is_target else MAX_CATEGORIES

    def add(self, cells: list[str], lines: list[int]) -> None:
        """Take in the next chunk of the column's cells, found on file lines `lines`."""
        self.count += len(cells)
        stripped = [cell.strip() for cell in cells]
        if self.empty is None and not all(stripped):
            self.empty = lines[stripped.index("")]
        values = _numbers(cells)
        if values is None:
            numeric = [_is_number(cell) for cell in cells]
            self.numeric += sum(numeric)
            if self.text is None:
                row = numeric.index(False)
                self.text = (lines[row], cells[row])
            self.values = None
        else:
            self.numeric += len(cells)
            self._note_values(values, cells, lines)
        self._add_texts(stripped)

    def _note_values(self, values: np.ndarray, cells: list[str], lines: list[int]) -> None:
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad) and self.not_finite is None:
            self.not_finite = (lines[bad[0]], cells[bad[0]])
        big = np.flatnonzero(np.abs(values) > (MAX_TARGET if self.is_target else MAX_FEATURE))
        if len(big) and self.too_large is None:
            self.too_large = (lines[big[0]], float(values[big[0]]))
        if self.is_target and self.values is not None:
            self.values.append(values)

    def _add_texts(self, stripped: list[str]) -> None:
        if self.texts is None:
            return
        new = set(stripped).difference(self.texts)
        if len(self.texts) + len(new) > self.text_cap:
            self.texts, self.codes = None, []
            return
        for text in new:
            self.texts[text] = len(self.texts)
        if self.is_target:
            texts = self.texts
            self.codes.append(np.fromiter((texts[s] for s in stripped), np.int64, len(stripped)))

    def holds_numbers(self) -> bool:
        """Whether the column holds numbers (False: text); DataError for a stray text or empty cell."""
        where = f"column '{self.name}'"
        if self.empty is not None:
            raise DataError(f"line {self.empty}, {where} is empty; fill it in or remove the row",
                            path=self.path)
        if self.text is not None:
            if self.numeric * 2 <= self.count:
                return False  # mostly text: a text column
            line, cell = self.text
            raise DataError(f"line {line}, {where} is '{cell}', but the column holds numbers", path=self.path)
        if self.not_finite is not None:
            line, cell = self.not_finite
            raise DataError(f"line {line}, {where} is '{cell}', not a finite number", path=self.path)
        return True

    def categories(self) -> list[str]:
        """The distinct texts of a text feature, sorted; DataError when there are too many."""
        if self.texts is None:
            raise DataError(f"column '{self.name}' holds text with more than {MAX_CATEGORIES} different "
                            "values; remove it or turn it into numbers", path=self.path)
        return sorted(self.texts)


@dataclass
class Table:
    """What a pass over a CSV file learnt: each column's scan, the data rows' count and (when read in
    memory) the cells, chunk by chunk and column by column."""

    path: Path
    delimiter: str
    width: int  # columns in a row
    rows: int
    features: list[tuple[int, ColumnScan]]  # (position in a row, scan) of each feature column
    target: ColumnScan
    chunks: list[list[list[str]]]


@dataclass(frozen=True)
class Encoding:
    """How a row's feature cells become numbers: a number column's value, or a text column's one-hot."""

    positions: list[int]  # of each feature column in a row
    categories: list[list[str] | None]  # None for a number column
    names: list[str]

    @property
    def width(self) -> int:
        return len(self.names)


def rows_of(lines: Iterable[str], delimiter: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(file line, cells) of each row that is not blank."""
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, row
    except csv.Error as exc:
        raise DataError(f"line {reader.line_num}: {exc}", path=path) from None


def scan(path: Path, lines: Iterable[str], delimiter: str, target_setting: str, *, keep: bool) -> Table:
    """Read the header and every row, checking each column; `keep` holds the cells for encoding."""
    rows = rows_of(lines, delimiter, path)
    header = next(rows, None)
    if header is None:
        raise DataError("the file is empty", path=path)
    names = [name.replace(BYTE_ORDER_MARK, "").strip() or f"column {i + 1}"
             for i, name in enumerate(header[1])]
    target_name = target_setting.strip() or names[-1]
    scans = [ColumnScan(name, path, is_target=name == target_name) for name in names]
    count, wrong_width, kept = 0, None, []
    for lines_of_chunk, columns in chunks(rows, len(names)):
        count += len(lines_of_chunk)
        if wrong_width is not None:
            continue
        if isinstance(columns, tuple):  # a row with the wrong number of fields: the file is refused
            wrong_width = columns
            continue
        for column, cells in zip(scans, columns, strict=True):
            column.add(cells, lines_of_chunk)
        if keep:
            kept.append(columns)
    if not count:
        raise DataError("has a header line but no data rows", path=path)
    if wrong_width is not None:
        line, fields = wrong_width
        raise DataError(f"line {line} has {fields} fields but the header has {len(names)}", path=path)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"the header names a column twice: {', '.join(duplicates)}", path=path)
    if target_name not in names:
        raise DataError(f"{path} has no column '{target_name}'; its columns are {', '.join(names)}",
                        setting="target")
    if len(names) < 2:
        raise DataError(f"{path} has only the target column; it needs at least one feature column",
                        setting="path")
    target = names.index(target_name)
    features = [(i, s) for i, s in enumerate(scans) if i != target]
    return Table(path, delimiter, len(names), count, features, scans[target], kept)


def chunks(rows: Iterator[tuple[int, list[str]]], width: int
           ) -> Iterator[tuple[list[int], list[list[str]] | tuple[int, int]]]:
    """(lines, cells column by column) of each chunk of `chunk_rows(width)` data rows; a row with
    another number of fields ends its chunk and comes as (lines, (line, fields))."""
    size = chunk_rows(width)
    lines: list[int] = []
    batch: list[list[str]] = []
    for line, row in rows:
        if len(row) != width:
            if batch:
                yield lines, [list(cells) for cells in zip(*batch, strict=True)]
            yield [line], (line, len(row))
            lines, batch = [], []
            continue
        lines.append(line)
        batch.append(row)
        if len(batch) == size:
            yield lines, [list(cells) for cells in zip(*batch, strict=True)]
            lines, batch = [], []
    if batch:
        yield lines, [list(cells) for cells in zip(*batch, strict=True)]


def encoding_of(table: Table) -> Encoding:
    """Each feature column's encoding, in column order; DataError for the first column that has none."""
    categories: list[list[str] | None] = []
    names: list[str] = []
    for _, column in table.features:
        if column.holds_numbers():
            if column.too_large is not None:
                line, value = column.too_large
                raise _too_large(column.name, line, value, "too large to standardise", column.path)
            categories.append(None)
            names.append(column.name)
        else:
            texts = column.categories()
            categories.append(texts)
            names.extend(f"{column.name}={text}" for text in texts)
    return Encoding([position for position, _ in table.features], categories, names)


def encode(encoding: Encoding, columns: list[list[str]], path: Path) -> np.ndarray:
    """A chunk's feature cells (column by column) as float64 rows; DataError when they no longer fit
    the encoding (the file changed since it was scanned)."""
    blocks: list[np.ndarray] = []
    for position, categories in zip(encoding.positions, encoding.categories, strict=True):
        cells = columns[position]
        if categories is None:
            values = _numbers(cells)
            if values is None:
                raise changed(path)
            blocks.append(values[:, None])
            continue
        index = {text: code for code, text in enumerate(categories)}
        codes = [index.get(cell.strip(), -1) for cell in cells]
        if -1 in codes:
            raise changed(path)
        blocks.append(np.eye(len(categories))[codes])
    return np.concatenate(blocks, axis=1)


def changed(path: Path) -> DataError:
    return DataError("changed while it was being read; load the data again", path=path)


def encode_target(column: ColumnScan, task: str) -> tuple[str, np.ndarray, list[str]]:
    """(task, y, class names): class indices for classification, values for regression."""
    if not column.holds_numbers():
        if task == "regression":
            raise DataError(f"column '{column.name}' holds text, so it can only be a classification "
                            "target", setting="task")
        if column.texts is None:
            raise DataError(f"column '{column.name}' holds text with more than {MAX_TEXT_CLASSES:,} "
                            "different values, too many to be classes; choose another target column",
                            setting="target")
        class_names = sorted(column.texts)
        rank = {text: i for i, text in enumerate(class_names)}
        by_code = np.asarray([rank[text] for text in column.texts], dtype=np.int64)  # in code order
        y = by_code[np.concatenate(column.codes)]
    else:
        values = np.concatenate(column.values)
        distinct = np.unique(values)
        whole = bool(np.all(distinct == np.round(distinct)))
        if task == "regression" or (task == "auto" and not (whole and len(distinct) <= MAX_AUTO_CLASSES)):
            if column.too_large is not None:
                line, value = column.too_large
                raise _too_large(column.name, line, value, "too large for a regression target", column.path)
            return "regression", values, []
        y = np.searchsorted(distinct, values)
        class_names = [f"{v:g}" for v in distinct]
    if len(class_names) < 2:
        raise DataError(f"column '{column.name}' has only one value ({class_names[0]}); a classifier needs "
                        "at least two classes", setting="target")
    return "classification", y, class_names


def split(y: np.ndarray, task: str, settings: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation rows, as every dataset splits (`studio.data.assemble.split_indices`)."""
    return split_indices(y, stratify=task == "classification", fraction=settings["validation_split"],
                         seed=settings["seed"])


class TrainStatistics:
    """Each feature's mean and standard deviation over the training rows, taken in float64 a chunk at
    a time and combined with Chan, Golub and LeVeque's pairwise update, so the figures depend on the
    chunks only, never on whether the table is in memory."""

    def __init__(self, is_train: np.ndarray, width: int):
        self._is_train = is_train
        self._start = 0
        self.count = 0
        self.mean = np.zeros(width)
        self._squares = np.zeros(width)  # sum of squared differences from the mean
        self._largest = np.zeros(width)

    def add(self, chunk: np.ndarray) -> None:
        """The next chunk of encoded rows, in file order."""
        rows = chunk[self._is_train[self._start:self._start + len(chunk)]]
        self._start += len(chunk)
        if not len(rows):
            return
        with np.errstate(over="ignore", invalid="ignore"):
            mean = rows.mean(axis=0)
            squares = ((rows - mean) ** 2).sum(axis=0)
            total = self.count + len(rows)
            delta = mean - self.mean
            self.mean = self.mean + delta * (len(rows) / total)
            self._squares = self._squares + squares + delta**2 * (self.count * len(rows) / total)
        self.count = total
        self._largest = np.maximum(self._largest, np.abs(rows).max(axis=0))

    def finish(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std); a constant feature gets std 1, so it stays constant instead of dividing by 0."""
        with np.errstate(over="ignore", invalid="ignore"):
            std = np.sqrt(self._squares / self.count)
        bad = np.flatnonzero(~(np.isfinite(self.mean) & np.isfinite(std)))
        if len(bad):
            raise DataError(f"feature '{names[bad[0]]}' holds {self._largest[bad[0]]:g}, too large to "
                            "standardise; scale it down")
        return self.mean, np.where(std > 1e-12, std, 1.0)


def standardised(chunk: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((chunk - mean) / std).astype(np.float32)


def dataset_info(source: Path | str, feature_names: list[str], target_name: str, task: str,
                 class_names: list[str], mean: np.ndarray, std: np.ndarray) -> DatasetInfo:
    return DatasetInfo(name="csv", input_shape=(len(feature_names),), task=task, class_names=class_names,
                       num_outputs=len(class_names) if task == "classification" else 1, sample_kind="row",
                       feature_names=feature_names,
                       target_names=[] if task == "classification" else [target_name],
                       target_column=target_name, source=str(source), feature_mean=np.asarray(mean).tolist(),
                       feature_std=np.asarray(std).tolist())


def _load_csv(settings: dict[str, Any], context: LoadContext) -> LoadedData:
    from studio.data import table_cache

    path = context.resolve_path(settings["path"], "path")
    streamed = table_cache.load_if_too_large(path, settings, context)
    return streamed if streamed is not None else _load_in_memory(path, settings)


def _load_in_memory(path: Path, settings: dict[str, Any]) -> LoadedData:
    text = _read_text(path)
    table = scan(path, io.StringIO(text), delimiter(text[:SNIFF_CHARS], settings["delimiter"]),
                 settings["target"], keep=True)
    encoding = encoding_of(table)
    task, y, class_names = encode_target(table.target, settings["task"])
    train, val = split(y, task, settings)
    is_train = np.zeros(table.rows, dtype=bool)
    is_train[train] = True
    statistics = TrainStatistics(is_train, encoding.width)
    encoded = []
    for columns in table.chunks:
        encoded.append(encode(encoding, columns, path))
        statistics.add(encoded[-1])
    mean, std = statistics.finish(encoding.names)
    x = standardised(np.concatenate(encoded), mean, std)
    info = dataset_info(path, encoding.names, table.target.name, task, class_names, mean, std)
    return assemble(x[train], y[train], x[val], y[val], info)


def _read_text(path: Path) -> str:
    data = read_data_file(path, setting="path", limit=MAX_FILE_BYTES)
    check_not_utf16(data, path)
    try:
        return data.decode("utf-8-sig")  # drops a byte order mark, as spreadsheet programs write one
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc.start) from None


def check_not_utf16(start: bytes, path: Path) -> None:
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError("is UTF-16 text; save it as UTF-8 CSV", path=path)


def not_utf8(path: Path, byte: int) -> DataError:
    """The error for a byte that is not UTF-8, counted after any byte order mark."""
    return DataError(f"is not UTF-8 text (byte {byte}); save it as UTF-8 CSV", path=path)


def delimiter(sample: str, setting: str) -> str:
    """The delimiter the setting names, or (auto) the one guessed from the file's first characters."""
    if setting != "auto":
        return DELIMITERS[setting]
    try:
        return csv.Sniffer().sniff(sample[:SNIFF_CHARS], delimiters="".join(DELIMITERS.values())).delimiter
    except csv.Error:
        return ","  # one column, or nothing to go on: the usual separator


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
        MEMORY_LIMIT_SETTING,
    ),
    loader=_load_csv))
