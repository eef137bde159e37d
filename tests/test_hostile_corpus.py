"""Every file is hostile: each case of the corpus in tests/hostile/ goes through every command of
`model-studio`, and each command keeps the promise of DESIGN.md ("Files and safety"):

- it ends (a hang is a failure) with exit status 0 or 2; 1 only where documented (`summary` of a model
  with problems, a training run that failed);
- stderr holds at most one line besides progress, and no "Traceback" appears anywhere;
- no code a file carries runs (the MARKER file is never created) and nothing is written outside the
  case's folder.

Cases whose promise is stronger say so: `refused` commands must exit 2 with one `model-studio: error:`
line; `succeeds` commands must exit 0 (a file the studio can read, such as one with a byte-order mark).

Each command runs as `python -m studio ...` from the repository root, in a process of its own. By
default that process is forked from a server that has already imported torch and the studio, so the
few hundred commands take a minute, not a quarter of an hour; STUDIO_TEST_FRESH_PROCESSES=1 starts
every command as a fresh interpreter instead (the same checks, slower).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "hostile"
GOOD_IMAGE = CORPUS / "images" / "data" / "cat" / "good_0.png"
DAMAGED_IMAGES = ("cat/truncated.png", "dog/random.jpg", "dog/empty.png", "dog/bomb.png")
COMMAND_TIMEOUT_S = 60
MEMORY_LIMIT = 10 * 2**30  # a model too big for memory is refused, never allowed to take the machine
HUGE_BYTES = 70 * 10**6
EXPORTS = ("pytorch", "torchscript", "onnx", "safetensors")
# Lines the commands print on stderr while they work (studio/commands/train.py), not messages.
PROGRESS = re.compile(r"(Loading data: \d+/\d+ files|Stopping after this batch.*)")
# A message names the problem in the user's words: no Python type names (ValueError, SafetensorError),
# no interpreter's phrases.
PYTHON_WORDS = re.compile(r"\b[A-Z]\w+(Error|Exception)\b|<class |\[Errno|NoneType|object has no attribute")


# --- running commands ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    argv: list[str]
    rc: int | None  # None: killed after the timeout
    stdout: str
    stderr: str

    def shown(self) -> str:
        return (f"model-studio {' '.join(self.argv)}\nexit status: {self.rc}\n"
                f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}")


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _environment() -> dict[str, str]:
    # No GPU: the cases are about files, and a GPU's driver reserves more address space than the limit.
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": ""}


class FreshProcesses:
    """Each command line in a new interpreter: `python ARGS...`."""

    def run(self, args: list[str], out_dir: Path, timeout: float = COMMAND_TIMEOUT_S):
        try:
            done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                                  errors="replace", timeout=timeout, env=_environment(),
                                  preexec_fn=_limit_memory, start_new_session=True)
        except subprocess.TimeoutExpired as exc:
            return None, _text(exc.stdout), _text(exc.stderr)
        return done.returncode, done.stdout, done.stderr

    def close(self) -> None:
        pass


def _text(data) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data or ""


# The server imports what the commands import, then forks one child per command line. The child is
# what `python ARGS...` would be: its own process group, stdin from /dev/null, stdout and stderr to
# files, the module run as __main__, an uncaught exception printed as the interpreter prints it
# (exit status 1), exit handlers run. Nothing is computed before the fork, so no thread pool exists.
_SERVER = r'''
import atexit, json, os, resource, runpy, select, signal, sys, threading, time, traceback
import studio.cli, studio.runs, studio.train, studio.data, studio.analysis.images
import studio.commands.train, studio.commands.evaluate, studio.commands.cluster, studio.commands.predict
import studio.commands.export, studio.commands.make_images, studio.interop.export
for name in [fmt.module for fmt in studio.interop.export.FORMATS.values()] + [
        "torch._dynamo", "torch.onnx", "onnx", "safetensors.torch", "PIL.Image", "sklearn.datasets",
        "sklearn.cluster", "sklearn.metrics", "sklearn.decomposition", "sklearn.manifold"]:
    try:
        __import__(name)  # what commands import on use, imported once here
    except ImportError:
        pass

def child(request):
    os.setpgid(0, 0)
    os.chdir(request["cwd"])
    for fd, name, flags in ((0, os.devnull, os.O_RDONLY), (1, request["stdout"], os.O_WRONLY | os.O_CREAT),
                            (2, request["stderr"], os.O_WRONLY | os.O_CREAT)):
        opened = os.open(name, flags, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)
    resource.setrlimit(resource.RLIMIT_AS, (request["memory"], request["memory"]))
    args, code = request["args"], 0
    try:
        if args[0] == "-m":
            sys.argv = [args[1], *args[2:]]
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        else:  # -c CODE ARGS...
            sys.argv = ["-c", *args[2:]]
            exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        threading._shutdown()  # waits for non-daemon threads, as the interpreter does at exit
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code & 0xFF)

for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        child(request)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    handle = os.pidfd_open(pid)
    ended = select.select([handle], [], [], request["timeout"])[0]
    os.close(handle)
    try:
        os.killpg(pid, signal.SIGKILL)  # a hung command, or what a finished one left running
    except OSError:
        pass
    status = os.waitpid(pid, 0)[1]
    print(json.dumps({"rc": os.waitstatus_to_exitcode(status) if ended else None}), flush=True)
'''


class ForkServer:
    """Command lines run in children forked from a server with torch and the studio imported."""

    def __init__(self, log: Path) -> None:
        self.log = log
        with open(log, "wb") as errors:
            self.process = subprocess.Popen([sys.executable, "-c", _SERVER], cwd=ROOT, env=_environment(),
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                            text=True)

    def run(self, args: list[str], out_dir: Path, timeout: float = COMMAND_TIMEOUT_S):
        out, err = out_dir / "stdout.txt", out_dir / "stderr.txt"
        request = {"args": args, "cwd": str(ROOT), "stdout": str(out), "stderr": str(err),
                   "timeout": timeout, "memory": MEMORY_LIMIT}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            reply = self.process.stdout.readline()
        except OSError:
            reply = ""
        if not reply:
            pytest.fail(f"the command server ended:\n{self.log.read_text(errors='replace')[-3000:]}")
        read = lambda path: path.read_text(errors="replace") if path.exists() else ""  # noqa: E731
        return json.loads(reply)["rc"], read(out), read(err)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="session")
def runner(tmp_path_factory):
    fresh = os.environ.get("STUDIO_TEST_FRESH_PROCESSES") == "1" or not hasattr(os, "pidfd_open")
    server = FreshProcesses() if fresh else ForkServer(tmp_path_factory.mktemp("server") / "server.log")
    yield server
    server.close()


def studio(runner, argv: list[str], out_dir: Path, timeout: float = COMMAND_TIMEOUT_S) -> Outcome:
    out_dir.mkdir(parents=True, exist_ok=True)
    rc, stdout, stderr = runner.run(["-m", "studio", *argv], out_dir, timeout)
    return Outcome(argv, rc, stdout, stderr)


# --- the promise --------------------------------------------------------------------------------------

def documented_codes(command: str) -> set[int]:
    """Exit 1 is documented for `summary` (the model has problems) and `train` (the run failed)."""
    return {0, 1, 2} if command in ("summary", "train", "resume") else {0, 2}


def message_lines(stderr: str) -> list[str]:
    """The lines of stderr that are not progress (a progress line redraws itself after '\\r')."""
    parts = (part.strip() for line in stderr.splitlines() for part in line.split("\r"))
    return [part for part in parts if part and not PROGRESS.fullmatch(part)]


def assert_promise(outcome: Outcome, command: str, *, refused: bool = False, succeeds: bool = False) -> None:
    shown = outcome.shown()
    assert outcome.rc is not None, f"hung: killed after {COMMAND_TIMEOUT_S} s\n{shown}"
    assert "Traceback" not in outcome.stdout + outcome.stderr, f"a traceback\n{shown}"
    assert outcome.rc in documented_codes(command), f"exit status {outcome.rc}\n{shown}"
    messages = message_lines(outcome.stderr)
    assert len(messages) <= 1, f"{len(messages)} lines on stderr besides progress\n{shown}"
    if messages:
        assert not PYTHON_WORDS.search(messages[0]), f"Python's words in the message\n{shown}"
    if refused:
        assert outcome.rc == 2 and messages and messages[0].startswith("model-studio: error: "), \
            f"expected a one-line refusal (exit status 2)\n{shown}"
    if succeeds:
        assert outcome.rc == 0, f"expected success\n{shown}"


@dataclass
class Sandbox:
    """A test's folder: the case in `case`, the marker beside it, a decoy where '../../etc/passwd'
    from the case would land, and a record of every file outside the case."""

    root: Path
    case: Path = field(init=False)
    marker: Path = field(init=False)
    decoy: Path = field(init=False)
    outputs: Path = field(init=False)  # where the commands' stdout and stderr are kept

    def __post_init__(self) -> None:
        self.case = self.root / "w" / "case"
        self.case.mkdir(parents=True)
        self.marker = self.root / "MARKER_RAN"
        self.decoy = self.root / "etc" / "passwd"
        self.decoy.parent.mkdir()
        self.decoy.write_text("root:x:0:0::/root:/bin/sh\n")
        self.outputs = self.root / "outputs"

    def outside(self) -> dict[str, int]:
        """Every file outside the case folder (and outside the commands' own output folder)."""
        return {str(p): p.stat().st_mtime_ns for p in self.root.rglob("*")
                if self.case not in p.parents and p != self.case and self.outputs not in (p, *p.parents)
                and not p.is_dir()}


_TRAVERSAL_FROM_ROOT = (ROOT / "../../x").resolve(), (ROOT / "../x").resolve(), Path("/etc/passwd")


def _stamps(paths) -> dict[Path, int | None]:
    return {p: p.stat().st_mtime_ns if p.exists() else None for p in paths}


def checked(runner, box: Sandbox, argv: list[str], command: str, **expected) -> Outcome:
    """Run one command over the case in `box` and hold it to the promise."""
    before, system = box.outside(), _stamps(_TRAVERSAL_FROM_ROOT)
    outcome = studio(runner, argv, box.outputs)
    assert_promise(outcome, command, **expected)
    assert not box.marker.exists(), f"code from the file ran\n{outcome.shown()}"
    assert box.outside() == before, f"wrote outside the case folder\n{outcome.shown()}"
    assert _stamps(_TRAVERSAL_FROM_ROOT) == system, f"wrote outside the repository\n{outcome.shown()}"
    return outcome


# --- the corpus ---------------------------------------------------------------------------------------

def copy_case(source: Path, box: Sandbox) -> None:
    """Copy a corpus file or folder into the case folder, MARKER replaced by the marker's path."""
    files = [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]
    for path in files:
        target = box.case / (path.name if source.is_file() else path.relative_to(source))
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in (".studio", ".csv") and b"MARKER" in path.read_bytes()[:200_000]:
            literal = repr(str(box.marker))
            text = path.read_text(encoding="utf-8")
            text = text.replace("MARKER", json.dumps(literal)[1:-1] if path.suffix == ".studio" else literal)
            target.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(path, target)


def copy_tree(source: Path, box: Sandbox) -> None:
    shutil.copytree(source, box.case, dirs_exist_ok=True)


def only_project(folder: Path) -> Path:
    (project,) = folder.glob("*.studio")
    return project


def _weights(case: Path) -> Path:
    (weights,) = case.glob("*.safetensors")
    return weights


def _checkpoint_state(case: Path) -> Path:
    (state,) = case.glob("*.checkpoint/*/last.ckpt.pt")
    return state


def _convert_weights(box: Sandbox, dtype_name: str) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    path = _weights(box.case)
    dtype = getattr(torch, dtype_name)
    tensors = {name: (t * 100).round().to(dtype) if not dtype.is_floating_point else t.to(dtype)
               for name, t in load_file(path).items()}
    save_file(tensors, path)


def _checkpoint_is_file(box: Sandbox) -> None:
    (folder,) = box.case.glob("*.checkpoint")
    shutil.rmtree(folder)
    folder.write_text("not a folder\n")


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _fifo_instead(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def _huge_header(path: Path) -> None:
    """A safetensors file whose header claims 2**62 bytes."""
    path.write_bytes(struct.pack("<Q", 2**62) + b'{"a": {}}')


class _Opens:
    """Pickled, it is a call of open(path, "w"): what a checkpoint from a stranger could hold."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


def _state_with_code(box: Sandbox) -> None:
    import torch

    torch.save({"progress": _Opens(str(box.marker))}, _checkpoint_state(box.case))


def write_huge_project(folder: Path) -> None:
    doc = json.loads((ROOT / "projects" / "moons_mlp.studio").read_text())
    doc["description"] = "a" * HUGE_BYTES
    (folder / "huge.studio").write_text(json.dumps(doc))


def _damaged_images(case: Path) -> None:
    for name in DAMAGED_IMAGES:
        shutil.copyfile(CORPUS / "images" / "data" / name, case / "data" / name)
    os.mkfifo(case / "data" / "dog" / "pipe.png")
    os.symlink("nowhere.png", case / "data" / "dog" / "dangling.png")
    os.symlink(".", case / "data" / "cat" / "loop")  # a folder that holds itself


PROJECT_COMMANDS = ("summary", "train", "resume", "evaluate", "cluster", "predict",
                    *(f"export-{fmt}" for fmt in EXPORTS))
ALL = frozenset(PROJECT_COMMANDS)
EXPORTED = frozenset(f"export-{fmt}" for fmt in EXPORTS)
WITH_WEIGHTS = frozenset({"evaluate", "cluster", "export-torchscript", "export-onnx", "export-safetensors"})


@dataclass(frozen=True)
class Case:
    """A corpus entry: how its folder is made, and which commands must be refused or succeed."""

    make: Callable[[Sandbox, dict], None]
    refused: frozenset[str] = frozenset()
    succeeds: frozenset[str] = frozenset()
    needs: str | None = None  # a session fixture with the trained project the case starts from


def corpus(name: str, **expected) -> Case:
    return Case(lambda box, _: copy_case(CORPUS / name, box), **expected)


def trained(change: Callable[[Sandbox], None], **expected) -> Case:
    """The moons project after one epoch (weights and checkpoint beside it), then `change`d."""
    def make(box: Sandbox, fixtures: dict) -> None:
        copy_tree(fixtures["trained_moons"], box)
        change(box)
    return Case(make, needs="trained_moons", **expected)


def _images(box: Sandbox, fixtures: dict) -> None:
    copy_tree(fixtures["trained_images"], box)
    _damaged_images(box.case)


def _hardlinked_huge(box: Sandbox, fixtures: dict) -> None:
    os.link(fixtures["huge_project"] / "huge.studio", box.case / "huge.studio")


def _csv_fifo(box: Sandbox, _fixtures: dict) -> None:
    copy_case(CORPUS / "csv_fifo", box)
    os.mkfifo(box.case / "table.csv")


def _project_is(make: Callable[[Path], None]) -> Callable[[Sandbox, dict], None]:
    """The project file itself is not a file: `make(path)` puts something else at its place."""
    return lambda box, _fixtures: make(box.case / "project.studio")


ACCEPTED = frozenset({"summary", "train"}) | EXPORTED  # a readable project with a model that trains
CASES: dict[str, Case] = {
    "not_json": corpus("not_json.studio", refused=ALL),
    "bom": corpus("bom.studio", succeeds=ACCEPTED),
    "truncated": corpus("truncated.studio", refused=ALL),
    "nested_deep": corpus("nested_deep.studio", refused=ALL),
    "huge_70mb": Case(_hardlinked_huge, refused=ALL, needs="huge_project"),
    "nan_infinity": corpus("nan_infinity.studio", refused=ALL),
    "huge_exponent": corpus("huge_exponent.studio", refused=ALL),
    "project_fifo": Case(_project_is(os.mkfifo), refused=ALL),
    "project_folder": Case(_project_is(os.mkdir), refused=ALL),
    "project_device": Case(_project_is(lambda path: os.symlink("/dev/zero", path)), refused=ALL),
    "wrong_format": corpus("wrong_format.studio", refused=ALL),
    "newer_version": corpus("newer_version.studio", refused=ALL),
    "code_in_texts": corpus("code_in_texts.studio", succeeds=ACCEPTED),
    "code_in_layer_name": corpus("code_in_layer_name.studio", refused=ALL),
    "layer_name_newline": corpus("layer_name_newline.studio", refused=ALL),
    "class_names_traversal": corpus("class_names_traversal.studio", refused=frozenset({"train"})),
    "run_weights_passwd": corpus("run_weights_passwd.studio", refused=ALL),
    "run_id_path": corpus("run_id_path.studio", refused=ALL),
    "too_big_dense": corpus("too_big_dense.studio", refused=ALL - {"summary", "export-pytorch"}),
    "too_big_lstm": corpus("too_big_lstm.studio", refused=ALL - {"summary", "export-pytorch"}),
    "images": Case(_images, needs="trained_images",
                   succeeds=frozenset({"summary", "train", "evaluate"}) | EXPORTED),
    "csv_fifo": Case(_csv_fifo, refused=frozenset({"train"})),
    "csv_binary": corpus("csv_binary", refused=frozenset({"train"})),
    "csv_huge_number": corpus("csv_huge_number"),
    "csv_int_classes_sigmoid": corpus("csv_int_classes_sigmoid", refused=frozenset({"train"})),
    "csv_class_names": corpus("csv_class_names", succeeds=ACCEPTED),
    "weights_fifo": trained(lambda box: _fifo_instead(_weights(box.case)), refused=WITH_WEIGHTS),
    "weights_truncated": trained(lambda box: _truncate(_weights(box.case)), refused=WITH_WEIGHTS),
    "weights_header_huge": trained(lambda box: _huge_header(_weights(box.case)), refused=WITH_WEIGHTS),
    "weights_float16": trained(lambda box: _convert_weights(box, "float16"), succeeds=WITH_WEIGHTS),
    "weights_int8": trained(lambda box: _convert_weights(box, "int8"), refused=WITH_WEIGHTS),
    "checkpoint_is_file": trained(_checkpoint_is_file, refused=frozenset({"train", "resume"}),
                                  succeeds=WITH_WEIGHTS),
    "checkpoint_state_truncated": trained(lambda box: _truncate(_checkpoint_state(box.case)),
                                          refused=frozenset({"resume"}),
                                          succeeds=frozenset({"train"}) | WITH_WEIGHTS),
    "checkpoint_state_code": trained(_state_with_code, refused=frozenset({"resume"}),
                                     succeeds=frozenset({"train"}) | WITH_WEIGHTS),
}


def command_line(command: str, project: Path) -> list[str]:
    if command == "train":
        return ["train", str(project), "--epochs", "1"]
    if command == "resume":
        return ["train", str(project), "--resume"]
    if command == "predict":
        return ["predict", str(project), str(GOOD_IMAGE)]
    if command.startswith("export-"):
        return ["export", str(project), "--format", command.removeprefix("export-")]
    return [command, str(project)]


# Commands that do real work (train, evaluate, export a model) on a case that is read: seconds each.
_WORKS = {"train", "resume", "evaluate", "cluster", "export-torchscript", "export-onnx"}
_READ = {name for name, case in CASES.items() if case.refused != ALL}


def _params():
    for name in CASES:
        for command in PROJECT_COMMANDS:
            marks = [pytest.mark.slow] if name in _READ and command in _WORKS else []
            yield pytest.param(name, command, id=f"{name}-{command}", marks=marks)


# --- fixtures made once: trained projects, the 70 MB file ----------------------------------------------

def _train_once(runner, folder: Path) -> Path:
    outcome = studio(runner, ["train", str(only_project(folder)), "--epochs", "1"], folder.parent / "log")
    assert outcome.rc == 0, f"the fixture's training failed\n{outcome.shown()}"
    return folder


@pytest.fixture(scope="session")
def trained_moons(runner, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("trained_moons") / "project"
    folder.mkdir()
    doc = json.loads((ROOT / "projects" / "moons_mlp.studio").read_text())
    doc["training"].update(epochs=2, threads=1)  # `--resume` continues a short run
    (folder / "moons_mlp.studio").write_text(json.dumps(doc, indent=2))
    return _train_once(runner, folder)


@pytest.fixture(scope="session")
def trained_images(runner, tmp_path_factory) -> Path:
    """The images case trained on its good images only; the damaged ones join each test's copy."""
    folder = tmp_path_factory.mktemp("trained_images") / "project"
    shutil.copytree(CORPUS / "images", folder,
                    ignore=shutil.ignore_patterns(*(Path(name).name for name in DAMAGED_IMAGES)))
    return _train_once(runner, folder)


@pytest.fixture(scope="session")
def huge_project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("huge")
    write_huge_project(folder)
    return folder


@pytest.fixture
def box(tmp_path) -> Sandbox:
    return Sandbox(tmp_path)


def _made(name: str, box: Sandbox, request) -> Path:
    case = CASES[name]
    fixtures = {case.needs: request.getfixturevalue(case.needs)} if case.needs else {}
    case.make(box, fixtures)
    return only_project(box.case)


# --- the tests ----------------------------------------------------------------------------------------

@pytest.mark.timeout(3 * COMMAND_TIMEOUT_S)
@pytest.mark.parametrize(("name", "command"), list(_params()))
def test_every_command_keeps_the_promise_on_every_case(runner, box, request, name, command):
    project = _made(name, box, request)
    case = CASES[name]
    outcome = checked(runner, box, command_line(command, project), command,
                      refused=command in case.refused, succeeds=command in case.succeeds)
    if command == "export-pytorch" and outcome.rc == 0:
        _import_exported(runner, box, project.with_suffix(".py"))


def _import_exported(runner, box: Sandbox, path: Path) -> None:
    """Importing the exported source, as its users would, runs no code the project carried."""
    code = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='exported')"
    rc, stdout, stderr = runner.run(["-c", code, str(path)], box.outputs)
    assert rc == 0 and not box.marker.exists(), f"importing {path.name}: {rc}\n{stdout}\n{stderr}"


PREDICTED = {"truncated_png": "data/cat/truncated.png", "random_jpg": "data/dog/random.jpg",
             "empty_png": "data/dog/empty.png", "bomb_png": "data/dog/bomb.png", "fifo": "data/dog/pipe.png",
             "dangling_link": "data/dog/dangling.png", "folder": "data/cat", "device": "/dev/zero",
             "missing": "data/none.png"}


@pytest.mark.timeout(3 * COMMAND_TIMEOUT_S)
@pytest.mark.parametrize("image", list(PREDICTED))
def test_predict_refuses_every_damaged_image(runner, box, request, image):
    project = _made("images", box, request)
    checked(runner, box, ["predict", str(project), str(box.case / PREDICTED[image])], "predict", refused=True)


@pytest.mark.timeout(3 * COMMAND_TIMEOUT_S)
def test_predict_reads_a_good_image_among_them(runner, box, request):
    project = _made("images", box, request)
    outcome = checked(runner, box, ["predict", str(project), str(GOOD_IMAGE)], "predict", succeeds=True)
    assert "cat" in outcome.stdout


PAYLOAD = 'x"""\nimport os; open(MARKER, "w")\n"""'
MAKE_IMAGES = {
    "into_fifo": ("pipe", None),
    "over_file": ("file.studio", None),
    "class_traversal": ("out", "../../x,cat"),
    "class_code": ("out", f"{PAYLOAD},cat"),
    "class_hidden": ("out", ".x,cat"),
}


@pytest.mark.timeout(3 * COMMAND_TIMEOUT_S)
@pytest.mark.parametrize("name", list(MAKE_IMAGES))
def test_make_images_refuses_hostile_targets_and_class_names(runner, box, name):
    target, classes = MAKE_IMAGES[name]
    folder = box.case / target
    if name == "into_fifo":
        os.mkfifo(folder)
    elif name == "over_file":
        copy_case(CORPUS / "not_json.studio", box)
        folder = box.case / "not_json.studio"
    argv = ["make-images", str(folder), "--per-class", "2", "--size", "8"]
    if classes is not None:
        argv += ["--classes", classes.replace("MARKER", repr(str(box.marker)))]
    checked(runner, box, argv, "make-images", refused=True)


@pytest.mark.timeout(3 * COMMAND_TIMEOUT_S)
def test_the_runner_sees_tracebacks_exit_statuses_and_hangs(runner, tmp_path):
    """The checks above can fail: a traceback, an exit status and a reader stuck on a pipe all show."""
    rc, _, stderr = runner.run(["-c", "raise ValueError('boom')"], tmp_path)
    assert rc == 1 and "Traceback" in stderr and "boom" in stderr
    rc, stdout, _ = runner.run(["-c", "import sys; print('out'); sys.exit(3)"], tmp_path)
    assert (rc, stdout) == (3, "out\n")
    os.mkfifo(tmp_path / "pipe")
    rc, _, _ = runner.run(["-c", "import sys; open(sys.argv[1]).read()", str(tmp_path / "pipe")], tmp_path,
                          timeout=2)
    assert rc is None
    rc, _, stderr = runner.run(["-c", "bytearray(12 * 2**30)"], tmp_path)  # over MEMORY_LIMIT
    assert rc == 1 and "MemoryError" in stderr


def test_the_corpus_is_documented():
    """Every case file or folder in tests/hostile/ has its line in the README, and every case of
    the tests is described there."""
    readme = (CORPUS / "README.md").read_text()
    entries = {p.name for p in CORPUS.iterdir()} - {"README.md", "payloads.json"}
    assert entries
    for entry in entries | set(CASES) | {"payloads.json"}:
        assert f"`{entry}`" in readme, f"{entry} is not described in tests/hostile/README.md"


def test_the_bom_case_differs_from_moons_only_by_its_byte_order_mark():
    raw = (CORPUS / "bom.studio").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert json.loads(raw[3:])["format"] == "model-studio-project"
