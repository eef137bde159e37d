"""Settings shared by many datasets, declared once so every form and file spells them alike."""

from __future__ import annotations

from studio.core.params import Param

MAX_SEED = 2**31 - 1


def split_settings(default_split: float = 0.2) -> tuple[Param, ...]:
    """`validation_split` and `seed`: how much data is held out, and which draw of it."""
    return (
        Param("validation_split", "float", default_split,
              "Fraction of the samples held out for validation (per class for classification).",
              minimum=0.0, maximum=0.9),
        Param("seed", "int", 0, "Random seed: the same seed gives the same data and split.",
              minimum=0, maximum=MAX_SEED),
    )


def n_samples_setting(default: int) -> Param:
    return Param("n_samples", "int", default, "How many samples to generate.", minimum=10,
                 maximum=1_000_000)


def noise_setting(default: float, help_text: str, maximum: float = 10.0) -> Param:
    return Param("noise", "float", default, help_text, minimum=0.0, maximum=maximum)


def path_setting(help_text: str) -> Param:
    return Param("path", "str", "", help_text)
