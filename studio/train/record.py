"""The run record a project file stores: plain JSON-ready data about one training run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["completed", "stopped", "failed", "early_stopped"]
STATUSES = ("completed", "stopped", "failed", "early_stopped")
PRECISIONS = ("float32", "bfloat16", "float16")

MAX_BATCH_POINTS = 5000
LAST_WEIGHTS = "last.safetensors"  # a run's latest weights in its checkpoint folder


@dataclass
class RunResult:
    """One training run. `to_dict()` gives exactly what the project file stores.

    `epochs` holds one dict per finished epoch: epoch, loss, accuracy or mae, val_loss,
    val_accuracy or val_mae, lr, time_s, samples_per_s. `weights` is the file name (inside the
    checkpoint folder) of the final weights, or None when none were written. `precision` is what the
    model computed in: "float32", or the autocast dtype ("bfloat16", "float16") of mixed precision.
    """

    id: str
    started: str
    duration_s: float = 0.0
    device: str = "cpu"
    precision: str = "float32"
    status: Status = "completed"
    message: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    weights: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started": self.started,
            "duration_s": self.duration_s,
            "device": self.device,
            "precision": self.precision,
            "status": self.status,
            "message": self.message,
            "settings": dict(self.settings),
            "epochs": [dict(e) for e in self.epochs],
            "batch_loss": list(self.batch_loss),
            "best_epoch": self.best_epoch,
            "weights": self.weights,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        status = data.get("status", "completed")
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}; expected one of {', '.join(STATUSES)}")
        precision = data.get("precision", "float32")  # older runs did not record it
        if precision not in PRECISIONS:
            raise ValueError(f"unknown run precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
        return cls(
            id=str(data["id"]),
            started=str(data["started"]),
            duration_s=float(data.get("duration_s", 0.0)),
            device=str(data.get("device", "cpu")),
            precision=precision,
            status=status,
            message=str(data.get("message", "")),
            settings=dict(data.get("settings", {})),
            epochs=[dict(e) for e in data.get("epochs", [])],
            batch_loss=[float(v) for v in data.get("batch_loss", [])],
            best_epoch=data.get("best_epoch"),
            weights=data.get("weights"),
        )

    @property
    def metric(self) -> str:
        """'accuracy' or 'mae': the metric the epochs carry ('' before the first epoch)."""
        first = self.epochs[0] if self.epochs else {}
        return "accuracy" if "accuracy" in first else "mae" if "mae" in first else ""


class StridedSeries:
    """Keeps every `stride`-th value of an endless series, doubling the stride to stay small.

    Holds fewer than 2 * `limit` values while recording and at most `limit` from `values()`.
    """

    def __init__(self, limit: int = MAX_BATCH_POINTS):
        self.limit = limit
        self.stride = 1
        self.count = 0  # values offered so far, kept or not
        self._kept: list[float] = []

    def extend(self, values: list[float]) -> None:
        for value in values:
            if self.count % self.stride == 0:
                self._kept.append(value)
                if len(self._kept) >= 2 * self.limit:
                    self._kept = self._kept[::2]
                    self.stride *= 2
            self.count += 1

    def values(self) -> list[float]:
        kept = self._kept
        while len(kept) > self.limit:
            kept = kept[::2]
        return list(kept)

    def state(self) -> dict[str, Any]:
        return {"limit": self.limit, "stride": self.stride, "count": self.count, "kept": list(self._kept)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StridedSeries:
        series = cls(int(state["limit"]))
        series.stride = int(state["stride"])
        series.count = int(state["count"])
        series._kept = [float(v) for v in state["kept"]]
        return series
