"""prunegan.masks: ChannelMask, prunable layers, apply (masking) and compact (deletion)."""
from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

from prunegan import masks, models, strategies, train
from prunegan.masks import ChannelMask


def B(*bits) -> torch.Tensor:
    return torch.tensor(bits, dtype=torch.bool)


class SmallNet(nn.Module):
    """A network that is not LeNet: three convs (one with avg pooling), nested containers."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 14x14
            nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),   # 7x7
            nn.Conv2d(8, 5, 3), nn.ReLU(),                               # 5x5
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(5 * 5 * 5, 12), nn.ReLU(), nn.Linear(12, 10))

    def forward(self, x):
        return self.head(self.features(x))


SMALL_CONVS = ["features.0", "features.3", "features.6"]


def tanh_net(seed: int = 0) -> nn.Sequential:
    """Tanh has a non-zero gradient at 0 (ReLU's is 0), so without the mask's hook a pruned channel
    would come back to life while retraining: this network tests that the hook keeps it dead."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2),   # 14x14
                             nn.Conv2d(4, 6, 3), nn.Tanh(), nn.AvgPool2d(2),              # 6x6
                             nn.Flatten(), nn.Linear(6 * 6 * 6, 16), nn.Tanh(), nn.Linear(16, 10))


def small_net(seed: int = 0) -> SmallNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SmallNet()
    # non-zero biases everywhere, so "bias included" is really tested
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.bias.uniform_(0.1, 0.5, generator=torch.Generator().manual_seed(seed))
    return net


def lenet_mask() -> ChannelMask:
    return ChannelMask({"conv1": B(1, 0, 1, 1, 0, 1), "conv2": torch.arange(16) % 3 != 0})


@pytest.fixture(scope="module")
def images():
    return torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -------------------------------------------------------------------------------- prunable layers

def test_prunable_layers_lenet5():
    model = models.build("lenet5")
    assert list(masks.prunable_layers(model)) == ["conv1", "conv2"]
    assert list(masks.prunable_layers(model, include_linear=True)) == ["conv1", "conv2", "fc1", "fc2"]
    assert masks.layer_sizes(model, include_linear=True) == {"conv1": 6, "conv2": 16, "fc1": 120, "fc2": 84}


@pytest.mark.parametrize("make", [lambda: models.build("lenet5"), lambda: models.build("lenet5-caffe"), small_net])
@pytest.mark.parametrize("include_linear", [False, True])
def test_prunable_layers_are_the_convs_and_hidden_linears(make, include_linear):
    model = make()
    named = list(model.named_modules())
    convs = [n for n, m in named if isinstance(m, nn.Conv2d)]
    linears = [n for n, m in named if isinstance(m, nn.Linear)]
    expected = convs + (linears[:-1] if include_linear else [])
    layers = masks.prunable_layers(model, include_linear=include_linear)
    assert sorted(layers) == sorted(expected)
    assert all(layers[n] is dict(named)[n] for n in layers)
    # the logits layer is never prunable
    assert linears[-1] not in layers
    # the mask a strategy returns has exactly these layers
    mask = strategies.prune(model, "random", 0.5, seed=0, include_linear=include_linear)
    assert list(mask) == list(layers)


def test_small_net_prunable_layers():
    assert list(masks.prunable_layers(small_net())) == SMALL_CONVS
    assert list(masks.prunable_layers(small_net(), include_linear=True)) == SMALL_CONVS + ["head.1"]


@pytest.mark.parametrize("include_linear", [False, True])
def test_model_without_prunable_layer_raises(include_linear):
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with pytest.raises(ValueError, match="no prunable layer"):
        masks.prunable_layers(model, include_linear=include_linear)
    with pytest.raises(ValueError, match="no prunable layer"):
        strategies.prune(model, "l1", 0.5, seed=0, include_linear=include_linear)
    with pytest.raises(ValueError, match="no prunable layer"):
        ChannelMask.full(model)


# --------------------------------------------------------------------------------- ChannelMask type

def test_derived_quantities():
    m = ChannelMask({"a": B(1, 0, 1, 0), "b": B(0, 0), "c": B(1, 1, 1, 0)})
    assert m.sizes == {"a": 4, "b": 2, "c": 4}
    assert m.n_channels == 10 and m.n_kept == 5 and m.n_pruned == 5
    assert m.sparsity == pytest.approx(0.5)
    assert m.kept_per_layer() == {"a": 2, "b": 0, "c": 3}
    assert m.layer_sparsity() == pytest.approx({"a": 0.5, "b": 1.0, "c": 0.25})
    assert m.collapsed_layers() == ["b"]
    assert "sparsity=0.500" in repr(m)


def test_full_mask():
    model = models.build("lenet5")
    full = ChannelMask.full(model)
    assert full.sparsity == 0.0 and full.collapsed_layers() == []
    assert full.sizes == {"conv1": 6, "conv2": 16}
    assert ChannelMask.full(model, include_linear=True).sizes == masks.layer_sizes(model, include_linear=True)


@pytest.mark.parametrize("bad", [
    torch.tensor([1, 0, 1]),                         # int
    torch.tensor([1.0, 0.0, 1.0]),                   # float
    torch.ones(2, 3, dtype=torch.bool),              # 2-D
    torch.ones((), dtype=torch.bool),                # 0-D
    torch.zeros(0, dtype=torch.bool),                # empty
    [1, 0, 1],                                       # list of ints
])
def test_invalid_layer_mask_raises(bad):
    with pytest.raises(ValueError, match="'conv1'"):
        ChannelMask({"conv1": bad})


def test_empty_mask_raises():
    with pytest.raises(ValueError):
        ChannelMask({})


def test_mask_is_immutable():
    m = lenet_mask()
    with pytest.raises(AttributeError):
        m._masks = {}
    with pytest.raises(AttributeError):
        m.extra = 1
    with pytest.raises(TypeError):
        m["conv1"] = B(1, 1, 1, 1, 1, 1)
    before = m.to_vector().clone()
    m["conv1"][:] = False  # changing a tensor read out of the mask does not change the mask
    src = B(1, 1, 0)
    m2 = ChannelMask({"x": src})
    src[:] = False  # nor does changing the tensor it was built from
    assert torch.equal(m.to_vector(), before)
    assert m2["x"].tolist() == [True, True, False]


def test_equality_hash_and_key():
    a, b = lenet_mask(), lenet_mask()
    assert a == b and hash(a) == hash(b) and a.key() == b.key()
    c = ChannelMask.from_vector(~a.to_vector(), a.sizes)
    assert a != c and a.key() != c.key()
    # leading pruned channels must not vanish from the key
    assert ChannelMask({"x": B(0, 1)}).key() != ChannelMask({"x": B(0, 0, 1)}).key()
    assert len({a, b, c}) == 2
    # same bits, different layer names: different masks
    assert ChannelMask({"x": B(1, 0)}) != ChannelMask({"y": B(1, 0)})


def test_to_dict_from_dict_round_trip():
    m = lenet_mask()
    d = m.to_dict()
    assert d["conv1"] == [1, 0, 1, 1, 0, 1]
    assert ChannelMask.from_dict(json.loads(json.dumps(d))) == m


def test_save_load_round_trip(tmp_path):
    m = lenet_mask()
    path = tmp_path / "mask.pt"
    m.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.pt"]  # no temporary file left
    assert ChannelMask.load(path) == m
    raw = torch.load(path, weights_only=True)  # plain tensors, no pickled class
    assert set(raw) == {"conv1", "conv2"} and all(v.dtype == torch.bool for v in raw.values())
    m2 = ChannelMask({"conv1": B(0, 0, 0, 0, 0, 1), "conv2": torch.ones(16, dtype=torch.bool)})
    m2.save(str(path))  # overwrite, str path
    assert ChannelMask.load(str(path)) == m2


def test_vector_round_trip():
    m = lenet_mask()
    v = m.to_vector()
    assert v.dtype == torch.bool and v.shape == (22,)
    assert v[:6].tolist() == [True, False, True, True, False, True]
    assert ChannelMask.from_vector(v, m.sizes) == m
    assert ChannelMask.from_vector(v.to(torch.float32), m.sizes) == m
    with pytest.raises(ValueError, match="21"):
        ChannelMask.from_vector(v[:21], m.sizes)


def test_hamming():
    m = lenet_mask()
    v = m.to_vector()
    flipped = v.clone()
    flipped[[0, 7, 21]] = ~flipped[[0, 7, 21]]
    other = ChannelMask.from_vector(flipped, m.sizes)
    assert m.hamming(m) == 0
    assert m.hamming(other) == other.hamming(m) == 3
    with pytest.raises(ValueError, match="different layers"):
        m.hamming(ChannelMask({"conv1": B(1, 1, 1, 1, 1, 1)}))


# ------------------------------------------------------------------------------------ check_matches

@pytest.mark.parametrize("bad", [
    {"conv1": B(1, 1, 1, 1, 1), "conv2": torch.ones(16, dtype=torch.bool)},        # wrong length
    {"conv1": B(1, 1, 1, 1, 1, 1)},                                                 # missing layer
    {"conv1": B(1, 1, 1, 1, 1, 1), "conv2": torch.ones(16, dtype=torch.bool),
     "conv3": B(1, 1)},                                                             # extra layer
    {"conv1": B(1, 1, 1, 1, 1, 1), "convX": torch.ones(16, dtype=torch.bool)},      # wrong name
    {"conv1": B(1, 1, 1, 1, 1, 1), "conv2": torch.ones(16, dtype=torch.bool),
     "fc1": torch.ones(120, dtype=torch.bool)},                                     # fc2 missing
    {"conv1": B(1, 1, 1, 1, 1, 1), "conv2": torch.ones(16, dtype=torch.bool),
     "fc1": torch.ones(120, dtype=torch.bool), "fc2": torch.ones(84, dtype=torch.bool),
     "out": torch.ones(10, dtype=torch.bool)},                                      # logits layer
])
def test_mask_not_matching_model_raises(bad):
    model = models.build("lenet5")
    mask = ChannelMask(bad)
    for fn in (mask.check_matches, lambda m: masks.apply(m, mask), lambda m: masks.compact(m, mask)):
        with pytest.raises(ValueError, match="does not match"):
            fn(model)


def test_matching_masks_pass_check():
    model = models.build("lenet5")
    lenet_mask().check_matches(model)
    ChannelMask.full(model, include_linear=True).check_matches(model)
    with pytest.raises(ValueError):
        lenet_mask().check_matches(models.build("lenet5-caffe"))


# -------------------------------------------------------------------------------- apply and compact

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
    masked, small = masks.apply(model, mask), masks.compact(model, mask)
    with torch.no_grad():
        original, out_masked, out_small = model(images), masked(images), small(images)
    torch.testing.assert_close(out_small, out_masked, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out_masked, original, atol=1e-3)  # pruning did change the network
    # compact really removed the channels (a collapsed layer keeps one, zeroed)
    layers = dict(small.named_modules())
    for name, kept in mask.kept_per_layer().items():
        assert masks._out_size(layers[name]) == max(kept, 1), name
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("case", CASES)
def test_apply_and_compact_leave_the_input_model_unchanged(case, images):
    model, mask = _case(case)
    before = state(model)
    with torch.no_grad():
        logits = model(images)
    masks.apply(model, mask)
    masks.compact(model, mask)
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
    masked = masks.apply(model, mask)
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
        torch.testing.assert_close(masks.apply(model, full)(images), model(images), atol=0, rtol=0)
        torch.testing.assert_close(masks.compact(model, full)(images), model(images), atol=1e-6, rtol=1e-6)


def test_bias_is_pruned_too(images):
    # A single conv layer whose pruned channel has a large bias: its output must be 0, not the bias.
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Flatten(), nn.Linear(3 * 26 * 26, 10))
    with torch.no_grad():
        net[0].bias.fill_(5.0)
    masked = masks.apply(net, ChannelMask({"0": B(1, 0, 1)}))
    out = _outputs(masked, ["0"], images)["0"]
    assert torch.count_nonzero(out[:, 1]) == 0
    assert torch.count_nonzero(out[:, 0]) > 0


@pytest.mark.parametrize("case, optimizer", [("lenet5", "adam"), ("lenet5-linear-collapsed-fc1", "sgd"),
                                             ("smallnet-linear-collapsed", "adam"), ("tanhnet", "adam"),
                                             ("tanhnet-linear", "sgd")])
def test_pruned_channels_stay_zero_while_training(case, optimizer, small_data):
    model, mask = _case(case)
    masked = masks.apply(model, mask)
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
    macs, params = masks.count(model)
    assert params == 61_706 and macs > params
    assert masks.count(masks.compact(model, ChannelMask.full(model))) == (macs, params)
    last = (macs, params)
    for sparsity in (0.2, 0.5, 0.8):
        mask = strategies.prune(model, "l1", sparsity, seed=0, min_channels_per_layer=1)
        now = masks.count(masks.compact(model, mask))
        assert now[0] < last[0] and now[1] < last[1], sparsity
        last = now


def test_compact_network_can_be_retrained(small_data):
    model, mask = _case("lenet5-collapsed-conv2")
    small = masks.compact(model, mask)
    train.fit(small, small_data.subset(100, 20), train.TrainConfig(epochs=1, device="cpu"), eval_every_epoch=False)
    conv2 = small.conv2
    assert conv2.out_channels == 1 and torch.count_nonzero(conv2.weight) == 0 and conv2.bias.item() == 0


def test_compact_works_under_no_grad(images):
    # torch-pruning traces the graph with autograd; compact must not depend on the caller's grad mode
    model, mask = _case("lenet5")
    with torch.no_grad():
        small = masks.compact(model, mask)
        torch.testing.assert_close(small(images), masks.apply(model, mask)(images), atol=1e-5, rtol=1e-5)
    assert all(p.requires_grad for p in small.parameters())


def test_mask_survives_copy_and_pickle():
    import pickle

    m = lenet_mask()
    for clone in (copy.copy(m), copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert isinstance(clone, ChannelMask) and clone == m
        with pytest.raises(AttributeError):
            clone.x = 1
    holder = {"mask": m}
    assert copy.deepcopy(holder)["mask"] == m
