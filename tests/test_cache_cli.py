"""`model-studio cache`: where the image cache is, what it holds, and freeing it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from studio.data import write_image_folder
from studio.data.disk_cache import CACHE_ENV, format_bytes, open_folder_cache


@pytest.fixture
def cache_folder(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def test_an_empty_cache_prints_its_folder(cache_folder, capsys):
    assert main(["cache"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"Image cache: {cache_folder}", "  (empty)"]


def test_it_lists_entries_with_sizes_and_clear_frees_them(cache_folder, tmp_path, capsys):
    folder = write_image_folder(tmp_path / "pets", per_class=4, size=16, seed=0)
    entry = open_folder_cache(folder, (3, 16, 16))
    total = entry.nbytes + entry.data_path.with_suffix(".json").stat().st_size
    assert main(["cache"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Image cache: {cache_folder}"
    assert f"{format_bytes(total)}  12 images of 3x16x16  {folder}" in lines[1]
    assert lines[2].startswith(f"1 entry, {format_bytes(total)} in all")
    assert main(["cache", "--clear"]) == 0
    freed = capsys.readouterr().out.strip()
    assert freed == f"Freed {format_bytes(total)} from the image cache {cache_folder}"
    assert main(["cache"]) == 0 and "(empty)" in capsys.readouterr().out


def test_a_cache_folder_that_is_a_file_is_one_line_and_status_2(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    assert main(["cache"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(blocker) in err and err.startswith("model-studio: error:")


def test_an_unknown_option_is_one_line(capsys):
    assert main(["cache", "--purge"]) == 2
    assert "unrecognized arguments: --purge" in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_the_installed_command_runs(cache_folder):
    result = subprocess.run([sys.executable, "-m", "studio", "cache", "--clear"], capture_output=True,
                            text=True, timeout=50, env={**os.environ, CACHE_ENV: str(cache_folder)})
    assert result.returncode == 0
    assert result.stdout.strip() == f"Freed 0 B from the image cache {cache_folder}"
