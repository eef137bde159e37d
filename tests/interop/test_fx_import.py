"""PyTorch modules traced with torch.fx and made into studio graphs."""

from __future__ import annotations

import textwrap

import pytest
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from studio.cli import main
from studio.core.build import build_model
from studio.core.project import load_project
from studio.core.summary import summarize
from studio.interop import InteropError
from studio.interop.fx_import import graph_from_module


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.25), nn.Linear(16, 10), nn.Softmax(dim=1))

    def forward(self, x):
        return self.classifier(self.features(x))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(20, 32), nn.Linear(32, 32), nn.Linear(32, 3)
        self.norm = nn.LayerNorm(32)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = self.norm(torch.sigmoid(self.fc2(x)))
        return self.out(x).softmax(-1)


class ResidualBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
        self.conv3, self.pool, self.fc = nn.Conv2d(8, 4, 1), nn.MaxPool2d(2), nn.Linear(12 * 4 * 4, 2)

    def forward(self, x):
        y = F.relu(self.conv1(x))
        z = self.conv2(y) + y
        z = torch.cat([F.relu(z), self.conv3(z)], dim=1)
        z = self.pool(z)
        return self.fc(z.view(z.size(0), -1))


class TutorialNet(nn.Module):
    """The CIFAR-10 network of PyTorch's 60-minute tutorial: one pooling module used twice, x.view(-1, n)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.pool, self.conv2 = nn.Conv2d(3, 6, 5), nn.MaxPool2d(2, 2), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(50, 8)
        self.lstm, self.gru = nn.LSTM(8, 16, batch_first=True), nn.GRU(16, 4, batch_first=True)
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        out, _ = self.lstm(self.embedding(x))
        _, h = self.gru(out)
        return torch.sigmoid(self.fc(h[-1]))


class LastStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(3, 16, batch_first=True), nn.Linear(16, 1)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.fc(out[:, -1, :])


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.grouped = nn.Linear(4, 4), nn.Conv2d(4, 4, 1, groups=2)

    def forward(self, x):
        x = torch.sort(self.fc(x)).values
        y = self.grouped(x.reshape(-1, 4, 1, 1))
        return x * 2 + y.mean()


CASES = [
    pytest.param(SmallCNN, (1, 12, 12), "Input Conv2D BatchNorm ReLU MaxPool2D Conv2D ReLU GlobalAvgPool2D "
                 "Flatten Dropout Dense Softmax", id="cnn"),
    pytest.param(MLP, (20,), "Input Dense ReLU Dense Sigmoid LayerNorm Dense Softmax", id="mlp-functional"),
    pytest.param(ResidualBlock, (3, 8, 8), "Input Conv2D ReLU Conv2D Add ReLU Conv2D Concat MaxPool2D "
                 "Flatten Dense", id="residual"),
    pytest.param(TutorialNet, (3, 32, 32), "Input Conv2D ReLU MaxPool2D Conv2D ReLU MaxPool2D Flatten Dense "
                 "ReLU Dense ReLU Dense", id="tutorial-cifar"),
    pytest.param(Recurrent, (10,), "Input Embedding LSTM GRU Dense Sigmoid", id="recurrent"),
    pytest.param(LastStep, (7, 3), "Input LSTM Dense", id="last-step"),
]


@pytest.mark.parametrize(("cls", "shape", "types"), CASES)
def test_module_becomes_a_graph_with_its_parameter_count_and_output_shape(cls, shape, types):
    torch.manual_seed(0)
    module = cls().eval()
    result = graph_from_module(module, shape)
    graph = result.graph
    assert [n.type for n in graph.nodes.values()] == types.split()
    summary = summarize(graph)
    assert summary.trainable == sum(p.numel() for p in module.parameters())
    assert summary.non_trainable == sum(b.numel() for b in module.buffers() if b.is_floating_point())
    x = torch.randint(0, 50, (2, *shape)) if cls is Recurrent else torch.randn(2, *shape)
    assert build_model(graph)(x).shape == module(x).shape
    assert result.notes == []


def test_residual_edges_and_recurrent_outputs():
    graph = graph_from_module(ResidualBlock(), (3, 8, 8)).graph
    add = graph.node_by_name("add")
    assert [graph.nodes[s].name for s in graph.inputs_of(add.id)] == ["conv2", "relu"]
    cat = graph.node_by_name("cat")
    assert [graph.nodes[s].name for s in graph.inputs_of(cat.id)] == ["relu_1", "conv3"]
    assert graph.node_by_name("conv1").params["padding"] == "same"
    recurrent = graph_from_module(Recurrent(), (10,)).graph
    assert recurrent.node_by_name("input").params == {"kind": "tokens", "length": 10, "vocab_size": 50,
                                                      "channels": 1, "height": 28, "width": 28, "features": 2}
    assert recurrent.node_by_name("lstm").params["return_sequences"] is True
    assert recurrent.node_by_name("gru").params["return_sequences"] is False


def test_unsupported_operations_are_named_in_one_error():
    with pytest.raises(InteropError) as caught:
        graph_from_module(Unsupported(), (4,))
    assert str(caught.value) == (
        "cannot import: layers with no counterpart in the studio: 'sort' (torch.sort), 'reshape' "
        "(Tensor.reshape), 'mul' (operator.mul), 'mean' (Tensor.mean); settings the studio does not have: "
        "'grouped' (Conv2d) groups=2")


def test_a_weighted_module_applied_twice_is_refused():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    with pytest.raises(InteropError, match=r"'fc' \(Linear\) is applied 2 times \(shared weights\)"):
        graph_from_module(Twice(), (4,))


def test_wrong_input_shape_is_one_clean_message(capfd):
    with pytest.raises(InteropError) as caught:
        graph_from_module(TutorialNet(), (1, 28, 28))
    assert str(caught.value).startswith("the module does not run on an input of shape (N, 1, 28, 28): ")
    assert "Traceback" not in capfd.readouterr().err


def test_module_that_torch_fx_cannot_trace():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(InteropError, match="cannot trace Branchy with torch.fx"):
        graph_from_module(Branchy(), (3,))


def test_cli_imports_a_python_class(tmp_path, capsys):
    source = tmp_path / "net.py"
    source.write_text(textwrap.dedent("""
        from torch import nn

        class Net(nn.Sequential):
            def __init__(self):
                super().__init__(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    """))
    output = tmp_path / "net.studio"
    assert main(["import", f"{source}:Net", "--input-shape", "1,28,28", "--output", str(output)]) == 0
    assert "Total params: 25,450" in capsys.readouterr().out
    types = [n.type for n in load_project(output).graph.nodes.values()]
    assert types == ["Input", "Flatten", "Dense", "ReLU", "Dense"]
    assert main(["import", f"{source}:Net", "--output", str(tmp_path / "other.studio")]) == 2
    assert "needs --input-shape" in capsys.readouterr().err
