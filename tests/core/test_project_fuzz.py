"""Fuzzing the project reader: whatever the input, the only exception is ProjectError.

And whatever it accepts, it can save and read back unchanged.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core.errors import ProjectError
from studio.core.project import Project, load_project, parse_project, project_from_dict, to_json_text

from .builders import chain

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _valid_document() -> dict:
    # Every kind of parameter (int, float, bool, choice, ints) and a multi-input node with ports.
    graph = chain([
        ("Input", {"kind": "image", "channels": 3, "height": 16, "width": 16}),
        ("Conv2D", {"filters": 8, "kernel_size": [3, 3], "padding": "same"}),
        ("BatchNorm", {"momentum": 0.2}),
        ("Dropout", {"rate": 0.1}),
    ])
    bn = graph.node_by_name("dropout")
    add = graph.add_node("Add")
    graph.connect(bn.id, add.id)
    graph.connect(graph.node_by_name("conv2d").id, add.id)
    flat = graph.add_node("Flatten")
    graph.connect(add.id, flat.id)
    out = graph.add_node("Dense", params={"units": 2, "activation": "softmax", "use_bias": False})
    graph.connect(flat.id, out.id)
    project = Project(graph=graph, name="fuzz", description="d",
                      dataset={"name": "digits", "settings": {"split": 0.2, "classes": [0, 1]}},
                      runs=[{"id": "r1", "history": {"loss": [1.0, 0.5]}, "best": 1}])
    return json.loads(json.dumps(project.to_dict()))


VALID = _valid_document()
VALID_TEXT = to_json_text(VALID)

SPECIAL_NUMBERS = st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**30, 10**400, -(10**400),
                                   1e308, -1e308, 5e-324, 1e-8, 0.5, math.inf, -math.inf, math.nan])
KEYS = st.sampled_from(["format", "format_version", "name", "graph", "nodes", "edges", "id", "type",
                        "params", "pos", "from", "to", "port", "dataset", "settings", "training", "runs",
                        "units", "filters", "kernel_size", "learning_rate", "__proto__"]) \
    | st.text(max_size=6)
LEAVES = (st.none() | st.booleans() | st.integers() | SPECIAL_NUMBERS | st.floats()
          | st.text(max_size=12) | st.sampled_from(["Conv2D", "Dense", "Input", "n1", "n2", "relu", "same",
                                                    "model-studio-project", ""]))
JSON_VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12)
# Most replacements are single awkward values; the rest are whole random subtrees.
REPLACEMENTS = SPECIAL_NUMBERS | LEAVES | JSON_VALUES

# One of each kind of awkward value, for the exhaustive sweep.
AWKWARD = [None, True, False, 0, -1, 2**63, 10**400, -(10**400), 1e308, -1e308, 5e-324, math.inf, math.nan,
           0.5, "", "x", "Conv2D", [], [1, 2], [[3]], {}, {"a": 1}, {"id": "n1"}]


def _paths(value, prefix=()):
    """Every location inside a document, as a tuple of keys and indexes."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*prefix, i))


def _mutate(doc, path, action, value):
    if not path:
        return value if action != "delete" else {}
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif isinstance(parent, dict):
        parent[f"{last}_extra"] = value  # an unexpected neighbour
    else:
        parent.insert(last, value)  # an unexpected list item
    return doc


def _accepts_or_project_error(load):
    try:
        project = load()
    except ProjectError as exc:
        assert str(exc)  # a message, never empty
        return None
    # Whatever is accepted can be written and read back unchanged.
    saved = project.to_dict()
    again = parse_project(to_json_text(saved))
    assert again.to_dict() == saved
    return project


@FUZZ
@given(st.data())
def test_mutated_documents_give_only_project_errors(data):
    doc = json.loads(json.dumps(VALID))
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = list(_paths(doc))
        path = data.draw(st.sampled_from(paths), label="path")
        action = data.draw(st.sampled_from(["replace", "replace", "delete", "insert"]), label="action")
        value = data.draw(REPLACEMENTS, label="value")
        doc = _mutate(doc, path, action, value)
        if not isinstance(doc, (dict, list)):
            break
    _accepts_or_project_error(lambda: project_from_dict(doc, path="fuzz.studio"))


def test_every_location_with_every_awkward_value_gives_only_project_errors():
    """Deterministic sweep: each place in a valid document replaced by each awkward value, or deleted."""
    paths = list(_paths(VALID))[1:]
    assert len(paths) > 100
    for path in paths:
        for action, values in (("replace", AWKWARD), ("delete", [None])):
            for value in values:
                doc = _mutate(json.loads(json.dumps(VALID)), path, action, value)
                try:
                    _accepts_or_project_error(lambda doc=doc: project_from_dict(doc, path="sweep.studio"))
                except AssertionError:
                    raise
                except Exception as exc:
                    pytest.fail(f"{action} {path} with {value!r:.40}: {type(exc).__name__}: {exc}")


@FUZZ
@given(JSON_VALUES)
def test_arbitrary_json_values_give_only_project_errors(value):
    _accepts_or_project_error(lambda: project_from_dict(value))
    if isinstance(value, dict):
        value["format"] = "model-studio-project"
        value.setdefault("format_version", 1)
        _accepts_or_project_error(lambda: project_from_dict(value))


@FUZZ
@given(st.text())
def test_arbitrary_text_gives_only_project_errors(text):
    _accepts_or_project_error(lambda: parse_project(text, path="t.studio"))


@FUZZ
@given(st.integers(0, len(VALID_TEXT)), st.integers(0, 40), st.text(max_size=8))
def test_corrupted_project_text_gives_only_project_errors(start, length, inserted):
    text = VALID_TEXT[:start] + inserted + VALID_TEXT[start + length:]
    _accepts_or_project_error(lambda: parse_project(text, path="t.studio"))


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(st.binary(max_size=200) | st.builds(lambda b, i: VALID_TEXT.encode()[:i] + b, st.binary(max_size=8),
                                             st.integers(0, len(VALID_TEXT))))
def test_arbitrary_bytes_in_a_file_give_only_project_errors(fuzz_dir, content):
    path = fuzz_dir / "bytes.studio"
    path.write_bytes(content)
    try:
        load_project(path)
    except ProjectError as exc:
        assert exc.path == str(path)


def test_the_fuzzed_document_is_valid_to_begin_with():
    assert project_from_dict(json.loads(json.dumps(VALID))).to_dict() == VALID
