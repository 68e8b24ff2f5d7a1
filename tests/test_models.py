"""prunegan.models: the registry of networks."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from prunegan import models
from prunegan.core import masks


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_names():
    assert models.names() == ["lenet5", "lenet5-caffe"]


@pytest.mark.parametrize("name, convs, linears, params", [
    ("lenet5", [6, 16], [120, 84, 10], 61_706),
    ("lenet5-caffe", [20, 50], [500, 10], 431_080),
])
def test_architecture(name, convs, linears, params):
    model = models.build(name)
    assert [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)] == convs
    assert [m.out_features for m in model.modules() if isinstance(m, nn.Linear)] == linears
    assert n_params(model) == params
    assert masks.layer_sizes(model) == dict(zip(["conv1", "conv2"], convs))


@pytest.mark.parametrize("name", ["lenet5", "lenet5-caffe"])
@pytest.mark.parametrize("batch", [1, 5])
def test_forward_shape(name, batch):
    model = models.build(name)
    out = model(torch.randn(batch, 1, 28, 28))
    assert out.shape == (batch, 10)
    assert torch.isfinite(out).all()


def test_num_classes():
    model = models.build("lenet5", num_classes=7)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 7)


def test_lenet5_caffe_hidden_layer_sees_800_features():
    model = models.build("lenet5-caffe")
    assert model.fc1.in_features == 800 and model.fc1.out_features == 500


def _weights(model):
    return [p.detach().clone() for p in model.parameters()]


def test_same_seed_same_weights_different_seed_different():
    a, b, c = models.build("lenet5", seed=3), models.build("lenet5", seed=3), models.build("lenet5", seed=4)
    assert all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b)))
    assert not any(torch.equal(x, y) for x, y in zip(_weights(a), _weights(c)))


def test_build_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(5)
    torch.manual_seed(123)
    models.build("lenet5-caffe", seed=9)
    assert torch.equal(torch.rand(5), expected)


@pytest.mark.parametrize("bad", ["lenet", "LeNet5", "resnet18", None])
def test_unknown_model_lists_valid_names(bad):
    with pytest.raises(ValueError) as err:
        models.build(bad)
    message = str(err.value)
    assert repr(bad) in message and "lenet5" in message and "lenet5-caffe" in message


def test_registry_refuses_duplicate_names():
    with pytest.raises(ValueError, match="already registered"):
        models.MODELS.register("lenet5")(lambda num_classes=10: None)
    assert "lenet5" in models.MODELS
