"""Left-to-right automatic layout: columns by longest path from the sources, rows by barycentre."""

from __future__ import annotations

from studio.core.graph import ModelGraph

COLUMN_STEP = 200.0  # the spacing of the example projects, so a laid-out file looks like theirs
ROW_STEP = 120.0


def auto_layout(graph: ModelGraph) -> dict[str, tuple[float, float]]:
    """New positions for every node; the first source (normally the Input) keeps its place."""
    if not graph.nodes:
        return {}
    order = graph.topological_order()
    column: dict[str, int] = {}
    for nid in order:
        column[nid] = max((column[src] + 1 for src in graph.inputs_of(nid)), default=0)
    columns: list[list[str]] = [[] for _ in range(max(column.values()) + 1)]
    for nid in order:
        columns[column[nid]].append(nid)
    # One sweep of the barycentre heuristic: a node sits near the average row of what feeds it, which
    # keeps a chain straight and puts branches on either side of it.
    row: dict[str, float] = {}
    for members in columns:
        for i, nid in enumerate(members):
            sources = graph.inputs_of(nid)
            row[nid] = sum(row[s] for s in sources) / len(sources) if sources else float(i)
        members.sort(key=lambda nid: row[nid])
        for i, nid in enumerate(members):
            row[nid] = i - (len(members) - 1) / 2
    anchor = order[0]
    ax, ay = graph.nodes[anchor].pos
    ox, oy = ax - column[anchor] * COLUMN_STEP, ay - row[anchor] * ROW_STEP
    return {nid: (ox + column[nid] * COLUMN_STEP, oy + row[nid] * ROW_STEP) for nid in order}
