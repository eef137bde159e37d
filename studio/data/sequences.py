"""Generated sequence tasks: forecasting, long-range memory, and counting tokens."""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.core.params import Param, params
from studio.data.assemble import split_and_assemble
from studio.data.base import DataError, DatasetInfo, DatasetSpec, LoadContext, LoadedData
from studio.data.registry import register
from studio.data.settings import SPLIT_SETTINGS, classes_setting, n_samples_setting, noise_setting


def _steps_setting(default: int, help_text: str) -> Param:
    return Param("steps", "int", default, help_text, minimum=2, maximum=10_000)



def _load_sine(settings: dict[str, Any], _context: LoadContext) -> LoadedData:
    """Each sample: `steps` noisy values of a sine with random period, phase and amplitude; the
    target is the next (noise-free) value."""
    rng = np.random.default_rng(settings["seed"])
    n, steps = settings["n_samples"], settings["steps"]
    omega = 2 * np.pi / rng.uniform(8.0, 30.0, (n, 1))  # periods of 8 to 30 steps
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    amplitude = rng.uniform(0.5, 1.0, (n, 1))
    t = np.arange(steps + 1)[None, :]
    clean = amplitude * np.sin(omega * t + phase)
    x = clean[:, :steps] + settings["noise"] * rng.standard_normal((n, steps))
    info = DatasetInfo(name="sine", input_shape=(steps, 1), task="regression", class_names=[],
                       num_outputs=1, sample_kind="sequence", feature_names=["value"],
                       target_names=["next value"], source="generated")
    return split_and_assemble(x[:, :, None], clean[:, steps:], info, settings)


def _load_memory(settings: dict[str, Any], _context: LoadContext) -> LoadedData:
    """The label is the symbol at one random step among the first `cue_window`, flagged by a marker
    feature; every other step is a random symbol. A model must notice the flag, store that symbol and
    keep it unchanged through the rest of the sequence: a gated memory (LSTM, GRU) can, a plain RNN
    cannot lock onto the flagged step because the steps before it are noise too."""
    n, steps, classes, window = (settings[k] for k in ("n_samples", "steps", "classes", "cue_window"))
    if steps <= window:
        raise DataError(f"must be longer than cue_window ({window}), got {steps}", setting="steps")
    rng = np.random.default_rng(settings["seed"])
    labels = rng.integers(0, classes, n)
    cue_at = rng.integers(0, window, n)
    symbols = rng.integers(0, classes, (n, steps))
    symbols[np.arange(n), cue_at] = labels
    if settings["encoding"] == "one_hot":
        values = np.eye(classes, dtype=np.float32)[symbols]
        feature_names = [f"symbol {i}" for i in range(classes)]
    else:
        # Symbols as evenly spaced levels in -1..1, one value per step.
        values = (-1.0 + 2.0 * symbols / (classes - 1)).astype(np.float32)[:, :, None]
        feature_names = ["value"]
    marker = np.zeros((n, steps, 1), dtype=np.float32)
    marker[np.arange(n), cue_at, 0] = 1.0
    x = np.concatenate([values, marker], axis=2)
    info = DatasetInfo(name="memory", input_shape=x.shape[1:], task="classification",
                       class_names=[f"cue {i}" for i in range(classes)], num_outputs=classes,
                       sample_kind="sequence", feature_names=[*feature_names, "marker"], source="generated")
    return split_and_assemble(x, labels, info, settings)


def _load_tokens(settings: dict[str, Any], _context: LoadContext) -> LoadedData:
    """Token ids 1..K are markers, the rest of the vocabulary is filler (0 is left for padding); the
    label is the marker that occurs most often."""
    n, steps, markers, vocab = (settings[k] for k in ("n_samples", "steps", "classes", "vocab_size"))
    if vocab < markers + 2:
        raise DataError(f"must be at least classes + 2 ({markers + 2}): id 0 is padding, ids 1 to "
                        f"{markers} are the markers and at least one id is filler", setting="vocab_size")
    if steps < 2 * markers + 2:
        raise DataError(f"must be at least 2 x classes + 2 ({2 * markers + 2}) to fit the markers",
                        setting="steps")
    rng = np.random.default_rng(settings["seed"])
    labels = rng.integers(0, markers, n)
    # Every marker appears 0..most times; the label's marker once or twice more than the most
    # frequent other one, so the answer is never a tie. Counts sum to at most markers * most + 2,
    # which the checks above keep within `steps`.
    most = max(1, steps // (3 * markers))
    counts = rng.integers(0, most + 1, (n, markers))
    counts[np.arange(n), labels] = 0
    counts[np.arange(n), labels] = counts.max(axis=1) + 1 + rng.integers(0, 2, n)
    # Lay the markers out at the start of each row (marker index where a position falls below the
    # running count, `markers` past the last one), fill the rest, then shuffle each row.
    ends = counts.cumsum(axis=1)
    marker_at = (np.arange(steps)[None, :, None] >= ends[:, None, :]).sum(axis=2)
    filler = rng.integers(markers + 1, vocab, (n, steps))
    tokens = np.where(marker_at < markers, marker_at + 1, filler)
    tokens = np.take_along_axis(tokens, np.argsort(rng.random((n, steps)), axis=1), axis=1)
    info = DatasetInfo(name="tokens", input_shape=(steps,), task="classification",
                       class_names=[f"token {i + 1}" for i in range(markers)], num_outputs=markers,
                       sample_kind="tokens", vocab_size=vocab, source="generated")
    return split_and_assemble(tokens, labels, info, settings)


register(DatasetSpec(
    name="sine", title="Sine forecasting", category="generated",
    description="Predict the next value of a noisy sine wave from the last steps (regression).",
    settings=params(
        n_samples_setting(1000),
        _steps_setting(20, "Time steps the model sees."),
        noise_setting(0.05, "Std of the Gaussian noise on each observed value."),
        SPLIT_SETTINGS,
    ),
    loader=_load_sine))

register(DatasetSpec(
    name="memory", title="Long-range memory", category="generated",
    description="The label is a flagged symbol among the first steps, the rest is noise: an LSTM "
                "learns it, a plain RNN does not.",
    settings=params(
        n_samples_setting(2000),
        _steps_setting(50, "Sequence length; longer is harder to remember."),
        classes_setting(4, "How many different cues (classes)."),
        Param("cue_window", "int", 5, "The cue is at a random one of this many first steps, flagged by "
              "the marker feature.", minimum=1, maximum=1000),
        Param("encoding", "choice", "one_hot",
              "one_hot: each step is a one-hot symbol (classes features); float: one value per step. "
              "Either way a last feature is the marker.", choices=("one_hot", "float")),
        SPLIT_SETTINGS,
    ),
    loader=_load_memory))

register(DatasetSpec(
    name="tokens", title="Token counting", category="generated",
    description="Sequences of token ids; the class is the marker token that occurs most often "
                "(for Embedding and attention models).",
    settings=params(
        n_samples_setting(2000),
        _steps_setting(32, "Tokens per sequence."),
        classes_setting(3, "How many marker tokens (classes)."),
        Param("vocab_size", "int", 50, "Distinct token ids (0 is padding, 1..classes are markers).",
              minimum=4, maximum=1_000_000),
        SPLIT_SETTINGS,
    ),
    loader=_load_tokens))
