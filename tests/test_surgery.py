"""prunegan.pruning.surgery: apply (masking), compact (deletion) and count (MACs, parameters)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from prunegan import models, train
from prunegan.core.masks import ChannelMask, _out_size
from prunegan.pruning import strategies, surgery

from toy_nets import MISMATCHED_LENET_MASKS, B, lenet_mask, small_net, tanh_net


@pytest.fixture(scope="module")
def images():
    return torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _case(name):
    """(model, mask) pairs; every mask prunes something, some collapse a layer."""
    if name == "lenet5":
        return models.build("lenet5", seed=1), lenet_mask()
    if name == "lenet5-caffe":
        model = models.build("lenet5-caffe", seed=2)
        return model, strategies.prune(model, "random", 0.6, seed=0)
    if name == "lenet5-collapsed-conv1":
        model = models.build("lenet5", seed=3)
        return model, ChannelMask({"conv1": torch.zeros(6, dtype=torch.bool), "conv2": torch.arange(16) < 9})
    if name == "lenet5-collapsed-conv2":
        model = models.build("lenet5", seed=3)
        return model, ChannelMask({"conv1": B(1, 0, 0, 1, 1, 1), "conv2": torch.zeros(16, dtype=torch.bool)})
    if name == "lenet5-linear":
        model = models.build("lenet5", seed=4)
        return model, strategies.prune(model, "random", 0.5, seed=1, include_linear=True)
    if name == "lenet5-linear-collapsed-fc1":
        model = models.build("lenet5", seed=4)
        return model, ChannelMask({"conv1": B(1, 1, 0, 1, 1, 1), "conv2": torch.arange(16) % 2 == 0,
                                   "fc1": torch.zeros(120, dtype=torch.bool), "fc2": torch.arange(84) < 50})
    if name == "smallnet":
        model = small_net(5)
        return model, ChannelMask({"features.0": B(1, 0, 1, 1), "features.3": B(0, 1, 1, 0, 1, 0, 1, 1),
                                   "features.6": B(1, 1, 0, 1, 0)})
    if name == "smallnet-linear-collapsed":
        model = small_net(6)
        return model, ChannelMask({"features.0": B(0, 0, 0, 0), "features.3": B(0, 1, 1, 0, 1, 0, 1, 1),
                                   "features.6": B(1, 1, 0, 1, 0), "head.1": torch.arange(12) % 3 != 1})
    if name == "tanhnet":
        return tanh_net(7), ChannelMask({"0": B(1, 0, 1, 0), "3": B(0, 1, 1, 0, 1, 1)})
    if name == "tanhnet-linear":
        return tanh_net(8), ChannelMask({"0": B(1, 1, 0, 1), "3": B(1, 0, 1, 0, 1, 1),
                                         "7": torch.arange(16) % 4 != 0})
    raise KeyError(name)


CASES = ["lenet5", "lenet5-caffe", "lenet5-collapsed-conv1", "lenet5-collapsed-conv2", "lenet5-linear",
         "lenet5-linear-collapsed-fc1", "smallnet", "smallnet-linear-collapsed", "tanhnet", "tanhnet-linear"]


@pytest.mark.parametrize("case", CASES)
def test_compact_gives_the_same_logits_as_masked(case, images):
    model, mask = _case(case)
    assert mask.n_pruned > 0
    masked, small = surgery.apply(model, mask), surgery.compact(model, mask)
    with torch.no_grad():
        original, out_masked, out_small = model(images), masked(images), small(images)
    torch.testing.assert_close(out_small, out_masked, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out_masked, original, atol=1e-3)  # pruning did change the network
    # compact really removed the channels (a collapsed layer keeps one, zeroed)
    layers = dict(small.named_modules())
    for name, kept in mask.kept_per_layer().items():
        assert _out_size(layers[name]) == max(kept, 1), name
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("case", CASES)
def test_apply_and_compact_leave_the_input_model_unchanged(case, images):
    model, mask = _case(case)
    before = state(model)
    with torch.no_grad():
        logits = model(images)
    surgery.apply(model, mask)
    surgery.compact(model, mask)
    assert same_state(state(model), before)
    assert all(not m._forward_hooks for m in model.modules())
    with torch.no_grad():
        assert torch.equal(model(images), logits)


def _outputs(model, names, x):
    """The outputs of the named layers on x (after the layers' own forward hooks)."""
    seen, handles = {}, []
    layers = dict(model.named_modules())
    for n in names:
        handles.append(layers[n].register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o.detach())))
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return seen


@pytest.mark.parametrize("case", ["lenet5", "lenet5-linear", "smallnet-linear-collapsed"])
def test_apply_zeroes_exactly_the_pruned_channels(case, images):
    model, mask = _case(case)
    masked = surgery.apply(model, mask)
    out = _outputs(masked, list(mask), images)
    first = list(mask)[0]
    reference = _outputs(model, [first], images)[first]
    for name, keep in mask.items():
        pruned = out[name][:, ~keep]
        assert pruned.numel() == 0 or torch.count_nonzero(pruned) == 0, name
        assert not keep.any() or torch.count_nonzero(out[name][:, keep]) > 0, name
        layer = dict(masked.named_modules())[name]
        assert torch.count_nonzero(layer.weight[~keep]) == 0 and torch.count_nonzero(layer.bias[~keep]) == 0
    # the first layer's kept channels are untouched (its input is the image itself)
    torch.testing.assert_close(out[first][:, mask[first]], reference[:, mask[first]])


def test_full_mask_changes_nothing(images):
    model = models.build("lenet5", seed=7)
    full = ChannelMask.full(model, include_linear=True)
    with torch.no_grad():
        torch.testing.assert_close(surgery.apply(model, full)(images), model(images), atol=0, rtol=0)
        torch.testing.assert_close(surgery.compact(model, full)(images), model(images), atol=1e-6, rtol=1e-6)


def test_bias_is_pruned_too(images):
    # A single conv layer whose pruned channel has a large bias: its output must be 0, not the bias.
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Flatten(), nn.Linear(3 * 26 * 26, 10))
    with torch.no_grad():
        net[0].bias.fill_(5.0)
    masked = surgery.apply(net, ChannelMask({"0": B(1, 0, 1)}))
    out = _outputs(masked, ["0"], images)["0"]
    assert torch.count_nonzero(out[:, 1]) == 0
    assert torch.count_nonzero(out[:, 0]) > 0


@pytest.mark.parametrize("case, optimizer", [("lenet5", "adam"), ("lenet5-linear-collapsed-fc1", "sgd"),
                                             ("smallnet-linear-collapsed", "adam"), ("tanhnet", "adam"),
                                             ("tanhnet-linear", "sgd")])
def test_pruned_channels_stay_zero_while_training(case, optimizer, small_data):
    model, mask = _case(case)
    masked = surgery.apply(model, mask)
    before = state(masked)
    config = train.TrainConfig(epochs=1, batch_size=50, lr=1e-2, optimizer=optimizer, weight_decay=1e-3,
                               seed=0, device="cpu")
    train.fit(masked, small_data.subset(200, 50), config, eval_every_epoch=False)
    layers = dict(masked.named_modules())
    out = _outputs(masked, list(mask), small_data.x_test[:32])
    for name, keep in mask.items():
        layer = layers[name]
        assert torch.count_nonzero(layer.weight[~keep]) == 0, name
        assert torch.count_nonzero(layer.bias[~keep]) == 0, name
        assert torch.count_nonzero(out[name][:, ~keep]) == 0, name
        if keep.any():  # training did happen on the kept channels
            assert not torch.equal(layer.weight[keep], before[f"{name}.weight"][keep]), name


def test_count_shrinks_with_sparsity():
    model = models.build("lenet5")
    macs, params = surgery.count(model)
    assert params == 61_706 and macs > params
    assert surgery.count(surgery.compact(model, ChannelMask.full(model))) == (macs, params)
    last = (macs, params)
    for sparsity in (0.2, 0.5, 0.8):
        mask = strategies.prune(model, "l1", sparsity, seed=0, min_channels_per_layer=1)
        now = surgery.count(surgery.compact(model, mask))
        assert now[0] < last[0] and now[1] < last[1], sparsity
        last = now


def test_count_matches_a_hand_count():
    # conv 1→2 (3x3, pad 1) on 28x28, then linear 2·28·28 → 3
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 28 * 28, 3))
    params = (2 * 9 + 2) + (2 * 28 * 28 * 3 + 3)
    conv_outputs = 2 * 28 * 28
    macs = conv_outputs * 9 + conv_outputs + (conv_outputs * 3 + 3)  # multiply-adds + one add per bias
    assert surgery.count(net) == (macs, params)
    assert surgery.INPUT_SHAPE == (1, 1, 28, 28)


def test_compact_network_can_be_retrained(small_data):
    model, mask = _case("lenet5-collapsed-conv2")
    small = surgery.compact(model, mask)
    train.fit(small, small_data.subset(100, 20), train.TrainConfig(epochs=1, device="cpu"),
              eval_every_epoch=False)
    conv2 = small.conv2
    assert conv2.out_channels == 1 and torch.count_nonzero(conv2.weight) == 0 and conv2.bias.item() == 0


def test_compact_works_under_no_grad(images):
    # torch-pruning traces the graph with autograd; compact must not depend on the caller's grad mode
    model, mask = _case("lenet5")
    with torch.no_grad():
        small = surgery.compact(model, mask)
        torch.testing.assert_close(small(images), surgery.apply(model, mask)(images), atol=1e-5, rtol=1e-5)
    assert all(p.requires_grad for p in small.parameters())


@pytest.mark.parametrize("bad", MISMATCHED_LENET_MASKS)
@pytest.mark.parametrize("fn", [surgery.apply, surgery.compact])
def test_mask_not_matching_model_raises(fn, bad):
    with pytest.raises(ValueError, match="does not match"):
        fn(models.build("lenet5"), ChannelMask(bad))
