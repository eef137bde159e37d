"""The layering of the code is a checked contract: `lint-imports` keeps every one in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: import-linter brings tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def lint_imports() -> str:
    """The `lint-imports` beside this interpreter (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("lint-imports")
    found = str(beside) if beside.is_file() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is missing: install the test extra (pip install -e '.[test]')")
    return found


def test_pyproject_declares_the_layering():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contracts = config["contracts"]
    assert config["root_package"] == "studio"
    assert len(contracts) >= 3
    assert {"forbidden", "layers"} <= {contract["type"] for contract in contracts}


@pytest.mark.timeout(120)
def test_every_import_contract_is_kept():
    done = subprocess.run([lint_imports(), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True,
                          text=True, timeout=100)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " 0 broken" in done.stdout
