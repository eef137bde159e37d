"""Building a `torch.nn.Module` from a model graph (imported only when a model is built).

The module runs the graph's nodes in topological order. It can return the outputs of any named nodes
(for learned features), and can leave out a final sigmoid or softmax so that training uses the
numerically stable fused loss on logits while predictions still apply the activation.
"""

from __future__ import annotations

import torch
from torch import nn

from studio.core.errors import GraphError
from studio.core.graph import ModelGraph
from studio.core.inference import GraphAnalysis, analyse, output_activation


class _Layers(nn.ModuleDict):
    """The built layers by node name. Any valid node name is a key, including ones that are also
    attribute names of a torch module ("train", "eval", "forward", ...): `ModuleDict` refuses those,
    but keys are only ever used as items here, never as attributes."""

    def __setitem__(self, key: str, module: nn.Module) -> None:
        if not isinstance(module, nn.Module):
            raise TypeError(f"{type(module).__name__} is not a torch module")
        self._modules[key] = module

    def __setattr__(self, name: str, value) -> None:
        # torch sets plain attributes such as `training` on every module; a layer of that name must
        # not turn that into "cannot assign 'bool' as child module".
        if name in self.__dict__.get("_modules", {}) and not isinstance(value, nn.Module):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


class GraphModule(nn.Module):
    def __init__(self, graph: ModelGraph, analysis: GraphAnalysis, *, logits: bool = False):
        super().__init__()
        # Set only when the final activation was left out; predictions must then apply it.
        self.output_activation = output_activation(graph, analysis) if logits else None
        self.layers = _Layers()
        self._plan: list[tuple[str, list[str]]] = []  # (node name, names of its inputs), in order
        for nid in analysis.order:
            node = graph.nodes[nid]
            if node.type == "Input":
                self.input_name = node.name
                continue
            sources = graph.inputs_of(nid)
            shapes = [analysis.nodes[s].shape for s in sources]
            params = dict(node.params)
            strip = nid == analysis.output_id and self.output_activation is not None
            if strip and "activation" in params:
                params["activation"] = "linear"
                module = node.spec.build(shapes, params)
            elif strip:
                module = nn.Identity()  # the model ends in a Sigmoid/Softmax layer
            else:
                module = node.spec.build(shapes, params)
            self.layers[node.name] = module
            self._plan.append((node.name, [graph.nodes[s].name for s in sources]))
        self.output_name = graph.nodes[analysis.output_id].name
        self.node_names = [self.input_name] + [name for name, _ in self._plan]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, {self.output_name})[self.output_name]

    def features(self, x: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
        """Outputs of the named nodes, computing only as far as the last of them."""
        unknown = [n for n in names if n not in self.node_names]
        if unknown:
            raise GraphError(f"no layer named {', '.join(unknown)} in this model")
        return self._run(x, set(names))

    def _run(self, x: torch.Tensor, wanted: set[str]) -> dict[str, torch.Tensor]:
        values = {self.input_name: x}
        remaining = wanted - values.keys()
        for name, sources in self._plan:
            if not remaining:
                break
            values[name] = self.layers[name](*(values[s] for s in sources))
            remaining.discard(name)
        return {name: values[name] for name in wanted}


def build_model(graph: ModelGraph, *, logits: bool = False) -> GraphModule:
    """The graph as a module; raises GraphError listing the problems if the model is incomplete.

    With `logits=True` a final sigmoid/softmax is left out and `module.output_activation` names it.
    """
    analysis = analyse(graph)
    if not analysis.ok:
        raise GraphError("the model cannot be built: " + "; ".join(p.message for p in analysis.problems))
    return GraphModule(graph, analysis, logits=logits)
