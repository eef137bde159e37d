"""Fuzzing a project file from reading to exporting and opening it in the window.

Each input is a valid small project mutated (the mutations of tests/core/test_project_fuzz.py, plus
texts from tests/hostile/payloads.json that try to run code when they reach generated code), written
as a file: as JSON with or without a byte-order mark, sometimes cut short. Then:

- `load_project` gives a project or a ProjectError;
- a project it gives is exported to every format: only a StudioError may come out, and the exported
  PyTorch source imports without running anything the file carried;
- the window opens the file: a file it cannot read is one message shown to the user (the current
  project stays), any other is shown; no exception escapes into Qt's event loop.

The MARKER file must never appear. `benchmarks/fuzz_projects.py` runs the same checks on many more inputs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QCoreApplication

from studio.core.errors import ProjectError, StudioError
from studio.core.project import load_project
from studio.core.summary import summarize
from studio.gui.files import ProjectFiles
from studio.interop.export import FORMATS, export_project
from tests.core.test_project_fuzz import REPLACEMENTS, VALID, _mutate, _paths
from tests.gui.conftest import answers, private_settings, qapp, window  # noqa: F401
from tests.test_hostile_corpus import ALL, CASES, Sandbox, only_project, write_huge_project

CORPUS = Path(__file__).resolve().parent / "hostile"
PAYLOADS = json.loads((CORPUS / "payloads.json").read_text(encoding="utf-8"))
BOM = b"\xef\xbb\xbf"
# Exports of a model this large take seconds each: the corpus's too-big models cover them.
EXPORT_MAX_PARAMS = 2_000_000
EXPORT_MAX_ACTIVATION_BYTES = 64 * 2**20

# A payload in place of any value, or a MARKER-carrying text where the document holds text.
HOSTILE_TEXTS = st.sampled_from(PAYLOADS)
VALUES = REPLACEMENTS | HOSTILE_TEXTS


@st.composite
def mutated_documents(draw) -> object:
    """VALID with one to three locations replaced, deleted, or given an unexpected neighbour; or a
    text of it (a name, the description, a run's message) replaced by a payload, which a reader
    accepts more often, so more inputs reach the exporters."""
    doc = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 3), label="mutations")):
        action = draw(st.sampled_from(["replace", "replace", "delete", "insert", "payload"]), label="action")
        if action == "payload":
            texts = [path for path in _paths(doc) if _free_text(path) and isinstance(_at(doc, path), str)]
            if texts:
                doc = _mutate(doc, draw(st.sampled_from(texts), label="text"), "replace",
                              draw(HOSTILE_TEXTS, label="payload"))
            continue
        path = draw(st.sampled_from(list(_paths(doc))[1:]), label="path")  # not the whole document
        doc = _mutate(doc, path, action, draw(VALUES, label="value"))
        if not isinstance(doc, (dict, list)):
            break
    return doc


def _free_text(path: tuple) -> bool:
    """Whether a location holds text the user writes freely (not a name, type or choice)."""
    if path[:1] == ("runs",):
        return path[-1] not in ("id", "weights")
    return path in (("name",), ("description",)) or path[:2] == ("dataset", "settings")


def _at(doc, path: tuple):
    for key in path:
        doc = doc[key]
    return doc


@st.composite
def project_files(draw) -> bytes:
    """A mutated document as the bytes of a file: JSON (NaN allowed, as Python writes it), indented
    or not, sometimes with a byte-order mark, sometimes cut short."""
    text = json.dumps(draw(mutated_documents()), indent=draw(st.sampled_from([None, 2])),
                      ensure_ascii=draw(st.booleans()))
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans(), label="byte-order mark"):
        data = BOM + data
    if draw(st.integers(0, 9), label="cut") == 9:  # one in ten, and not hypothesis' favourite 0
        data = data[:draw(st.integers(1, len(data) - 1), label="cut at")]
    return data


def with_marker(data: bytes, marker: Path) -> bytes:
    """MARKER (a name in code) becomes the marker's path as a Python literal, escaped for JSON."""
    return data.replace(b"MARKER", json.dumps(repr(str(marker)))[1:-1].encode())


class _LoggedTracebacks(logging.Handler):
    """Collects the exceptions logged with their traceback (a background job's failure, say)."""

    def __init__(self, caught: list[BaseException]) -> None:
        super().__init__(logging.ERROR)
        self.caught = caught

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.caught.append(record.exc_info[1])


@contextlib.contextmanager
def escaped_exceptions() -> Iterator[list[BaseException]]:
    """The exceptions that reach sys.excepthook (how Qt reports one raised in a slot) or are logged
    with a traceback meanwhile: either way the user would see a traceback, not a message."""
    caught: list[BaseException] = []
    previous = sys.excepthook
    sys.excepthook = lambda _type, exc, _tb: caught.append(exc)
    handler = _LoggedTracebacks(caught)
    logging.getLogger().addHandler(handler)
    try:
        yield caught
    finally:
        logging.getLogger().removeHandler(handler)
        sys.excepthook = previous


@contextlib.contextmanager
def memory_guard(extra: int = 4 * 2**30) -> Iterator[None]:
    """This process may take at most `extra` more bytes of address space meanwhile: a file that makes
    the studio build a model too big for memory fails at once instead of taking the machine."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    limit = size + extra if hard == resource.RLIM_INFINITY else min(size + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _small_enough_to_export(project) -> bool:
    summary = summarize(project.graph)
    return summary.total <= EXPORT_MAX_PARAMS and summary.activation_bytes(1) <= EXPORT_MAX_ACTIVATION_BYTES


def export_everywhere(project, folder: Path, marker: Path) -> Counter:
    """Export to every format; only StudioError may come out. Returns what happened per format."""
    tally: Counter = Counter()
    if not _small_enough_to_export(project):
        tally["export skipped: large model"] += 1
        return tally
    folder.mkdir(exist_ok=True)
    for name, fmt in FORMATS.items():
        output = folder / f"model{fmt.suffix}"
        try:
            export_project(project, name, output)
        except StudioError as exc:
            assert str(exc), f"an empty message exporting {name}"
            tally[f"export {name} refused"] += 1
            continue
        tally[f"export {name} written"] += 1
        if name == "pytorch":
            _import_source(output)
        assert not marker.exists(), f"the {name} export ran code from the file"
    return tally


def _import_source(path: Path) -> None:
    """Import the exported source as its users would (under a fresh module name)."""
    spec = importlib.util.spec_from_file_location(f"fuzzed_export_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def open_in_window(files: ProjectFiles, errors: list[str], path: Path, readable: bool) -> None:
    """The window opens `path`: a file it cannot read is one shown message, and nothing escapes."""
    errors.clear()
    before = files.doc.project
    with escaped_exceptions() as escaped:
        opened = files.load(path)
        QCoreApplication.processEvents()
    assert not escaped, f"an exception escaped the window: {escaped[0]!r}"
    if readable:
        assert opened and not errors, f"the window refused a readable file: {errors}"
        assert files.doc.project is not before
    else:
        assert not opened and len(errors) == 1 and errors[0], f"expected one shown message: {errors}"
        assert files.doc.project is before


def check_file(data: bytes, folder: Path, files: ProjectFiles, errors: list[str]) -> Counter:
    """All the checks on one input; returns counts of what happened (accepted, refused, exports)."""
    marker = folder / "MARKER_RAN"
    marker.unlink(missing_ok=True)
    path = folder / "fuzzed.studio"
    path.write_bytes(with_marker(data, marker))
    tally: Counter = Counter()
    with memory_guard():
        try:
            project = load_project(path)
        except ProjectError as exc:
            assert str(exc), "an empty message"
            tally["refused"] += 1
        else:
            tally["accepted"] += 1
            tally += export_everywhere(project, folder / "exports", marker)
        open_in_window(files, errors, path, readable=bool(tally["accepted"]))
    assert not marker.exists(), "code from the file ran"
    return tally


# Measured: a fifth of the inputs are accepted, each exported four times and imported (about 0.3 s);
# the others take milliseconds. 300 inputs take 30-45 s on a busy machine of two cores.
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
pytestmark = pytest.mark.filterwarnings("ignore::Warning")  # exporters warn about traced models


@pytest.mark.timeout(240)
@FUZZ
@given(data=project_files())
def test_fuzzed_files_export_and_open_or_give_one_message(window, answers, tmp_path, data):  # noqa: F811
    check_file(data, tmp_path, window.files, answers.errors)


def test_the_marker_literal_is_working_code(tmp_path):
    """MARKER replaced as the files carry it makes `open(MARKER, "w")` create the marker, so a payload
    that reached code unescaped would be seen."""
    marker = tmp_path / "MARKER_RAN"
    code = json.loads(b'"' + with_marker(b'open(MARKER, \\"w\\").close()', marker) + b'"')
    exec(code)  # the test's own code, never a file's
    assert marker.exists()
    assert sum("MARKER" in p for p in PAYLOADS) >= 10


def test_a_hostile_but_valid_project_is_accepted_exported_and_opened(window, answers, tmp_path):  # noqa: F811
    """The fixed point of the fuzzing: every text of the project a payload, and every check passes."""
    doc = json.loads(json.dumps(VALID))
    doc["name"], doc["description"] = PAYLOADS[0], "\n".join(PAYLOADS)
    doc["runs"][0]["message"] = PAYLOADS[1]
    tally = check_file(BOM + json.dumps(doc).encode(), tmp_path, window.files, answers.errors)
    assert tally["accepted"] == 1
    assert all(tally[f"export {name} written"] == 1 for name in FORMATS), tally


def _readable(path: Path) -> bool:
    try:
        load_project(path)
    except ProjectError:
        return False
    return True


# The corpus's project files that need no trained run: each opens in the window, or is one message.
WINDOW_CASES = [name for name, case in CASES.items() if case.needs in (None, "huge_project")]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", WINDOW_CASES)
def test_every_hostile_project_opens_in_the_window_or_shows_one_message(window, answers, tmp_path,  # noqa: F811
                                                                        name):
    """Opened, and the window closed again: what the file started in the background (the Results
    view loads the latest run) ends too, with a message rather than a traceback."""
    box, case = Sandbox(tmp_path), CASES[name]
    if case.needs == "huge_project":
        write_huge_project(box.case)
    else:
        case.make(box, {})
    path = only_project(box.case)
    promised = "summary" in case.succeeds or (case.refused != ALL and _readable(path))
    with memory_guard(), escaped_exceptions() as escaped:
        open_in_window(window.files, answers.errors, path, readable=promised)
        assert window.close()  # waits for the background work
        QCoreApplication.processEvents()
    assert not escaped, f"a traceback while the window was open: {escaped[0]!r}"
    assert not box.marker.exists(), "code from the file ran"
    if not promised:
        assert path.name in answers.errors[0], f"the message does not name the file: {answers.errors[0]}"
