"""`model-studio cluster FILE`: k-means on a layer's learned features, scored against the true classes."""

from __future__ import annotations

import argparse
import math

from studio.analysis.clustering import (
    ClusterAnalysis,
    ClusterScores,
    LayerScores,
    cluster_layer,
    compare_layers,
    write_assignments_csv,
)
from studio.analysis.samples import SPLIT_TITLES
from studio.runs import open_trained


def run(args: argparse.Namespace) -> int:
    session = open_trained(args.file, args.run)
    model, data, record = session.model, session.data, session.run
    ks = list(range(2, args.max_k + 1)) if args.max_k is not None else None
    analysis = cluster_layer(model, data, layer=args.layer, k=args.k, split=args.split,
                             standardize=args.standardize, seed=args.seed, ks=ks,
                             projection=args.projection if args.csv else None)
    samples = len(analysis.clusters.labels)
    print(f"Run {record['id']} ({record.get('status', '?')}), {samples} {SPLIT_TITLES[args.split]} samples "
          f"of {data.info.name}")
    raw = " (raw input)" if analysis.layer == model.input_name else ""
    print(f"k-means on layer '{analysis.layer}'{raw}: {analysis.features} features"
          f"{', standardised' if analysis.standardized else ''}, k = {analysis.k}")
    print(format_scores(analysis.scores))
    print()
    print(format_inertia(analysis))
    if args.compare:
        table = compare_layers(model, data, k=analysis.k, split=args.split, standardize=args.standardize,
                               seed=args.seed)
        print()
        print(format_layers(table, model.input_name))
    if args.csv:
        path = write_assignments_csv(args.csv, analysis, data.info.class_names)
        print(f"\nWrote {samples} assignments to {path} (x, y: {analysis.projection.method.upper()})")
    return 0


def format_scores(scores: ClusterScores) -> str:
    rows = [("Adjusted Rand index", scores.ari), ("Normalised mutual information", scores.nmi),
            ("Purity", scores.purity)]
    lines = [f"  {name:<31}{value:.4f}" for name, value in rows if value is not None]
    lines.append(f"  {'Silhouette':<31}{_value(scores.silhouette)} ({scores.silhouette_samples} samples)")
    lines.append(f"  {'Inertia':<31}{scores.inertia:.6g}")
    return "\n".join(lines)


def format_inertia(analysis: ClusterAnalysis) -> str:
    lines = ["Inertia by k (the elbow suggests a natural k)", f"{'k':>5}{'inertia':>14}"]
    for k, inertia in analysis.inertia_by_k:
        lines.append(f"{k:>5}{inertia:>14.6g}" + ("   <- k" if k == analysis.k else ""))
    return "\n".join(lines)


def format_layers(table: list[LayerScores], input_name: str) -> str:
    names = [f"{row.layer} (raw input)" if row.layer == input_name else row.layer for row in table]
    width = max(12, *(len(n) for n in names)) + 2
    lines = ["Scores by layer", "layer".ljust(width) + f"{'features':>9}{'ARI':>9}{'NMI':>9}{'purity':>9}"
             f"{'silhouette':>12}"]
    for name, row in zip(names, table, strict=True):
        s = row.scores
        if s is None:
            lines.append(f"{name.ljust(width)}  skipped: {row.skipped}")
            continue
        lines.append(name.ljust(width) + f"{row.features:>9}{_value(s.ari):>9}{_value(s.nmi):>9}"
                     f"{_value(s.purity):>9}{_value(s.silhouette):>12}")
    return "\n".join(lines)


def _value(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4f}"
