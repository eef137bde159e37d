"""Where a training run stands: what the state file stores, the epoch in progress, the clock.

Kept apart from the loop so the loop reads as the steps of training and this as its bookkeeping.
The state file's layout is declared once below as a small schema, and a file is checked against it
(and against the optimizer it is for) before any of it is used, so a damaged file is one message
before training starts, never a failure halfway through a resumed run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from time import perf_counter
from typing import Any

import torch
from torch import Tensor

from studio.train.record import StridedSeries


@dataclass
class RunState:
    """Where a run stands; all of it goes into the state file so a run resumes exactly."""

    run_id: str
    started: str
    duration_s: float = 0.0  # time trained in earlier sessions of this run
    epochs_done: int = 0
    step: int = 0  # optimizer steps taken
    history: list[dict[str, Any]] = field(default_factory=list)
    batch_loss: StridedSeries = field(default_factory=StridedSeries)
    best_loss: float = math.inf
    best_epoch: int | None = None
    bad_epochs: int = 0  # epochs since the monitored loss last improved
    # The unfinished epoch after a stop mid-epoch: batch (next one), losses, metric_sum, time_s.
    partial: dict[str, Any] | None = None

    def state(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["batch_loss"] = self.batch_loss.state()
        return data

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> RunState:
        """The run state a file stored (checked against PROGRESS first; entries it does not know are
        left out, so they cannot break the run)."""
        check(data, PROGRESS, "progress")
        known = {f.name for f in fields(cls)}
        data = {key: value for key, value in data.items() if key in known}
        data["batch_loss"] = StridedSeries.from_state(data["batch_loss"])
        return cls(**data)


@dataclass
class EpochState:
    """The epoch being trained: its shuffle, the next batch, its losses and predictions so far."""

    number: int
    order: Tensor
    targets: Tensor  # the training targets in this epoch's shuffled order, on the device
    predictions: Tensor  # filled batch by batch; the metric is computed from it in one go
    # Per-batch mean losses: plain floats on a CPU; on a GPU 0-d device tensors, read once at the end.
    losses: list[float | Tensor] = field(default_factory=list)
    batch: int = 0
    # Metric summed over rows before `metric_from`, which an earlier session predicted.
    metric_before: float = 0.0
    metric_from: int = 0
    time_before: float = 0.0  # seconds spent on this epoch in an earlier session
    started: float = 0.0  # clock reading when this session began the epoch
    first_batch: int = 0  # the batch this session began the epoch at
    # Host-side running loss of the batches whose loss was read (all of them on a CPU), and the
    # running metric up to row `seen_to`, for progress reports.
    seen_loss: float = 0.0
    seen_samples: int = 0
    seen_metric: float = 0.0
    seen_to: int = 0

    def seconds(self, now: float) -> float:
        return self.time_before + now - self.started


class PauseAwareClock:
    """Seconds since the start, not counting time spent paused."""

    def __init__(self) -> None:
        self._start = perf_counter()
        self._paused = 0.0

    def now(self) -> float:
        return perf_counter() - self._start - self._paused

    def add_pause(self, seconds: float) -> None:
        self._paused += seconds


def read_floats(values: list[float | Tensor]) -> list[float]:
    """Plain floats from a mix of floats and 0-d tensors, reading all the tensors in one go."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    if not tensors:
        return list(values)
    read = iter(torch.stack(tensors).tolist())
    return [next(read) if isinstance(v, Tensor) else v for v in values]


# -- the state file's schema ------------------------------------------------------------------------


class StateDamage(Exception):
    """What is wrong with a stored training state, in words (the caller names the file)."""


@dataclass(frozen=True)
class Maybe:
    """A value of `kind`, or None."""

    kind: Any


@dataclass(frozen=True)
class ListOf:
    """A list whose items are each of `kind`."""

    kind: Any


@dataclass(frozen=True)
class Count:
    """A whole number of at least `least`."""

    least: int = 0


NUMBER = (int, float)

PARTIAL_EPOCH = {"batch": Count(1), "losses": ListOf(NUMBER), "metric_sum": NUMBER, "time_s": NUMBER,
                 "seen_loss": NUMBER, "seen_samples": Count()}
SERIES = {"limit": Count(1), "stride": Count(1), "count": Count(), "kept": ListOf(NUMBER)}
PROGRESS = {"run_id": str, "started": str, "duration_s": NUMBER, "epochs_done": Count(), "step": Count(),
            "history": ListOf(dict), "batch_loss": SERIES, "best_loss": NUMBER, "best_epoch": Maybe(Count(1)),
            "bad_epochs": Count(), "partial": Maybe(PARTIAL_EPOCH)}
STATE = {"format": int, "settings": dict, "optimizer": {"state": dict, "param_groups": ListOf(dict)},
         "scheduler": Maybe(dict), "scaler": Maybe(dict), "rng": {"cpu": Tensor, "cuda": ListOf(Tensor)},
         "progress": PROGRESS, "device": str}


def check(value: Any, schema: Any, where: str) -> None:
    """StateDamage naming the first entry of `value` (at `where`) that does not match `schema`:
    a type or tuple of types, Maybe, ListOf, Count, or a dict of required keys and their schemas."""
    if isinstance(schema, Maybe):
        if value is not None:
            check(value, schema.kind, where)
    elif isinstance(schema, ListOf):
        _expect(value, list, where)
        for i, item in enumerate(value):
            check(item, schema.kind, f"{where}[{i}]")
    elif isinstance(schema, Count):
        _expect(value, int, where)
        if value < schema.least:
            raise StateDamage(f"{where} is {value}, below {schema.least}")
    elif isinstance(schema, dict):
        _expect(value, dict, where)
        for key, kind in schema.items():
            if key not in value:
                raise StateDamage(f"{where or 'the file'} has no '{key}'")
            check(value[key], kind, f"{where}.{key}" if where else key)
    else:
        _expect(value, schema, where)


def _expect(value: Any, kind: type | tuple[type, ...], where: str) -> None:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise StateDamage(f"{where} is {_words(type(value))} where {_words(kinds[-1])} belongs")


_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text", dict: "a table",
          list: "a list", tuple: "a list", type(None): "nothing"}


def _words(kind: type) -> str:
    if issubclass(kind, Tensor):
        return "a tensor"
    return _WORDS.get(kind, "an object of another kind")


def check_like(saved: Any, own: Any, where: str) -> None:
    """StateDamage when `saved` (from a file) cannot stand in for `own` (what this run made):
    tables need the same keys, lists the same length, numbers, flags and text the same kind."""
    if own is None or saved is None:
        return  # unset on one side (a schedule that has not stepped yet): nothing to compare
    if isinstance(own, Mapping):
        _expect(saved, dict, where)
        for key, value in own.items():
            if key not in saved:
                raise StateDamage(f"{where} has no '{key}'")
            check_like(saved[key], value, f"{where}.{key}")
    elif isinstance(own, (list, tuple)):
        _expect(saved, (list, tuple), where)
        if len(saved) != len(own):
            raise StateDamage(f"{where} has {len(saved)} entries where {len(own)} belong")
        for i, (a, b) in enumerate(zip(saved, own, strict=True)):
            check_like(a, b, f"{where}[{i}]")
    elif isinstance(own, bool):
        _expect(saved, bool, where)
    elif isinstance(own, NUMBER):
        if not (isinstance(saved, Tensor) and saved.dim() == 0):
            _expect(saved, NUMBER, where)
    elif isinstance(own, (str, Tensor)):
        _expect(saved, type(own) if isinstance(own, str) else Tensor, where)


def check_optimizer_state(saved: Mapping[str, Any], optimizer: torch.optim.Optimizer) -> None:
    """StateDamage unless `saved` (an optimizer's state_dict, already checked against STATE) has the
    same parameter groups as `optimizer`, each holding as many weights, with per-weight state shaped
    like the weights: what `load_state_dict` would not check, and a step would then fail on."""
    groups, own = saved["param_groups"], optimizer.param_groups
    if len(groups) != len(own):
        raise StateDamage(f"the optimizer state has {len(groups)} parameter groups; the model has {len(own)}")
    weights: dict[Any, Tensor] = {}
    for number, (group, ours) in enumerate(zip(groups, own, strict=True), start=1):
        where = f"optimizer parameter group {number}"
        check(group, {"params": ListOf(int), "lr": NUMBER}, where)
        if len(group["params"]) != len(ours["params"]):
            raise StateDamage(f"{where} holds {len(group['params'])} weights; the model's holds "
                              f"{len(ours['params'])}")
        for key, value in ours.items():
            if key != "params" and key in group:
                check_like(group[key], value, f"{where}.{key}")
        weights.update(zip(group["params"], ours["params"], strict=True))
    for index, values in saved["state"].items():
        if index not in weights:
            raise StateDamage(f"the optimizer state names weight {index!r}, which no parameter group holds")
        _expect(values, dict, f"optimizer state of weight {index}")
        for name, value in values.items():
            _check_slot(value, weights[index], f"optimizer state '{name}' of weight {index}")


def _check_slot(value: Any, weight: Tensor, where: str) -> None:
    if value is None or isinstance(value, NUMBER) and not isinstance(value, bool):
        return
    _expect(value, Tensor, where)
    if value.dim() == 0:
        return  # a step count
    if tuple(value.shape) != tuple(weight.shape):
        raise StateDamage(f"{where} has shape {tuple(value.shape)}; the weight has {tuple(weight.shape)}")
    if not value.is_floating_point():
        raise StateDamage(f"{where} holds whole numbers where the weight's state is fractional")


def check_partial_epoch(progress: Mapping[str, Any], batches: int) -> None:
    """StateDamage when an unfinished epoch's place does not fit an epoch of `batches` batches."""
    partial = progress["partial"]
    if partial is None:
        return
    if partial["batch"] > batches:
        raise StateDamage(f"the unfinished epoch stopped after batch {partial['batch']}, but an epoch has "
                          f"{batches}")
    if len(partial["losses"]) != partial["batch"]:
        raise StateDamage(f"the unfinished epoch has {len(partial['losses'])} batch losses for "
                          f"{partial['batch']} batches")
