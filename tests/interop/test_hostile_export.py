"""A project file is data: no text in it (names, descriptions, dataset settings, layer names) and no file
name can make an export, or a file it wrote, run code.

Every payload below tries to create a marker file when run. Each is fed through every export format,
from the Python API and the command line, and the exported files are then loaded (the Python file is
imported, here and in a fresh process; the TorchScript and ONNX files are loaded). The marker must never
appear; each export either succeeds with the text kept as a literal, or fails with one line.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import json
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import onnx
import pytest
import torch
from safetensors import safe_open

from studio.cli import main
from studio.core.errors import GraphError, ProjectError, StudioError
from studio.core.graph import ModelGraph
from studio.core.project import Project, load_project, save_project
from studio.interop import InteropError
from studio.interop import export_pytorch as export_pytorch_module
from studio.interop.codegen import NEUTRAL, docstring_text, identifier, py_string, same_code
from studio.interop.export import FORMATS, export_project
from studio.interop.export_pytorch import class_name, pytorch_source
from studio.interop.export_safetensors import metadata_text
from tests.core.builders import chain

from .helpers import PROJECTS

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated:FutureWarning")

# Each one tries to run `open(MARKER, "w")` (MARKER becomes the marker's path as a literal) when it
# lands in generated code unescaped: closing docstrings or strings, breaking lines, template and
# f-string fields, an encoding declaration, and text long enough to be wrapped.
PAYLOADS = {
    "triple-double": 'x"""\nimport os; os.system("touch " + MARKER)\n"""',
    "triple-single": "x'''\nopen(MARKER, 'w')\n'''",
    "quote-at-end": 'open(MARKER, "w")  # "',
    "two-quotes-at-end": 'x""',
    "backslash-at-end": "x\\",
    "backslash-quotes": '\\"""\nopen(MARKER, "w")\n#\\',
    "backslash-newline": "x\\\nopen(MARKER, 'w')",
    "carriage-return": '"""\rimport os; os.system("touch " + MARKER)\r"""',
    "nul": '"""\x00open(MARKER, "w")\x00"""',
    "line-separators": '"""\u2028open(MARKER, "w")\u2029\x85\x0c"""',
    "hash": "# \"\"\"\n#\nopen(MARKER, 'w') #",
    "template": '$name ${cls} $$ {__import__("os").system("touch " + MARKER)} """$description',
    "f-string": 'f"{open(MARKER, \'w\')}" {0.__class__} {{}} """ + f"{open(MARKER, "w")}',
    "encoding": "# -*- coding: utf-7 -*-\n+ACIAIgAi-\nopen(MARKER, 'w')\n+ACIAIgAi-",
    "bidi": '\u202e"""\u2066open(MARKER, "w")\u2069"""',
    "tabs-and-lone-surrogate": '\t"""\t\ud800open(MARKER, "w")"""',
    "very-long": "word " * 4000 + 'x"""\nopen(MARKER, "w")\n"""' + "y" * 30_000,
}

# Layer names that are not identifiers: refused when the project is loaded, naming the field.
BAD_LAYER_NAMES = {
    "final-newline": "dense\n",
    "code-after-newline": 'dense\nopen(MARKER, "w")',
    "call": 'dense); open(MARKER, "w"); (x',
    "quote": 'dense"',
    "return": "dense\r",
    "nul": "dense\x00",
    "line-separator": "dense\u2028",
    "non-ascii": "dénse",
    "space": "my dense",
    "digit-first": "1dense",
    "too-long": "d" * 65,
    "empty": "",
}

# Identifiers that are valid layer names but collide with Python or with names in the generated file.
ODD_LAYER_NAMES = ["__import__", "exec", "eval", "open", "lambda", "None", "self", "torch", "nn", "F",
                   "math", "argparse", "model", "x", "_", "__x__", "RENAMED", "load_state", "forward",
                   "training", "__dict__", "layers", "Model", "x_dense"]


def payload(template: str, marker: Path) -> str:
    return template.replace("MARKER", repr(str(marker)))


def small_graph(layer_name: str | None = None) -> ModelGraph:
    graph = chain([("Input", {"kind": "vector", "features": 3}),
                   ("Dense", {"units": 4, "activation": "relu"}),
                   ("Dense", {"units": 2, "activation": "softmax"})])
    if layer_name is not None:
        graph.rename(graph.nodes["n2"].id, layer_name)
    return graph


def hostile_project(text: str, folder: Path, file_name: str = "hostile") -> Project:
    """A saved project with `text` as its name, in its description and in its dataset settings."""
    settings = {"path": text, "target": text, "class_names": [text, "cat"]}
    project = Project(graph=small_graph(), name=text, description=f"{text}\n\nSecond paragraph: {text}",
                      dataset={"name": "csv", "settings": settings})
    save_project(project, folder / f"{file_name}.studio")
    return load_project(folder / f"{file_name}.studio")  # as a stranger's file is read


def load_python(path: Path):
    spec = importlib.util.spec_from_file_location("hostile_export", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def squeezed(text: str) -> str:
    return "".join(text.split())


def assert_loads_safely(fmt: str, path: Path, text: str, marker: Path,
                        description: str | None = None) -> None:
    """Loads an exported file as its users would, and checks the project's text is data in it."""
    if fmt == "pytorch":
        module = load_python(path)
        assert module.__doc__.startswith(f"{text}: a PyTorch model exported from Model Studio.")
        if description is not None:
            assert squeezed(description) in squeezed(module.__doc__)
        model = getattr(module, class_name(text))().eval()
        assert model(torch.randn(2, 3)).shape == (2, 2)
    elif fmt == "torchscript":
        assert torch.jit.load(str(path))(torch.randn(2, 3)).shape == (2, 2)
        with zipfile.ZipFile(path) as archive:  # code, constants and extra files: no text of the project
            assert not any(str(marker).encode() in archive.read(member) for member in archive.namelist())
    elif fmt == "onnx":
        loaded = onnx.load(str(path))
        onnx.checker.check_model(loaded)
        assert not loaded.metadata_props and not loaded.doc_string and not loaded.graph.doc_string
        assert str(marker).encode() not in path.read_bytes()
    else:
        with safe_open(path, "pt") as handle:
            metadata = handle.metadata()
        assert metadata["project"] == metadata_text(text)  # kept as data (exactly, where UTF-8 can)
        assert str(marker) not in metadata["graph"]
    assert not marker.exists()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("key", PAYLOADS)
def test_hostile_project_text_through_every_format(tmp_path, key):
    marker = tmp_path / "marker"
    text = payload(PAYLOADS[key], marker)
    project = hostile_project(text, tmp_path)
    for fmt in FORMATS:
        path = export_project(project, fmt).path
        assert not marker.exists(), fmt
        assert_loads_safely(fmt, path, text, marker, project.description)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("key", ["triple-double", "carriage-return", "f-string", "encoding"])
def test_hostile_project_text_through_the_command_line(tmp_path, key, capsys):
    marker = tmp_path / "marker"
    text = payload(PAYLOADS[key], marker)
    project = hostile_project(text, tmp_path)
    for fmt, spec in FORMATS.items():
        output = tmp_path / f"out{spec.suffix}"
        assert main(["export", str(project.path), "--format", fmt, "--output", str(output)]) == 0, fmt
        assert not marker.exists(), fmt
        assert_loads_safely(fmt, output, text, marker)
    assert capsys.readouterr().err == ""


def test_the_example_name_from_a_stranger_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = 'x"""\nimport os; os.system("touch pwned")\n"""'
    project = hostile_project(name, tmp_path)
    assert main(["export", str(project.path), "--format", "pytorch"]) == 0
    load_python(tmp_path / "hostile.py")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.timeout(300)
def test_exported_files_run_nothing_in_a_fresh_process(tmp_path):
    """Each hostile file is imported in a fresh Python, and one of them trained as a script."""
    marker = tmp_path / "marker"
    jobs = []
    for i, key in enumerate(PAYLOADS):
        text = payload(PAYLOADS[key], marker)
        project = hostile_project(text, tmp_path, f"p{i}")
        path = export_project(project, "pytorch").path
        jobs.append({"path": str(path), "name": text, "cls": class_name(text)})
    driver = r"""
import importlib.util, json, sys
import torch
for i, job in enumerate(json.loads(sys.stdin.read())):
    spec = importlib.util.spec_from_file_location(f"m{i}", job["path"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__doc__.startswith(job["name"] + ":"), job["path"]
    getattr(module, job["cls"])()(torch.randn(1, 3))
sys.argv = [job["path"], "--demo", "--epochs", "1"]
module.main()
"""
    run = subprocess.run([sys.executable, "-c", driver], input=json.dumps(jobs), cwd=tmp_path,
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "epoch 1/1: loss" in run.stdout
    assert not marker.exists()


@pytest.mark.parametrize("key", ["triple-double", "carriage-return", "template", "f-string", "hash"])
def test_hostile_output_file_names(tmp_path, monkeypatch, key):
    """The output's file name appears in the generated docstring (`python NAME.py ...`): as text only."""
    monkeypatch.chdir(tmp_path)
    marker = Path("marker")  # relative: a file name holds no '/'
    stem = payload(PAYLOADS[key], marker).replace("\x00", "")
    project = hostile_project("model", tmp_path)
    path = export_project(project, "pytorch", tmp_path / f"{stem}.py").path
    module = load_python(path)
    assert f"python {stem}.py --demo" in module.__doc__
    assert not (tmp_path / marker).exists()


@pytest.mark.parametrize("key", BAD_LAYER_NAMES)
def test_layer_names_that_are_not_identifiers_are_refused_at_load(tmp_path, key, capsys):
    marker = tmp_path / "marker"
    name = payload(BAD_LAYER_NAMES[key], marker)
    save_project(Project(graph=small_graph()), tmp_path / "layer.studio")
    data = json.loads((tmp_path / "layer.studio").read_text())
    data["graph"]["nodes"][1]["name"] = name
    (tmp_path / "layer.studio").write_text(json.dumps(data))
    with pytest.raises(ProjectError) as refused:
        load_project(tmp_path / "layer.studio")
    assert refused.value.field == "graph.nodes[1].name"
    for fmt in FORMATS:
        assert main(["export", str(tmp_path / "layer.studio"), "--format", fmt]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and error.startswith("model-studio: error: ")
        assert "field 'graph.nodes[1].name'" in error and len(error) < 400
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer.studio"]


@pytest.mark.parametrize("name", ["dense\n", "dense\r\n", "a\nb", "x" * 65, "é", " dense"])
def test_graph_edits_refuse_names_that_are_not_identifiers(name):
    graph = small_graph()
    with pytest.raises(GraphError, match="must start with a letter"):
        graph.add_node("Dense", name=name, params={"units": 1})
    with pytest.raises(GraphError, match="must start with a letter"):
        graph.rename("n2", name)
    assert graph.nodes["n2"].name == "dense"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", ODD_LAYER_NAMES)
def test_odd_but_valid_layer_names_export_or_fail_in_one_line(tmp_path, name):
    project = Project(graph=small_graph(name), name="odd")
    save_project(project, tmp_path / "odd.studio")
    for fmt in FORMATS:
        try:
            path = export_project(project, fmt).path
        except StudioError as exc:
            assert fmt == "torchscript", f"{fmt}: {exc}"  # TorchScript cannot hold some names
            assert "\n" not in str(exc) and f"named '{name}'" in str(exc)
            continue
        if fmt == "pytorch":
            model = load_python(path).Odd().eval()
            assert model(torch.randn(2, 3)).shape == (2, 2)


REFUSED = r"^cannot export to PyTorch: .*(would become code|is not valid Python).*; nothing was written$"


def test_a_leak_of_text_into_code_is_refused_before_anything_runs(tmp_path, monkeypatch):
    """Defence in depth: were the docstring quoting lost, the check would refuse before running."""
    marker = tmp_path / "marker"
    monkeypatch.setattr(export_pytorch_module, "docstring_text", lambda text: text)
    # The name alone leaks into valid Python: the syntax trees differ.
    project = Project(graph=small_graph(), name=payload(PAYLOADS["triple-double"], marker))
    save_project(project, tmp_path / "leak.studio")
    with pytest.raises(InteropError, match=r"would become code in the generated file \(line 2\)"):
        export_project(project, "pytorch")
    # With the description as well, the leak does not even parse.
    project = hostile_project(payload(PAYLOADS["triple-double"], marker), tmp_path)
    with pytest.raises(InteropError, match=REFUSED):
        export_project(project, "pytorch")
    assert not marker.exists()
    assert not (tmp_path / "hostile.py").exists() and not (tmp_path / "leak.py").exists()


@pytest.mark.parametrize("name", ['dense = None; open(MARKER, "w"); x', 'dense\nopen(MARKER, "w")',
                                  "dense.__class__"])
def test_a_leak_of_a_name_into_code_is_refused_before_anything_runs(tmp_path, monkeypatch, name):
    marker = tmp_path / "marker"
    project = Project(graph=small_graph(), name="leak")
    project.graph.nodes["n2"].name = payload(name, marker)  # past the graph's own checks
    with pytest.raises(InteropError, match="is not a Python name"):
        export_project(project, "pytorch", tmp_path / "leak.py")
    monkeypatch.setattr(export_pytorch_module, "identifier", lambda name, what: name)
    with pytest.raises(InteropError, match=REFUSED):
        export_project(project, "pytorch", tmp_path / "leak.py")
    assert not marker.exists() and not (tmp_path / "leak.py").exists()


# --- the quoting helpers and the check, on their own ---------------------------------------------------

def hostile_texts() -> list[str]:
    alphabet = ['"', "'", "\\", "\n", "\r", "\x00", "\t", "\u2028", "\u2029", "\x85", "\x0c", "\ufeff",
                "\u202e", "\ud800", "\U0001f600", "#", "{", "}", "$", "%", " ", "a", "é", "N", "u", "x"]
    rng = random.Random(0)
    generated = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    return [payload(t, Path("/tmp/m")) for t in PAYLOADS.values()] + generated + ["", '"', '""', '"""', "\\"]


def test_docstring_text_reads_back_exactly_and_never_leaves_the_docstring():
    for text in hostile_texts():
        body = docstring_text(text)
        assert not any(c in body for c in "\n\r\x00\u2028") and '"""' not in body
        for source in (f'"""{body}"""', f'"""a{body}"""', f'"""{body}\n"""', f'"""{body}{body}"""'):
            tree = ast.parse(source)  # one statement: the docstring, and nothing after it
            assert len(tree.body) == 1 and isinstance(tree.body[0].value, ast.Constant), repr(text)
        assert ast.literal_eval(f'"""{body}"""') == text
        assert ast.literal_eval(f'"""{body}{body}"""') == text + text


def test_py_string_is_a_literal_of_exactly_the_text():
    for text in hostile_texts():
        literal = py_string(text)
        tree = ast.parse(literal, mode="eval")
        assert isinstance(tree.body, ast.Constant) and tree.body.value == text
        assert "\n" not in literal and "\r" not in literal
    assert py_string("relu") == '"relu"' and py_string("it's") == '"it\'s"'


@pytest.mark.parametrize("name", ["a\n", "class", "None", "a b", "é", "", "1a", "a-b", "a\x00"])
def test_identifier_refuses_what_is_not_a_plain_name(name):
    with pytest.raises(InteropError, match="the model class .* is not a Python name"):
        identifier(name, "the model class")


def test_identifier_accepts_plain_names():
    names = ["x", "_", "x_1", "match", "Model"]
    assert [identifier(n, "x") for n in names] == names


def test_same_code_allows_only_placeholders_to_change():
    neutral = f'"""{NEUTRAL}0 doc"""\nclass {NEUTRAL}1:\n    X = "{NEUTRAL}2"\n    Y = "fixed"\n'.encode()
    ids = {f"{NEUTRAL}1": "Real"}
    assert same_code(b'"""any text"""\nclass Real:\n    X = "any"\n    Y = "fixed"\n', neutral, ids, "T")
    refused = [
        b'"""x"""\nopen("m", "w")\nclass Real:\n    X = "any"\n    Y = "fixed"\n',  # a new statement
        b'"""x"""\nclass Other:\n    X = "any"\n    Y = "fixed"\n',  # another identifier
        b'"""x"""\nclass Real:\n    X = open("m")\n    Y = "fixed"\n',  # code where a text was
        b'"""x"""\nclass Real:\n    X = "any"\n    Y = "changed"\n',  # a constant the file did not quote
        b'"""x"""\nclass Real:\n    X = "any"\n    Y = "fixed"\n"""',  # not Python at all
    ]
    for source in refused:
        with pytest.raises(InteropError, match="cannot export to T: ") as exc:
            same_code(source, neutral, ids, "T")
        assert "\n" not in str(exc.value)


def test_the_model_class_never_takes_a_name_the_file_defines(tmp_path):
    for example in ("digits_cnn", "sequence_lstm", "transformer_tokens", "residual_cnn"):
        project = load_project(PROJECTS / f"{example}.studio")
        tree = ast.parse(pytorch_source(project))
        own = class_name(project.name)
        defined = {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
        defined |= {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                    if isinstance(t, ast.Name)}
        defined |= {node.target.id for node in tree.body if isinstance(node, ast.AnnAssign)}
        defined |= {a.asname or a.name for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                    for a in node.names}
        defined.discard(own)
        for name in defined | {"none", "true", "exception", "print", "self_attention", "outputs_"}:
            chosen = class_name(name)
            assert chosen not in defined and chosen.isidentifier() and chosen not in dir(builtins), name
