"""Settings shared by many datasets, declared once so every form and file spells them alike."""

from __future__ import annotations

from typing import Literal

from studio.core.params import Param

SEED_SETTING = Param("seed", "int", 0, "Random seed: the same seed gives the same data and split.",
                     minimum=0, maximum=2**31 - 1)


# How much data is held out for validation, and which draw of it.
SPLIT_SETTINGS = (
    Param("validation_split", "float", 0.2,
          "Fraction of the samples held out for validation (per class for classification).",
          minimum=0.0, maximum=0.9),
    SEED_SETTING,
)


def n_samples_setting(default: int) -> Param:
    return Param("n_samples", "int", default, "How many samples to generate.", minimum=10,
                 maximum=1_000_000)


def classes_setting(default: int, help_text: str) -> Param:
    return Param("classes", "int", default, help_text, minimum=2, maximum=20)


def noise_setting(default: float, help_text: str, maximum: float = 10.0) -> Param:
    return Param("noise", "float", default, help_text, minimum=0.0, maximum=maximum)


def path_setting(help_text: str, kind: Literal["file", "folder"]) -> Param:
    return Param("path", "str", "", help_text, path=kind)


# Data decoded to more than this is read from a cache file on disk in batches instead of held in memory.
MEMORY_LIMIT_SETTING = Param(
    "memory_limit_mb", "int", 0,
    "Largest decoded size in MB held in memory; larger data streams from a cache on disk "
    "(0: automatic, half of this machine's memory).", minimum=0, maximum=16 * 2**20)


def memory_limit_bytes(settings: dict) -> int | None:
    """The `memory_limit_mb` setting in bytes; None for automatic."""
    megabytes = int(settings.get("memory_limit_mb", 0))
    return megabytes * 2**20 if megabytes else None
