"""A model summary like Keras' `model.summary()`, plus cost and memory per sample."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.core.graph import ModelGraph
from studio.core.inference import GraphAnalysis, analyse

BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class SummaryRow:
    name: str
    type: str
    shape: str  # "(N, 32, 148, 148)", or "?" where inference stopped
    params: int  # trainable + non-trainable, as Keras counts them
    macs: int
    error: str | None = None


@dataclass
class ModelSummary:
    rows: list[SummaryRow] = field(default_factory=list)
    trainable: int = 0
    non_trainable: int = 0
    macs: int = 0  # multiply-accumulates per sample
    activation_values: int = 0  # values produced per sample by all layers (what training keeps)
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable

    def activation_bytes(self, batch_size: int = 1) -> int:
        return self.activation_values * BYTES_PER_VALUE * batch_size


def summarize(graph: ModelGraph, analysis: GraphAnalysis | None = None) -> ModelSummary:
    analysis = analysis or analyse(graph)
    summary = ModelSummary(problems=[p.message for p in analysis.problems])
    order = analysis.order or list(graph.nodes)
    for nid in order:
        node, info = graph.nodes[nid], analysis.nodes[nid]
        summary.rows.append(SummaryRow(
            name=node.name, type=node.type, shape=str(info.shape) if info.shape else "?",
            params=info.params + info.buffers, macs=info.macs, error=info.error))
        summary.trainable += info.params
        summary.non_trainable += info.buffers
        summary.macs += info.macs
        if info.shape is not None and node.type != "Input":
            summary.activation_values += info.shape.numel
    return summary


def format_size(n_bytes: float) -> str:
    """Bytes in Keras 3's style: '18.42 MB' (binary units), '0.00 B'."""
    for unit, scale in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.2f} {unit}"
    return f"{n_bytes:.2f} B"


def format_count(n: int) -> str:
    """Large counts in words: 1.23 G, 45.6 M, 7.8 K."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def format_summary(summary: ModelSummary, *, title: str = "model", batch_size: int = 32,
                   training: Mapping[str, Any] | None = None) -> str:
    """The summary as a text table (what `model-studio summary` prints); with the `training`
    settings, also what training would take in memory."""
    header = ("Layer (type)", "Output Shape", "Param #", "MACs")
    cells = [(f"{r.name} ({r.type})", r.shape, f"{r.params:,}", format_count(r.macs)) for r in summary.rows]
    widths = [max(len(header[i]), *(len(c[i]) for c in cells)) if cells else len(header[i])
              for i in range(4)]
    line_width = sum(widths) + 3 * 3

    def row(values) -> str:
        pairs = enumerate(zip(values, widths, strict=True))
        return "   ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in pairs)

    lines = [f'Model: "{title}"', "=" * line_width, row(header), "=" * line_width]
    for cell, r in zip(cells, summary.rows, strict=True):
        lines.append(row(cell))
        if r.error:
            lines.append(f"  ! {r.error}")
    lines.append("=" * line_width)
    size = BYTES_PER_VALUE
    lines += [
        f"Total params: {summary.total:,} ({format_size(summary.total * size)})",
        f"Trainable params: {summary.trainable:,} ({format_size(summary.trainable * size)})",
        f"Non-trainable params: {summary.non_trainable:,} ({format_size(summary.non_trainable * size)})",
        "-" * line_width,
        f"Multiply-accumulates per sample: {summary.macs:,} ({format_count(summary.macs)})",
        f"Activation memory per sample: {format_size(summary.activation_bytes())}; "
        f"for a batch of {batch_size}: {format_size(summary.activation_bytes(batch_size))} "
        "(forward pass, float32)",
    ]
    if training is not None:
        from studio.core.memory_estimate import describe, estimate_summary

        settings = {**training, "batch_size": batch_size}
        estimate = estimate_summary(summary, settings)
        lines.append(f"Training memory ({settings.get('optimizer', 'adam')}, batch of {batch_size}): "
                     f"{describe(estimate.parts())}")
    if summary.problems:
        lines.append("-" * line_width)
        lines.append(f"Problems ({len(summary.problems)}):")
        lines += [f"  - {p}" for p in summary.problems]
    return "\n".join(lines)
