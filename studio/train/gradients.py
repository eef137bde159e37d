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


class ThroughTime:
    """How much gradient reaches each time step of the recurrent layers' inputs.

    The slides' point about recurrent nets: in a plain RNN the gradient shrinks with every step it
    travels back, so the first steps of a long sequence barely teach it. When armed for a step, the
    layers' inputs keep their gradients; `collect()` then gives, per layer, the L2 norm of the gradient
    at each time step (summed over the batch and the features).
    """

    def __init__(self, groups: ParamGroups, model: nn.Module) -> None:
        from studio.core.modules import Recurrent

        names = {id(p): name for name, params in groups for p in params}
        self._armed = False
        self._grads: dict[str, torch.Tensor] = {}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        for module in model.modules():
            if isinstance(module, Recurrent):
                name = names.get(id(next(module.parameters())), "")
                if name:
                    self._handles.append(module.register_forward_pre_hook(self._watch(name)))

    @property
    def active(self) -> bool:
        return bool(self._handles)

    def arm(self) -> None:
        self._armed = True

    def _watch(self, name: str):
        def pre_hook(_module: nn.Module, args: tuple) -> tuple | None:
            if not self._armed or not torch.is_grad_enabled():
                return None
            x = args[0]
            if not x.requires_grad:  # the data itself: ask autograd for its gradient this once
                x = x.detach().requires_grad_()
            x.register_hook(lambda grad: self._grads.__setitem__(name, grad.detach()))
            return (x, *args[1:])
        return pre_hook

    def collect(self, loss_scale: float = 1.0) -> dict[str, list[float]]:
        """Per layer, the gradient norm at each input step (first to last); disarms. `loss_scale`: what
        mixed precision multiplied the loss by, divided out again."""
        self._armed = False
        grads, self._grads = self._grads, {}
        return {name: (torch.linalg.vector_norm(grad.float(), dim=(0, 2)) / loss_scale).tolist()
                for name, grad in grads.items()}
