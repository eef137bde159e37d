"""Project files: round trips, atomic saves, clear errors for every kind of bad file, migrations."""

from __future__ import annotations

import copy
import json
import os
import pickle
from pathlib import Path

import pytest

import studio.core.atomic as atomic
import studio.core.project as project_module
from studio.core.errors import ProjectError, StudioError
from studio.core.project import Project, load_project, parse_project, project_from_dict, save_project

from .builders import seed_cnn


def sample_project() -> Project:
    graph = seed_cnn()
    graph.move(graph.node_by_name("dense").id, (12.5, -40.0))
    return Project(
        graph=graph, name="cats_vs_dogs", description="Keras' CNN — with ünïcode and \"quotes\"",
        dataset={"name": "image_folder", "settings": {"path": "data/cats", "size": [150, 150],
                                                       "augment": {"flip": True, "zoom": 0.2}}},
        training={**project_module.TRAINING_PARAMS.defaults(), "optimizer": "sgd", "learning_rate": 0.05,
                  "epochs": 3, "nesterov": True},
        runs=[{"id": "run1", "history": {"loss": [0.7, 0.5]}, "note": None}],
    )


def sample_dict() -> dict:
    return json.loads(json.dumps(sample_project().to_dict()))


def write(tmp_path: Path, content: dict | str | bytes, name: str = "p.studio") -> Path:
    path = tmp_path / name
    if isinstance(content, dict):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def test_save_then_load_gives_the_same_project(tmp_path):
    original = sample_project()
    path = save_project(original, tmp_path / "cats.studio")
    assert path == tmp_path / "cats.studio" and original.path == path
    loaded = load_project(path)
    assert loaded.to_dict() == original.to_dict()
    assert loaded.path == path
    assert loaded.graph.node_by_name("dense").pos == (12.5, -40.0)
    assert loaded.training["learning_rate"] == 0.05 and loaded.training["nesterov"] is True
    # Saving what was loaded writes the same bytes: files diff cleanly.
    save_project(loaded, tmp_path / "again.studio")
    assert (tmp_path / "again.studio").read_bytes() == path.read_bytes()
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "model-studio-project" and document["format_version"] == 1


def test_example_projects_load_and_save_unchanged(tmp_path):
    folder = Path(__file__).resolve().parents[2] / "projects"
    files = sorted(folder.glob("*.studio"))
    assert files
    for path in files:
        loaded = load_project(path)
        again = load_project(save_project(loaded, tmp_path / path.name))
        assert again.to_dict() == loaded.to_dict()


def test_save_without_a_path_is_a_project_error():
    with pytest.raises(ProjectError):
        save_project(Project())


def _saved(tmp_path) -> tuple[Path, bytes]:
    path = save_project(sample_project(), tmp_path / "p.studio")
    return path, path.read_bytes()


def _changed() -> Project:
    project = sample_project()
    project.name = "changed"
    return project


def test_failed_replace_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path, before = _saved(tmp_path)

    def refuse(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    project = _changed()
    project.path = None
    with pytest.raises(StudioError, match="no space left on the disk; the previous file is unchanged"):
        save_project(project, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["p.studio"]
    assert project.path is None  # not remembered as saved


def test_write_failing_half_way_keeps_the_old_file(tmp_path, monkeypatch):
    path, before = _saved(tmp_path)
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()
            return False

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, *a, **k: HalfWriter(real_fdopen(fd, *a, **k)))
    with pytest.raises(StudioError, match="the previous file is unchanged"):
        save_project(_changed(), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["p.studio"]
    assert load_project(path).name == "cats_vs_dogs"


def test_failed_fsync_keeps_the_old_file(tmp_path, monkeypatch):
    path, before = _saved(tmp_path)

    def fail(_fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(atomic.os, "fsync", fail)
    with pytest.raises(StudioError, match="the previous file is unchanged"):
        save_project(_changed(), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["p.studio"]


# --- bad files --------------------------------------------------------------------------------------

def _edit(change):
    def make() -> dict:
        data = sample_dict()
        change(data)
        return data
    return make


def _delete(*keys):
    def change(data):
        target = data
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return change


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(data):
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


def _add_cycle(data):
    # conv2d -> add -> relu -> add: the last edge closes a loop (Add takes any number of inputs).
    data["graph"]["nodes"] += [{"id": "a1", "type": "Add", "name": "add", "params": {}, "pos": [0, 0]},
                               {"id": "r1", "type": "ReLU", "name": "re_lu", "params": {}, "pos": [0, 0]}]
    data["graph"]["edges"] += [{"from": "n2", "to": "a1"}, {"from": "a1", "to": "r1"},
                               {"from": "r1", "to": "a1"}]


BAD_DOCUMENTS = [
    # (id, document factory, field, words the message must contain)
    ("missing-dataset", _edit(_delete("dataset")), "dataset", "missing"),
    ("missing-dataset-name", _edit(_delete("dataset", "name")), "dataset.name", "missing"),
    ("missing-graph", _edit(_delete("graph")), "graph", ""),
    ("missing-nodes", _edit(_delete("graph", "nodes")), "graph.nodes", "list"),
    ("missing-node-type", _edit(lambda d: d["graph"]["nodes"][1].pop("type")), "graph.nodes[1].type",
     "missing"),
    ("missing-edge-end", _edit(lambda d: d["graph"]["edges"][0].pop("to")), "graph.edges[0].to", "missing"),
    ("missing-format-version", _edit(_delete("format_version")), "format_version", ""),
    ("name-not-text", _edit(_set("name", 5)), "name", "expects text"),
    ("training-a-list", _edit(_set("training", [])), "training", "object"),
    ("dataset-name-number", _edit(_set("dataset", "name", 3)), "dataset.name", "text"),
    ("settings-a-list", _edit(_set("dataset", "settings", [1])), "dataset.settings", "object"),
    ("batch-size-text", _edit(_set("training", "batch_size", "32")), "training.batch_size", "whole number"),
    ("batch-size-bool", _edit(_set("training", "batch_size", True)), "training.batch_size", "whole number"),
    ("nesterov-number", _edit(_set("training", "nesterov", 1)), "training.nesterov", "true or false"),
    ("unknown-training-setting", _edit(_set("training", "learnin_rate", 0.1)), "training.learnin_rate",
     "unknown"),
    ("learning-rate-overflows", _edit(_set("training", "learning_rate", 1e400)), "training.learning_rate",
     "finite"),
    ("learning-rate-huge-int", _edit(_set("training", "learning_rate", 10**400)), "training.learning_rate",
     ""),
    ("optimizer-unknown", _edit(_set("training", "optimizer", "lbfgs")), "training.optimizer", "adam"),
    ("pos-text", _edit(lambda d: d["graph"]["nodes"][0].update(pos=["a", 1])), "graph.nodes[0].pos",
     "[x, y]"),
    ("pos-infinite", _edit(lambda d: d["graph"]["nodes"][0].update(pos=[1e999, 1])), "graph.nodes[0].pos",
     ""),
    ("node-not-object", _edit(lambda d: d["graph"]["nodes"].__setitem__(2, "Conv2D")), "graph.nodes[2]", ""),
    ("unknown-layer-type", _edit(lambda d: d["graph"]["nodes"][1].update(type="Conv3D")),
     "graph.nodes[1].type", "Conv3D"),
    ("param-out-of-range", _edit(lambda d: d["graph"]["nodes"][1]["params"].update(filters=0)),
     "graph.nodes[1].params.filters", "at least 1"),
    ("param-wrong-length", _edit(lambda d: d["graph"]["nodes"][1]["params"].update(kernel_size=[3, 3, 3])),
     "graph.nodes[1].params.kernel_size", "2 whole numbers"),
    ("param-unknown", _edit(lambda d: d["graph"]["nodes"][1]["params"].update(filter=3)),
     "graph.nodes[1].params.filter", "unknown"),
    ("params-a-list", _edit(lambda d: d["graph"]["nodes"][1].update(params=[])), "graph.nodes[1].params", ""),
    ("bad-node-name", _edit(lambda d: d["graph"]["nodes"][1].update(name="conv 2d")), "graph.nodes[1].name",
     ""),
    ("duplicate-node-name", _edit(lambda d: d["graph"]["nodes"][2].update(name="conv2d")),
     "graph.nodes[2].name", "already named"),
    ("duplicate-node-id", _edit(lambda d: d["graph"]["nodes"][2].update(id="n2")), "graph.nodes[2]",
     "already exists"),
    ("dangling-edge", _edit(lambda d: d["graph"]["edges"][0].update(to="n99")), "graph.edges[0]", "n99"),
    ("edge-port-text", _edit(lambda d: d["graph"]["edges"][0].update(port="0")), "graph.edges[0].port", ""),
    ("second-input-to-dense", _edit(lambda d: d["graph"]["edges"].append({"from": "n1", "to": "n10"})),
     "graph.edges[9]", "already has its input"),
    ("cycle", _edit(_add_cycle), "graph.edges[11]", "cycle"),
    ("newer-format", _edit(_set("format_version", 2)), "format_version", "newer"),
    ("format-version-text", _edit(_set("format_version", "1")), "format_version", ""),
    ("format-version-zero", _edit(_set("format_version", 0)), "format_version", ""),
    ("format-version-bool", _edit(_set("format_version", True)), "format_version", ""),
    ("run-without-id", _edit(_set("runs", [{"loss": 1}])), "runs[0]", "id"),
    ("run-infinite-value", _edit(_set("runs", [{"id": "a", "loss": [1.0, 1e999]}])), "runs[0].loss[1]",
     "finite"),
    ("settings-infinite-value", _edit(_set("dataset", "settings", {"scale": -1e999})),
     "dataset.settings.scale", "finite"),
    ("other-json-object", lambda: {"nodes": [], "edges": []}, None, "not a Model Studio project"),
    ("other-format-name", _edit(_set("format", "keras")), None, "not a Model Studio project"),
    ("json-list", lambda: [sample_dict()], None, "not a Model Studio project"),
    ("json-string", lambda: "model-studio-project", None, "not a Model Studio project"),
    ("json-null", lambda: None, None, "not a Model Studio project"),
]


@pytest.mark.parametrize(("make", "field", "words"),
                         [pytest.param(*row[1:], id=row[0]) for row in BAD_DOCUMENTS])
def test_bad_document_is_a_project_error_naming_file_and_field(tmp_path, make, field, words):
    # Numbers too large for a float (1e999) are written as such; a JSON parser reads them as infinite.
    text = json.dumps(make()).replace("-Infinity", "-1e999").replace("Infinity", "1e999")
    assert "Infinity" not in text
    path = write(tmp_path, text)
    with pytest.raises(ProjectError) as err:
        load_project(path)
    assert err.value.path == str(path)
    assert str(path) in str(err.value)
    assert err.value.field == field
    if field:
        assert f"field '{field}'" in str(err.value)
    assert words in str(err.value)


BAD_FILES = [
    # (id, file content, words the message must contain)
    ("malformed-json", b'{"format": "model-studio-project",\n  "format_version": 1,,\n}', "line 2, column"),
    ("truncated", json.dumps({"format": "model-studio-project", "graph": {}}).encode()[:-5],
     "not valid JSON"),
    ("empty-file", b"", "not valid JSON"),
    ("whitespace-only", b"  \n\t", "not valid JSON"),
    ("png-bytes", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06",
     "not UTF-8"),
    ("latin-1-text", '{"format": "model-studio-project", "name": "caf\u00e9"}'.encode("latin-1"),
     "not UTF-8"),
    ("nan", b'{"format": "model-studio-project", "format_version": 1, "training": {"momentum": NaN}}', "NaN"),
    ("infinity", b'{"format": "model-studio-project", "format_version": 1, "x": Infinity}', "Infinity"),
    ("minus-infinity", b'[-Infinity]', "Infinity"),
    ("too-deep", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("integer-too-long", b'{"format_version": ' + b"9" * 5000 + b"}", "not valid JSON"),
]


@pytest.mark.parametrize(("content", "words"), [pytest.param(*row[1:], id=row[0]) for row in BAD_FILES])
def test_unreadable_file_is_a_project_error_naming_the_file(tmp_path, content, words):
    path = write(tmp_path, content)
    with pytest.raises(ProjectError) as err:
        load_project(path)
    assert err.value.path == str(path) and str(path) in str(err.value)
    assert err.value.field is None
    assert words in str(err.value)


def test_folder_and_missing_file_are_project_errors(tmp_path):
    folder = tmp_path / "looks_like.studio"
    folder.mkdir()
    with pytest.raises(ProjectError, match="folder") as err:
        load_project(folder)
    assert err.value.path == str(folder)
    missing = tmp_path / "missing.studio"
    with pytest.raises(ProjectError, match="does not exist") as err:
        load_project(missing)
    assert err.value.path == str(missing)


def _nested_runs(depth: int) -> str:
    """A project file whose runs make the document `depth` levels deep."""
    data = sample_dict()
    data["runs"] = [{"id": "deep", "x": "HERE"}]
    # The document, the runs list and the run are three levels; the rest are nested objects.
    levels = depth - 3
    text = json.dumps(data).replace('"HERE"', '{"a": ' * (levels - 1) + "{}" + "}" * (levels - 1))
    return text


def test_deeply_nested_but_parseable_data_is_a_project_error(tmp_path):
    # Deep enough to strain recursive walkers (checks, saving, copying), shallow enough for the JSON
    # parser to accept: refused up front rather than failing later with a RecursionError.
    for depth in (project_module.MAX_DEPTH + 1, 500, 900, 990):
        with pytest.raises(ProjectError) as err:
            load_project(write(tmp_path, _nested_runs(depth)))
        assert "deep" in str(err.value)


def test_nesting_up_to_the_limit_loads_and_saves(tmp_path):
    text = _nested_runs(project_module.MAX_DEPTH)
    loaded = load_project(write(tmp_path, text))
    again = load_project(save_project(loaded, tmp_path / "again.studio"))
    assert again.runs == json.loads(text)["runs"]


def test_realistic_nesting_is_fine(tmp_path):
    data = sample_dict()
    data["runs"] = [{"id": "r", "epochs": [{"metrics": {"per_class": [{"name": "cat", "f1": [0.5]}]}}]}]
    loaded = load_project(write(tmp_path, data))
    assert loaded.runs == data["runs"]


def test_unicode_path_is_reported_as_given(tmp_path):
    path = write(tmp_path, b"{", name="pröject ünïcode.studio")
    with pytest.raises(ProjectError) as err:
        load_project(path)
    assert "pröject ünïcode.studio" in str(err.value)


# --- migrations -------------------------------------------------------------------------------------

def _old_v1_document() -> dict:
    """A pretend format-1 file: the graph was called "model" and Conv2D was "Convolution2D"."""
    data = sample_dict()
    data["format_version"] = 1
    data["model"] = data.pop("graph")
    for node in data["model"]["nodes"]:
        if node["type"] == "Conv2D":
            node["type"] = "Convolution2D"
    return data


def _v1_to_v2(doc: dict) -> dict:
    doc["graph"] = doc.pop("model")
    for node in doc["graph"]["nodes"]:
        if node["type"] == "Convolution2D":
            node["type"] = "Conv2D"
    return doc


def test_old_document_is_migrated_step_by_step(monkeypatch):
    monkeypatch.setattr(project_module, "FORMAT_VERSION", 2)
    calls = []

    def step(doc):
        calls.append(doc["format_version"])
        return _v1_to_v2(doc)

    monkeypatch.setitem(project_module.MIGRATIONS, 1, step)
    old = _old_v1_document()
    untouched = copy.deepcopy(old)
    loaded = project_from_dict(old, path="old.studio")
    assert calls == [1]
    assert old == untouched  # the migration edits a copy, not the caller's document
    assert [n.type for n in loaded.graph.nodes.values()].count("Conv2D") == 3
    assert loaded.to_dict()["format_version"] == 2
    assert loaded.to_dict()["graph"] == sample_dict()["graph"]

    # A current (v2) document is read as it is.
    calls.clear()
    current = loaded.to_dict()
    assert project_from_dict(json.loads(json.dumps(current))).to_dict() == current
    assert calls == []


def test_unmigrated_old_document_without_the_migration_fails(monkeypatch):
    monkeypatch.setattr(project_module, "FORMAT_VERSION", 2)
    monkeypatch.delitem(project_module.MIGRATIONS, 1, raising=False)
    with pytest.raises(ProjectError) as err:
        project_from_dict(_old_v1_document(), path="old.studio")
    assert err.value.field == "format_version" and "migration" in str(err.value)


def test_migration_failing_on_a_malformed_old_file_is_a_project_error(monkeypatch):
    monkeypatch.setattr(project_module, "FORMAT_VERSION", 2)
    monkeypatch.setitem(project_module.MIGRATIONS, 1, _v1_to_v2)
    broken = _old_v1_document()
    del broken["model"]  # _v1_to_v2 assumes it is there
    with pytest.raises(ProjectError) as err:
        project_from_dict(broken, path="old.studio")
    assert err.value.path == "old.studio" and err.value.field == "format_version"
    # Without the migration the old layer name is just an unknown type.
    monkeypatch.setattr(project_module, "FORMAT_VERSION", 1)
    with pytest.raises(ProjectError):
        project_from_dict(_old_v1_document())


# --- no code runs on load ---------------------------------------------------------------------------

class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def test_a_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "marker"
    path = write(tmp_path, pickle.dumps(_Exploit(marker)))
    with pytest.raises(ProjectError):
        load_project(path)
    assert not marker.exists()
    # (The same bytes would run code if unpickled, so the check is meaningful.)
    pickle.loads(path.read_bytes())
    assert marker.read_text() == "pwned"


def test_code_like_content_is_kept_as_plain_data(tmp_path):
    marker = tmp_path / "marker"
    payload = f"__import__('pathlib').Path({str(marker)!r}).write_text('pwned')"
    data = sample_dict()
    data["name"] = payload
    data["dataset"]["settings"] = {"__reduce__": [payload], "py/object": "os.system",
                                   "!!python/object/apply:os.system": ["true"], "__class__": {"x": 1}}
    data["runs"] = [{"id": "r", "__reduce__": {"callable": "os.system", "args": ["true"]}}]
    loaded = load_project(write(tmp_path, data))
    assert not marker.exists()
    assert loaded.name == payload
    assert loaded.dataset["settings"] == data["dataset"]["settings"]
    assert loaded.runs == data["runs"]
    assert all(type(v) in (str, list, dict) for v in loaded.dataset["settings"].values())
    data["graph"]["nodes"][1]["type"] = "__import__"
    with pytest.raises(ProjectError, match="unknown layer type"):
        load_project(write(tmp_path, data))


def test_parse_project_without_a_path_still_raises_project_error():
    with pytest.raises(ProjectError) as err:
        parse_project("{")
    assert err.value.path is None
    assert parse_project(json.dumps(sample_dict())).to_dict() == sample_dict()
