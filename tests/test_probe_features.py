"""Probe channel features (issue 20, item 5): the loss increase when a channel alone is removed and the
accuracy when it is the only one kept in its layer — checked on a network whose answer is known by
construction and against a direct computation (the channel's weights zeroed in a copy), with the
default labels, the memo and the errors."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from prunegan import data, models
from prunegan.gan import features as F
from prunegan.pruning import importance as I


class SignalNet(nn.Module):
    """1×1 conv with 3 channels, global mean, Linear(3, 2). Channel 0 copies the image (the whole
    signal: logits ±2·mean), channel 1 is dead (zero weight and bias), channel 2 is the constant 0.5
    read equally by both logits (it cannot change a softmax)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 1)
        self.fc = nn.Linear(3, 2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1, 1))
            self.conv.bias.copy_(torch.tensor([0.0, 0.0, 0.5]))
            self.fc.weight.copy_(torch.tensor([[2.0, 0.0, 1.0], [-2.0, 0.0, 1.0]]))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))


def signal_data(n: int = 40, seed: int = 0):
    """Images of constant sign with noise: class 0 when the mean is positive, 1 when negative."""
    g = torch.Generator().manual_seed(seed)
    sign = torch.where(torch.arange(n) % 4 == 0, 1.0, -1.0)  # a quarter of class 0
    x = sign.view(n, 1, 1, 1) * (0.5 + torch.rand(n, 1, 6, 6, generator=g))
    return x, (x.mean((1, 2, 3)) < 0).to(torch.int64)


class ResNet(nn.Module):
    """conv2's output is added to conv1's: a tensor from before conv2 is read after it."""

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.conv1, self.conv2 = nn.Conv2d(1, 3, 3, padding=1), nn.Conv2d(3, 3, 3, padding=1)
            self.fc = nn.Linear(3 * 8 * 8, 4)

    def forward(self, x):
        a = torch.relu(self.conv1(x))
        return self.fc((torch.relu(self.conv2(a)) + a).flatten(1))


def probes(net, x, y, **kw) -> dict:
    s = I.channel_statistics(net, inputs=x, labels=y, **kw)
    return {layer: g.reset_index(drop=True) for layer, g in s.groupby("layer", sort=False)}


def direct(net: nn.Module, layer: str, zeroed, x, y) -> tuple[float, float]:
    """(mean cross-entropy in nats, accuracy) of a copy of ``net`` with channels ``zeroed`` of
    ``layer`` deleted (weights and bias set to 0)."""
    m = copy.deepcopy(net).eval()
    mod = dict(m.named_modules())[layer]
    with torch.no_grad():
        mod.weight[list(zeroed)] = 0
        mod.bias[list(zeroed)] = 0
        logits = m(x)
    return float(nn.functional.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


def test_a_channel_that_carries_the_whole_signal():
    net, (x, y) = SignalNet(), signal_data()
    s = probes(net, x, y)["conv"]
    base, acc = direct(net, "conv", [], x, y)
    assert acc == 1.0
    # channel 0 removed: both logits equal, every image costs ln 2
    assert s.loc[0, "ablation_loss"] == pytest.approx(math.log(2) - base, abs=1e-6)
    assert s.loc[0, "ablation_loss"] > 0.5
    assert s.loc[0, "only_kept_acc"] == 1.0
    # the dead channel: removing it changes nothing, exactly; kept alone, logits tie (argmax 0: class 0)
    assert s.loc[1, "ablation_loss"] == 0.0
    share0 = float((y == 0).float().mean())
    assert s.loc[1, "only_kept_acc"] == pytest.approx(share0) and share0 == 0.25
    # the constant channel moves both logits alike: no loss change, no accuracy alone
    assert abs(s.loc[2, "ablation_loss"]) < 1e-6 and s.loc[2, "only_kept_acc"] == pytest.approx(share0)
    f = F.channel_features(net, inputs=x, labels=y, features=F.PROBE_FEATURES)
    assert f.x[0, f.names.index("ablation_loss_rank_layer")] == 1.0
    assert int(f.x[:, f.names.index("ablation_loss_z_layer")].argmax()) == 0
    assert f.x[:, f.names.index("only_kept_acc_rank_layer")].tolist() == pytest.approx([1.0, 0.25, 0.25])


def test_probes_equal_the_direct_computation(trained_lenet):
    """Every conv channel and a sample of hidden units of a trained LeNet-5: removing the channel
    (its weights zeroed in a copy) and keeping it alone give the probes' numbers."""
    net = copy.deepcopy(trained_lenet)
    with torch.no_grad():  # a dead conv1 channel and a dead hidden unit
        net.conv1.weight[2], net.conv1.bias[2] = 0, 0
        net.fc1.weight[5], net.fc1.bias[5] = 0, 0
    x, y = data.default_inputs()[:96], data.default_labels()[:96]
    s = probes(net, x, y, include_linear=True)
    base, _ = direct(net, "conv1", [], x, y)
    checked = {"conv1": range(6), "conv2": range(16), "fc1": [0, 5, 61, 119], "fc2": [0, 40, 83]}
    for layer, chans in checked.items():
        c = len(s[layer])
        for ch in chans:
            loss, _ = direct(net, layer, [ch], x, y)
            _, acc = direct(net, layer, [i for i in range(c) if i != ch], x, y)
            assert s[layer].loc[ch, "ablation_loss"] == pytest.approx(loss - base, abs=2e-6), (layer, ch)
            assert s[layer].loc[ch, "only_kept_acc"] == pytest.approx(acc, abs=1e-9), (layer, ch)
    assert s["conv1"].loc[2, "ablation_loss"] == 0.0 and s["fc1"].loc[5, "ablation_loss"] == 0.0
    # a trained network has channels whose removal costs loss
    assert s["conv1"]["ablation_loss"].max() > 0.01 and s["conv2"]["only_kept_acc"].max() > 0.2


def test_an_earlier_tensor_read_after_the_probed_layer():
    """A residual network: repeating conv2's output alone cannot fit the addition, so the images are
    repeated; the values still equal the direct computation."""
    net = ResNet()
    x = torch.randn(12, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.arange(12) % 4
    s = probes(net, x, y)
    base, _ = direct(net, "conv2", [], x, y)
    for layer in ("conv1", "conv2"):
        for ch in range(3):
            loss, _ = direct(net, layer, [ch], x, y)
            _, acc = direct(net, layer, [i for i in range(3) if i != ch], x, y)
            assert s[layer].loc[ch, "ablation_loss"] == pytest.approx(loss - base, abs=2e-6)
            assert s[layer].loc[ch, "only_kept_acc"] == pytest.approx(acc)


def test_default_labels_are_the_default_images_labels(mnist5k):
    y = data.default_labels()
    split = mnist5k.with_validation(data.DEFAULT_N_VAL)
    assert y.shape == (500,) and y.dtype == torch.int64 and torch.equal(y, split.y_val)
    assert torch.equal(data.default_inputs(), split.x_val)
    assert set(y.tolist()) == set(range(10))


def test_defaults_read_the_default_images_and_labels():
    lenet = models.build("lenet5", seed=7)
    a = I.channel_statistics(lenet)
    b = I.channel_statistics(lenet, inputs=data.default_inputs(), labels=data.default_labels())
    assert list(a.columns) == ["layer", "channel", *I.STATISTICS] and a.equals(b)


def test_memo_keys_on_the_labels():
    net, (x, y) = SignalNet(), signal_data()
    I.clear_cache()
    a = probes(net, x, y)["conv"]
    assert len(I._PROBE_CACHE) == 1 and len(I._STATS_CACHE) == 1
    probes(net, x, y)
    assert len(I._PROBE_CACHE) == 1  # a hit
    flipped = probes(net, x, 1 - y)["conv"]  # every label wrong: removing the signal now helps
    assert len(I._PROBE_CACHE) == 2 and len(I._STATS_CACHE) == 1  # the image statistics are shared
    assert a.loc[0, "ablation_loss"] > 0 > flipped.loc[0, "ablation_loss"]
    assert flipped.loc[0, "only_kept_acc"] == 0.0
    # features that need no labels compute no probe
    I.clear_cache()
    F.channel_features(net, inputs=x, labels=y, features=("taylor_z_layer", "hrank_rank_layer"))
    assert len(I._PROBE_CACHE) == 0


@pytest.mark.parametrize("bad, needle", [
    ([0] * 40, "labels must be an \\(N,\\) int64 tensor of class indices, got list"),
    (torch.zeros(40, 1, dtype=torch.int64), "N = 40.*shape \\(40, 1\\)"),
    (torch.zeros(39, dtype=torch.int64), "N = 40.*shape \\(39,\\)"),
    (torch.zeros(40), "torch.float32 tensor"),
    (torch.zeros(40, dtype=torch.bool), "torch.bool tensor"),
    (torch.full((40,), -1), "class indices >= 0, got -1"),
    (torch.full((40,), 2), "below the network's 2 outputs, got 2"),
])
def test_bad_labels(bad, needle):
    net, (x, _) = SignalNet(), signal_data()
    with pytest.raises(ValueError, match=needle):
        F.channel_features(net, inputs=x, labels=bad)


def test_the_largest_class_index_is_allowed():
    net, (x, _) = SignalNet(), signal_data()
    y = torch.ones(40, dtype=torch.int32)  # any integer dtype; 1 = the last of 2 outputs
    s = probes(net, x, y)["conv"]
    assert s["only_kept_acc"].between(0, 1).all()


def test_probe_features_need_labels_with_inputs():
    net, (x, y) = SignalNet(), signal_data()
    with pytest.raises(ValueError, match="need labels="):
        F.channel_features(net, inputs=x, features=("l1_z_layer", "only_kept_acc_rank_layer"))
    with pytest.raises(ValueError, match="labels were given without inputs"):
        I.channel_statistics(net, labels=y)
    with pytest.raises(ValueError, match="labels were given without model="):
        F.features_of_layers({"conv": net.conv}, labels=y)
    # without asking for a probe, images alone are enough
    assert "ablation_loss_z_layer" not in F.channel_features(net, inputs=x).names


def test_a_layer_run_twice_has_no_probe():
    conv = nn.Conv2d(1, 1, 1)
    net = nn.Sequential(conv, conv, nn.Flatten(), nn.Linear(36, 2))
    x, y = signal_data()
    with pytest.raises(ValueError, match="more than once"):
        F.channel_features(net, inputs=x, labels=y, features=F.PROBE_FEATURES)


def test_only_kept_accuracies_a_few_images_apart_are_not_blown_up():
    """The z of only_kept_acc divides by max(spread, binomial SE of the layer's mean accuracy on N
    images): an untrained LeNet-5 whose conv1 accuracies differ by 2 of 500 images gets |z| < 1 (a
    plain z-score makes it −2.2); well-separated accuracies get the plain z-score."""
    assert F._zscore(torch.tensor([1.0, 3.0]), floor=0.5).tolist() == [-1.0, 1.0]  # std 1 > floor
    assert F._zscore(torch.tensor([1.0, 3.0]), floor=2.0).tolist() == [-0.5, 0.5]  # std 1 < floor
    net = models.build("lenet5", seed=1)
    raw = torch.tensor(I.channel_statistics(net).query("layer == 'conv1'")["only_kept_acc"].to_numpy())
    assert raw.max() - raw.min() == pytest.approx(2 / 500, abs=1e-6)
    assert float(F._zscore(raw).abs().max()) > 2
    z = F.channel_features(net, features=("only_kept_acc_z_layer",)).x[:6, 0]
    p = float(raw.mean())
    se = math.sqrt(p * (1 - p) / 500)
    assert z.tolist() == pytest.approx(((raw - raw.mean()) / se).tolist(), abs=1e-5)
    assert float(z.abs().max()) < 1
    net, (x, y) = SignalNet(), signal_data()  # accuracies [1, .25, .25]: spread 0.35 > SE 0.079
    z = F.channel_features(net, inputs=x, labels=y, features=("only_kept_acc_z_layer",)).x[:, 0]
    assert z.tolist() == pytest.approx([2 ** 0.5, -(2 ** -0.5), -(2 ** -0.5)], abs=1e-5)
