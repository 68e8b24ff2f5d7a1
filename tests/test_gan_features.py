"""Channel features (issue 13): the image features beside the weight features — shapes, determinism,
within-layer standardisation, default inputs and errors (the statistics behind them, what a dead channel
looks like and their memo: tests/test_pruning_importance.py)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from prunegan import data, models
from prunegan.core.masks import layer_sizes
from prunegan.gan import features as F
from prunegan.pruning import importance as I


class RgbNet(nn.Module):
    """A network that takes 3×32×32 images (no default inputs exist for it)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 5, 3, groups=1)
        self.fc = nn.Linear(5 * 6 * 6, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)  # 30 -> 15
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)  # 13 -> 6
        return self.fc(x.flatten(1))


def rgb_net(seed: int = 0) -> RgbNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return RgbNet()


@pytest.fixture(scope="module")
def lenet():
    return models.build("lenet5", seed=3)


def col(f: F.ChannelFeatures, name: str) -> torch.Tensor:
    return f.x[:, f.names.index(name)]


def test_feature_lists_and_version():
    assert F.FEATURES == F.WEIGHT_FEATURES + F.IMAGE_FEATURES and len(set(F.FEATURES)) == len(F.FEATURES)
    assert F.FEATURE_VERSION == 2
    assert F.WEIGHT_FEATURES[0] == "l1_z_layer" and "taylor_z_layer" in F.IMAGE_FEATURES


def test_the_statistics_are_pruning_importance_reexported():
    """The raw statistics moved to prunegan.pruning.importance; the old names still import from here."""
    assert F.channel_statistics is I.channel_statistics and F.clear_cache is I.clear_cache
    assert F.STATISTICS == I.STATISTICS and F.PROBE_STATISTICS == I.PROBE_STATISTICS


@pytest.mark.parametrize("include_linear", [False, True])
def test_every_feature_of_every_channel(lenet, images, labels, include_linear):
    f = F.channel_features(lenet, include_linear=include_linear, inputs=images, labels=labels)
    sizes = layer_sizes(lenet, include_linear=include_linear)
    assert f.names == F.FEATURES and f.layers == tuple(sizes) and f.sizes == tuple(sizes.values())
    assert f.x.shape == (sum(sizes.values()), len(F.FEATURES)) and torch.isfinite(f.x).all()
    stats = F.channel_statistics(lenet, include_linear=include_linear, inputs=images, labels=labels)
    assert list(stats.columns) == ["layer", "channel", *F.STATISTICS] and len(stats) == f.n_channels
    assert (stats["act_zero_share"].between(0, 1)).all() and (stats["only_kept_acc"].between(0, 1)).all()
    # images without labels: every statistic and feature but the probes
    no_labels = F.channel_statistics(lenet, include_linear=include_linear, inputs=images)
    assert list(no_labels.columns) == ["layer", "channel", *(s for s in F.STATISTICS
                                                             if s not in F.PROBE_STATISTICS)]
    assert F.channel_features(lenet, include_linear=include_linear, inputs=images).names == tuple(
        n for n in F.FEATURES if n not in F.PROBE_FEATURES)
    assert (stats[["act_mean", "taylor", "out_mass", "hrank"]] >= 0).all().all()
    # HRank of a conv map is at most min(H, W); Linear units have none (0)
    h = stats.set_index("layer")["hrank"]
    assert h["conv1"].max() <= 28 and h["conv2"].max() <= 10 and h["conv1"].min() > 0
    if include_linear:
        assert (h["fc1"] == 0).all() and (h["fc2"] == 0).all()
        assert (col(f, "hrank_z_layer")[f.layer_index >= 2] == 0).all()


def test_weight_features_are_unchanged_by_the_new_columns(lenet, images):
    """Version 2 only appends columns: the weight features equal a weight-only call's."""
    full = F.channel_features(lenet, inputs=images)
    weights = F.channel_features(lenet, features=F.WEIGHT_FEATURES)
    assert torch.equal(full.select(F.WEIGHT_FEATURES).x, weights.x)
    assert torch.equal(F.features_of_layers({"conv1": lenet.conv1, "conv2": lenet.conv2}).x, weights.x)


def test_within_layer_z_scores_and_ranks(lenet, images, labels):
    f = F.channel_features(lenet, include_linear=True, inputs=images, labels=labels)
    for name in f.names:
        if not name.endswith(("_z_layer", "_rank_layer")):
            continue
        for li in range(len(f.sizes)):
            v = col(f, name)[f.layer_index == li]
            if name.endswith("_z_layer"):
                assert abs(float(v.mean())) < 1e-4, (name, li)
                sd = float(v.std(unbiased=False))
                if name == "only_kept_acc_z_layer":  # its spread is floored (tests/test_probe_features.py)
                    assert sd <= 1 + 1e-4, (name, li)
                else:
                    assert sd == pytest.approx(1.0, abs=1e-4) or bool((v == 0).all())
            else:
                assert float(v.min()) >= 0 and float(v.max()) <= 1


def test_tied_values_share_their_rank():
    """Equal values (dead channels, full-rank maps) get one average rank, never one from their position."""
    assert F._rank01_avg(torch.tensor([3.0, 1.0, 3.0, 2.0])).tolist() == pytest.approx([5 / 6, 0,
                                                                                        5 / 6, 1 / 3])
    assert F._rank01_avg(torch.zeros(4)).tolist() == [0.5] * 4
    assert F._rank01_avg(torch.tensor([7.0])).tolist() == [0.5]


def test_deterministic_and_leaves_model_and_rng_alone(images):
    net = models.build("lenet5", seed=1)
    net.train()
    net.conv2.eval()  # a mixed state, restored module by module
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    F.clear_cache()
    a = F.channel_features(net, inputs=images)
    F.clear_cache()
    b = F.channel_features(net, inputs=images)
    assert torch.equal(a.x, b.x)
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())
    assert net.training and not net.conv2.training and net.conv1.training


@pytest.mark.parametrize("name", ["lenet5", "lenet5-caffe"])
def test_default_inputs_for_mnist_networks(name):
    net = models.build(name)
    assert torch.equal(F.channel_features(net).x, F.channel_features(net, inputs=data.default_inputs(),
                                                                    labels=data.default_labels()).x)


def test_other_input_shapes_need_inputs():
    net = rgb_net()
    with pytest.raises(ValueError, match="`inputs`"):
        F.channel_features(net)
    with pytest.raises(ValueError, match="`inputs`"):
        F.channel_statistics(net)
    x = torch.randn(12, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    f = F.channel_features(net, inputs=x, labels=torch.arange(12) % 10)
    assert f.x.shape == (9, len(F.FEATURES)) and torch.isfinite(f.x).all()
    # weight features alone need no images
    assert F.channel_features(net, features=F.WEIGHT_FEATURES).names == F.WEIGHT_FEATURES


def test_a_one_channel_network_of_another_size_needs_inputs():
    """in_channels 1 is not enough: the 28×28 forward must succeed too."""
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 14 * 14, 10))
    with pytest.raises(ValueError, match="`inputs`"):
        F.channel_features(net)
    f = F.channel_features(net, inputs=torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(0)))
    assert f.sizes == (3,)


@pytest.mark.parametrize("bad, needle", [
    (torch.zeros(4, 784), "inputs must be"),
    (torch.zeros(0, 1, 28, 28), "inputs must be"),
    (torch.zeros(2, 1, 28, 28, dtype=torch.int64), "inputs must be"),
    (torch.full((2, 1, 28, 28), float("nan")), "inputs must be finite"),
    ([[0.0]], "inputs must be"),
])
def test_bad_inputs(lenet, bad, needle):
    with pytest.raises(ValueError, match=needle):
        F.channel_features(lenet, inputs=bad)


def test_layers_without_a_model_give_the_weight_features(lenet):
    layers = {"conv1": lenet.conv1, "conv2": lenet.conv2}
    f = F.features_of_layers(layers)
    assert f.names == F.WEIGHT_FEATURES
    with pytest.raises(ValueError, match="model="):
        F.features_of_layers(layers, features=("l1_z_layer", "taylor_z_layer"))
    with pytest.raises(ValueError, match="model="):
        F.features_of_layers(layers, inputs=data.default_inputs())
    with pytest.raises(ValueError, match="image features need the model"):
        f.select(("taylor_z_layer",))
    g = F.features_of_layers(layers, model=lenet, features=("taylor_rank_layer", "l1_z_layer"))
    assert g.names == ("taylor_rank_layer", "l1_z_layer") and g.x.shape == (22, 2)
    other = models.build("lenet5", seed=9)
    with pytest.raises(ValueError, match="not modules of the given model"):
        F.features_of_layers({"conv1": other.conv1}, model=lenet)
    with pytest.raises(ValueError, match="unknown: \\['nope'\\]"):
        F.channel_features(lenet, features=("nope",))
