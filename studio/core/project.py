"""Project files (`*.studio`): human-readable JSON holding everything a user builds.

A project holds the model graph with node positions, the dataset choice and its settings, the training
settings and the recorded runs. Files carry a `format_version`; older files are migrated step by step,
newer ones are refused with a clear message. Loading only parses JSON, so opening a stranger's file never
runs code. Saving is atomic.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.atomic import write_atomic
from studio.core.errors import GraphError, ProjectError, json_kind
from studio.core.graph import ModelGraph
from studio.core.params import ParamValueError
from studio.core.safe_io import FileRefused, is_plain_name, locked, read_regular
from studio.core.training_settings import TRAINING_PARAMS

FORMAT_NAME = "model-studio-project"
FORMAT_VERSION = 1
SUFFIX = ".studio"
MAX_FILE_BYTES = 64 * 1024 * 1024  # far above any real project; stops a stray huge file early
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
MAX_DEPTH = 64  # far above any real project (about 6 levels); keeps every recursive walk of it safe

# MIGRATIONS[v] turns a version-v document into a version-(v + 1) one.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


@dataclass
class Project:
    graph: ModelGraph = field(default_factory=ModelGraph)
    name: str = "untitled"
    description: str = ""
    dataset: dict[str, Any] = field(default_factory=lambda: {"name": "digits", "settings": {}})
    training: dict[str, Any] = field(default_factory=TRAINING_PARAMS.defaults)
    runs: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None  # where it was loaded from or last saved; not written to the file

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "graph": self.graph.to_dict(),
            "dataset": {"name": self.dataset["name"], "settings": dict(self.dataset.get("settings", {}))},
            "training": TRAINING_PARAMS.to_json(self.training),
            "runs": self.runs,
        }

    def weights_path(self, run_id: str) -> Path:
        """Where a run's trained weights live: beside the project file."""
        if self.path is None:
            raise ProjectError("save the project first: trained weights are stored beside it")
        if not is_run_id(run_id):
            raise ProjectError(f"run id {run_id!r} is not a plain id, so it cannot name a weights file",
                               path=str(self.path))
        return self.path.with_name(f"{self.path.stem}.{run_id}.safetensors")


def project_from_dict(data: Any, *, path: str | None = None) -> Project:
    """A Project from the parsed file content; ProjectError names the field at fault."""
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise ProjectError(f"not a Model Studio project (expected \"format\": \"{FORMAT_NAME}\")", path=path)
    if _depth(data) > MAX_DEPTH:
        raise ProjectError(f"is not a project: its data is nested too deeply (over {MAX_DEPTH} levels)",
                           path=path)
    data = migrate(data, path=path)
    name = _typed(data, "name", str, path, default="untitled")
    description = _typed(data, "description", str, path, default="")
    try:
        graph = ModelGraph.from_dict(data.get("graph"))
    except GraphError as exc:
        raise ProjectError(str(exc), path=path, field=exc.field or "graph") from None
    dataset = _typed(data, "dataset", dict, path)
    dataset_name = _typed(dataset, "name", str, path, prefix="dataset.")
    settings = _typed(dataset, "settings", dict, path, prefix="dataset.", default={})
    _check_json_values(settings, path, "dataset.settings")
    training_data = _typed(data, "training", dict, path, default={})
    try:
        training = TRAINING_PARAMS.validate(training_data)
    except ParamValueError as exc:
        raise ProjectError(exc.reason, path=path, field=f"training.{exc.name}" if exc.name else "training") \
            from None
    runs = _typed(data, "runs", list, path, default=[])
    for i, run in enumerate(runs):
        _check_run(run, path, f"runs[{i}]")
    return Project(graph=graph, name=name, description=description,
                   dataset={"name": dataset_name, "settings": settings}, training=training, runs=runs,
                   path=Path(path) if path else None)


def is_run_id(text: Any) -> bool:
    """Whether `text` is a run id: letters, digits, '_' and '-', so it is safe inside a file name."""
    return isinstance(text, str) and _RUN_ID.fullmatch(text) is not None


def _check_run(run: Any, path: str | None, where: str) -> None:
    """A run names files beside the project: its id and weights entry must be plain names, not paths."""
    if not isinstance(run, dict) or not isinstance(run.get("id"), str):
        raise ProjectError("expects a run object with a text 'id'", path=path, field=where)
    if not is_run_id(run["id"]):
        raise ProjectError(f"run id {run['id']!r} is not a plain id (letters, digits, '_' and '-')",
                           path=path, field=f"{where}.id")
    weights = run.get("weights")
    if weights is not None and not (isinstance(weights, str) and is_plain_name(weights)):
        raise ProjectError(f"expects the name of a weights file beside the project, not {weights!r}",
                           path=path, field=f"{where}.weights")
    _check_json_values(run, path, where)


def migrate(data: dict[str, Any], *, path: str | None = None) -> dict[str, Any]:
    """Bring a parsed document up to FORMAT_VERSION, one registered step at a time."""
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProjectError("expects a whole number of at least 1", path=path, field="format_version")
    if version > FORMAT_VERSION:
        raise ProjectError(f"was written by a newer Model Studio (format {version}; this version reads up "
                           f"to {FORMAT_VERSION}): update Model Studio to open it", path=path,
                           field="format_version")
    while version < FORMAT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ProjectError(f"no migration from format {version}", path=path, field="format_version")
        try:
            data = step(copy.deepcopy(data))  # a step may edit in place; the caller's data stays
        except Exception as exc:  # a migration written for well-formed files meets a malformed one
            raise ProjectError(f"cannot be upgraded from format {version}: {exc}",
                               path=path, field="format_version") from None
        if not isinstance(data, dict):
            raise ProjectError(f"cannot be upgraded from format {version}", path=path, field="format_version")
        version += 1
        data["format_version"] = version
    return data


def load_project(path: str | os.PathLike) -> Project:
    """Read a project file. Every failure is a ProjectError naming the file (and field)."""
    where = str(path)
    try:
        # Opened without blocking and refused unless a regular file: a pipe or device never hangs us.
        raw = read_regular(path, "project file", limit=MAX_FILE_BYTES)
    except FileRefused as exc:
        raise ProjectError(_refusal(str(exc), where), path=where) from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark, as some editors write, is not content
    except UnicodeDecodeError:
        raise ProjectError("is not a text file (not UTF-8), so not a project file", path=where) from None
    return parse_project(text, path=where)


def _refusal(message: str, where: str) -> str:
    """A FileRefused message without the path it starts with (ProjectError puts the path first)."""
    prefix = f"project file '{where}' "
    return message[len(prefix):] if message.startswith(prefix) else message


def parse_project(text: str, *, path: str | None = None) -> Project:
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ProjectError(f"is not valid JSON: {_json_reason(exc.msg)} at line {exc.lineno}, column "
                           f"{exc.colno}", path=path) from None
    except RecursionError:
        raise ProjectError("is not a project: its JSON is nested too deeply", path=path) from None
    except ValueError as exc:  # NaN / Infinity, or an integer too long to parse
        raise ProjectError(f"is not valid JSON: {exc}", path=path) from None
    return project_from_dict(data, path=path)


def save_project(project: Project, path: str | os.PathLike | None = None, *,
                 keep_runs_on_disk: bool = True) -> Path:
    """Write the project atomically; returns the path written and remembers it on the project.

    Saving over the project's own file takes the file's writers' lock and, with `keep_runs_on_disk`,
    first adds the runs another process recorded there meanwhile (a `train` in a terminal), so no
    writer drops another's run. Saving to another place writes the project as it is."""
    target = Path(path) if path is not None else project.path
    if target is None:
        raise ProjectError("no file name given for saving")
    moved = project.path is not None and not _same_file(project.path, target)
    copied: list[Path] = []
    with locked(target):
        if keep_runs_on_disk and project.path is not None and not moved:
            project.runs = merged_runs(project.runs, _runs_on_disk(target))
        try:
            runs = _carry_weights(project, target, copied) if moved else project.runs
            text = to_json_text({**project.to_dict(), "runs": runs}) + "\n"
            write_atomic(target, text.encode("utf-8"), what="project file")
        except BaseException:
            for path in copied:  # no weights left behind that no saved run refers to
                path.unlink(missing_ok=True)
            raise
    project.runs = runs
    project.path = target
    return target


def _carry_weights(project: Project, target: Path, copied: list[Path]) -> list[dict[str, Any]]:
    """The runs for a copy of the project saved at `target`: each run's weights are copied beside it
    (as TARGET.RUN.safetensors, added to `copied`), so the copy keeps its trained models."""
    runs = copy.deepcopy(project.runs)
    for run in runs:
        name = run.get("weights")
        source = project.path.with_name(name) if project.path and isinstance(name, str) else None
        if source is None or not source.is_file():
            continue  # weights already missing stay missing
        destination = target.with_name(f"{target.stem}.{run['id']}.safetensors")
        if not _same_file(source, destination):
            existed = destination.exists()
            write_atomic(destination, lambda tmp, source=source: shutil.copyfile(source, tmp),
                         what="weights file")
            if not existed:
                copied.append(destination)
        run["weights"] = destination.name
    return runs


def merged_runs(ours: list[dict[str, Any]], on_disk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs on disk in their order (ours where both have an id), then our runs the disk lacks."""
    by_id = {run["id"]: run for run in ours}
    merged = [by_id.pop(run["id"], run) for run in on_disk]
    return merged + list(by_id.values())


def _runs_on_disk(path: Path) -> list[dict[str, Any]]:
    """The runs of the project file at `path`; none when it is missing or unreadable (then it is ours
    to replace: a broken file keeps no runs worth merging)."""
    try:
        return load_project(path).runs
    except ProjectError:
        return []


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def to_json_text(value: Any, indent: str = "") -> str:
    """Indented JSON that keeps short lists of plain values on one line ("pos": [120.0, 40.0]),
    so project files stay easy to read and to diff."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k))}: {to_json_text(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and value:
        flat = json.dumps(value, allow_nan=False)
        if len(flat) <= 80 and not any(isinstance(v, (dict, list)) for v in value):
            return flat
        return "[\n" + ",\n".join(inner + to_json_text(v, inner) for v in value) + f"\n{indent}]"
    return json.dumps(value, allow_nan=False)


def _json_reason(message: str) -> str:
    """The JSON parser's reason in the message's own style: "unterminated string starting" (its
    "... starting at" would read "at at line 1")."""
    message = message.removesuffix(": ").removesuffix(":").removesuffix(" at")
    return message[:1].lower() + message[1:]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a project file")


def _typed(data: Mapping, key: str, kind: type, path: str | None, *, prefix: str = "",
           default: Any = None) -> Any:
    if key not in data:
        if default is not None:
            return default
        raise ProjectError("is missing", path=path, field=prefix + key)
    value = data[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = {str: "text", dict: "an object", list: "a list"}
        raise ProjectError(f"expects {names.get(kind, kind.__name__)}, got {json_kind(value)}", path=path,
                           field=prefix + key)
    return value


def _check_json_values(value: Any, path: str | None, where: str) -> None:
    """Dataset settings are validated by the dataset later; here only check they are plain, finite data."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ProjectError("expects a finite number", path=path, field=where)
    if isinstance(value, dict):
        for k, v in value.items():
            _check_json_values(v, path, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_json_values(v, path, f"{where}[{i}]")


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (a plain value is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest
