"""Per-layer gradient norms, grouped the way a person sees the model: one entry per layer."""

from __future__ import annotations

import torch
from torch import nn

ParamGroups = list[tuple[str, list[nn.Parameter]]]


def layer_groups(model: nn.Module) -> ParamGroups:
    """Trainable parameters grouped by top-level layer (`named_children`).

    Wrappers with a single child and no parameters of their own (a ModuleDict of graph nodes, a
    lone Sequential) are looked through, so the groups are the layers, not the wrapper.
    Parameters held directly by the model form groups named after themselves.
    """
    root = model
    while True:
        children = list(root.named_children())
        if len(children) != 1 or any(True for _ in root.parameters(recurse=False)):
            break
        root = children[0][1]
    groups: ParamGroups = [(name, [p]) for name, p in root.named_parameters(recurse=False) if p.requires_grad]
    for name, child in root.named_children():
        params = [p for p in child.parameters() if p.requires_grad]
        if params:
            groups.append((name, params))
    return groups


def grad_norms(groups: ParamGroups) -> dict[str, float]:
    """L2 norm of each group's gradients (one device sync for all of them); groups without grads skipped."""
    names, norms = [], []
    for name, params in groups:
        grads = [p.grad for p in params if p.grad is not None]
        if grads:
            names.append(name)
            norms.append(torch.linalg.vector_norm(torch.stack(
                [torch.linalg.vector_norm(g, dtype=torch.float32) for g in grads])))
    if not norms:
        return {}
    return dict(zip(names, torch.stack(norms).tolist(), strict=True))
