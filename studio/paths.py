"""Where the studio's own files are: beside the package in the source tree (and an editable install),
or under <prefix>/share/model-studio where a wheel puts them."""

from __future__ import annotations

import sys
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]
INSTALLED_ROOT = Path(sys.prefix) / "share" / "model-studio"


def data_dir(name: str) -> Path:
    """The folder `name` ("resources", "projects") of the source tree, else the installed one."""
    for root in (SOURCE_ROOT, INSTALLED_ROOT):
        if (root / name).is_dir():
            return root / name
    return SOURCE_ROOT / name
