"""The training event protocol: one JSON object per line, each with the protocol version and its kind.

`model-studio train FILE --events -` writes these lines on standard output; the window's worker reads
them from its training process; the tests read them too. Every kind is one dataclass here, so the
sender (`studio.commands.train_events`), the window and the tests share one definition, and a renamed
field breaks them all at once.

    {"v": 1, "event": "batch", "epoch": 1, "epochs": 10, "batch": 7, "batches": 45, ...}

A reader takes a line with `decode`: a line of another protocol version, or one that is not an event,
is a ProtocolError; a kind this version does not know is skipped (None), so a newer trainer's extra
events do not break an older window. Values that are not finite (a diverged loss) are written as null.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from studio.core.errors import StudioError
from studio.train.record import STATUSES

PROTOCOL_VERSION = 1
CONTROLS = ("pause", "resume", "stop")  # the lines `--control -` reads
BATCH_HZ = 30  # batch events sent a second at most: the eye needs no more, the pipe no more either


class ProtocolError(StudioError):
    """A line that is not an event of this protocol version."""


@dataclass(frozen=True)
class Event:
    """Base of every event; `kind` is the value of the line's "event" field."""

    kind: ClassVar[str] = ""


@dataclass(frozen=True)
class Loading(Event):
    """Files (or chunks) of the dataset read so far, and in all; before `begin`."""

    kind: ClassVar[str] = "loading"
    done: int
    total: int


@dataclass(frozen=True)
class Begin(Event):
    """Training starts. `history` holds the epochs already done when a run resumes; `notes` what the
    trainer should know about the data (files skipped); `processes` the ranks of a distributed run."""

    kind: ClassVar[str] = "begin"
    run_id: str
    epochs: int
    start_epoch: int
    batches: int
    samples: int
    val_samples: int
    device: str
    metric: str  # "accuracy" or "mae"
    loss_name: str
    settings: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    precision: str = "float32"  # what the model computes in: "bfloat16" or "float16" under autocast
    data: str = ""  # where the samples are held: "in memory, 3.5 MiB" or "streamed from disk, cache ..."
    notes: list[str] = field(default_factory=list)
    processes: int = 1
    pid: int = 0  # the process that trains (rank 0's)


@dataclass(frozen=True)
class EpochBegin(Event):
    kind: ClassVar[str] = "epoch_begin"
    epoch: int  # 1-based
    epochs: int
    batches: int
    first_batch: int = 1  # above 1 when a run resumes mid-epoch


@dataclass(frozen=True)
class Batch(Event):
    """A batch was trained; `metrics` are running means over the epoch so far."""

    kind: ClassVar[str] = "batch"
    epoch: int
    epochs: int
    batch: int  # 1-based
    batches: int
    step: int
    loss: float | None  # this batch's
    metrics: dict[str, float | None]
    lr: float
    samples_per_s: float
    elapsed: float
    eta: float


@dataclass(frozen=True)
class EpochEnd(Event):
    """An epoch ended: `metrics` has loss, accuracy or mae, val_loss and val_accuracy or val_mae."""

    kind: ClassVar[str] = "epoch_end"
    epoch: int
    epochs: int
    batches: int
    loss: float | None
    metrics: dict[str, float | None]
    lr: float
    time_s: float
    samples_per_s: float
    elapsed: float
    eta: float


@dataclass(frozen=True)
class GradNorms(Event):
    """Each layer's gradient norm at `step`."""

    kind: ClassVar[str] = "grad_norms"
    epoch: int
    batch: int
    step: int
    norms: dict[str, float | None]


@dataclass(frozen=True)
class GradThroughTime(Event):
    """For each recurrent layer, the gradient norm reaching each input time step, at `step`."""

    kind: ClassVar[str] = "grad_through_time"
    epoch: int
    batch: int
    step: int
    layers: dict[str, list[float | None]]


@dataclass(frozen=True)
class Message(Event):
    """Something to tell the person watching: `level` is info, warning or error."""

    kind: ClassVar[str] = "message"
    text: str
    level: str = "info"


@dataclass(frozen=True)
class End(Event):
    """The last event. `record` is the run as the project file stores it (None when training never
    started); `saved` says whether it reached the file; `message` says why a run stopped or failed."""

    kind: ClassVar[str] = "end"
    status: str  # one of STATUSES
    run_id: str
    record: dict[str, Any] | None
    message: str = ""
    saved: bool = False
    weights_agree: bool | None = None  # a distributed run: every rank ended with rank 0's weights

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ProtocolError(f"an end event with status {self.status!r}; expected one of "
                                f"{', '.join(STATUSES)}")


KINDS: dict[str, type[Event]] = {cls.kind: cls for cls in (Loading, Begin, EpochBegin, Batch, EpochEnd,
                                                           GradNorms, GradThroughTime, Message, End)}


def encode(event: Event) -> str:
    """The event as one line of JSON (without the newline)."""
    body = {"v": PROTOCOL_VERSION, "event": event.kind}
    body.update((f.name, _finite(getattr(event, f.name))) for f in fields(event))
    return json.dumps(body, separators=(",", ":"), allow_nan=False)


def decode(line: str) -> Event | None:
    """The event a line carries; None for a kind this version does not know; ProtocolError otherwise."""
    try:
        body = json.loads(line)
    except ValueError:
        raise ProtocolError(f"not an event line: {line.strip()[:80]!r}") from None
    if not isinstance(body, dict) or "event" not in body:
        raise ProtocolError(f"not an event line: {line.strip()[:80]!r}")
    if body.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"an event of protocol version {body.get('v')!r}; this studio reads version "
                            f"{PROTOCOL_VERSION}")
    cls = KINDS.get(str(body["event"]))
    if cls is None:
        return None
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{key: value for key, value in body.items() if key in names})
    except TypeError:
        missing = sorted(f.name for f in fields(cls) if f.name not in body)
        raise ProtocolError(f"a {cls.kind} event without {', '.join(missing) or 'its fields'}") from None


def _finite(value: Any) -> Any:
    """`value` with every float that is not finite replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
