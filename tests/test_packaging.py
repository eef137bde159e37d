"""What a wheel carries: the package, the icons and the example projects; and where the studio finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from studio import paths

ROOT = Path(__file__).resolve().parents[1]


def test_the_source_tree_comes_first_then_the_installed_files(tmp_path, monkeypatch):
    source, installed = tmp_path / "tree", tmp_path / "share"
    (installed / "projects").mkdir(parents=True)
    monkeypatch.setattr(paths, "SOURCE_ROOT", source)
    monkeypatch.setattr(paths, "INSTALLED_ROOT", installed)
    assert paths.data_dir("projects") == installed / "projects"
    (source / "projects").mkdir(parents=True)
    assert paths.data_dir("projects") == source / "projects"


def test_a_wheel_carries_the_icons_and_the_examples(tmp_path):
    command = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
               "--quiet", "--wheel-dir", str(tmp_path)]
    built = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("model_studio-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = f"model_studio-{wheel.name.split('-')[1]}.data/data/share/model-studio"
    icons = {p.name for p in (ROOT / "resources" / "icons").glob("*.svg")}
    examples = {p.name for p in (ROOT / "projects").glob("*.studio")}
    assert icons and {f"{data}/resources/icons/{name}" for name in icons} <= names
    assert examples and {f"{data}/projects/{name}" for name in examples} <= names
    assert "studio/gui/main_window.py" in names and "studio/paths.py" in names
