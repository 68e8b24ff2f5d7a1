"""The GAN: channel features, the relaxation, a tiny smoke training, sampling, save/load, errors."""
from __future__ import annotations


import pandas as pd
import pytest
import torch
from torch import nn

from prunegan import gan, models
from prunegan.core.masks import ChannelMask, layer_sizes, prunable_layers
from prunegan.gan import GanConfig, Generator
from prunegan.gan import train as gan_train
from prunegan.gan.relax import calibrate, relaxed_masks
from prunegan.pruning import strategies
from prunegan.pruning.scorers import SCORERS, l1_norms
from prunegan.pruning.select import select
from prunegan.runs import bank as bank_mod
from prunegan.runs.bank import Bank, BankConfig, GoodRule
from prunegan.runs.baseline import BaselineConfig
from prunegan.train import TrainConfig

SMOKE_GAN = GanConfig(steps=30, batch_size=8, hidden=16, good=GoodRule(margin=0.05))


class ThreeConvNet(nn.Module):
    """A network defined here, not in prunegan: three convs of other widths, a hidden Linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 5, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(5, 9, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(9, 12, 3), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(12 * 5 * 5, 30), nn.ReLU(), nn.Linear(30, 10))

    def forward(self, x):
        return self.head(self.features(x))


class NoPrunable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.out = nn.Linear(784, 10)

    def forward(self, x):
        return self.out(x.flatten(1))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """A tiny bank (2 LeNet5s, 300 training images, 1 epoch) and a generator trained 30 steps on it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRUNEGAN_RESULTS", str(tmp_path_factory.mktemp("gan_results")))
        bases = tuple(BaselineConfig(init_seed=s, n_train=300, n_test=100,
                                     train=TrainConfig(epochs=1, seed=s, device="cpu")) for s in (0, 1))
        config = BankConfig(baselines=bases, sparsities=(0.5, 0.9), temperatures=(1.0,), draws=1,
                            retrain=TrainConfig(epochs=1, device="cpu"))
        b = bank_mod.build(config, progress=False)
        g = gan.fit(b, SMOKE_GAN, progress=False)
    return b, g


# ---------------------------------------------------------------------------------------- features
@pytest.mark.parametrize("include_linear", [False, True])
def test_features_cover_every_prunable_channel(include_linear):
    net = ThreeConvNet()
    f = gan.channel_features(net, include_linear=include_linear)
    sizes = layer_sizes(net, include_linear=include_linear)
    assert f.layers == tuple(sizes) and f.sizes == tuple(sizes.values())
    assert f.x.shape == (sum(sizes.values()), len(gan.FEATURES)) and torch.isfinite(f.x).all()
    col = dict(zip(f.names, f.x.T))
    assert col["l1_rank_layer"].min() == 0 and col["l1_rank_layer"].max() == 1
    assert col["depth"][0] == 0 and col["depth"][-1] == 1
    assert (col["is_linear"] == 1).any() == include_linear
    # the largest-|w| channel of each layer has rank 1 within it
    l1 = l1_norms(prunable_layers(net, include_linear=include_linear))
    start = 0
    for layer, norms in l1.items():
        assert col["l1_rank_layer"][start + int(norms.argmax())] == 1
        start += len(norms)
    assert len(f.frame()) == sum(sizes.values())


def test_features_reject_a_network_without_prunable_layers():
    with pytest.raises(ValueError, match="NoPrunable has no prunable layer"):
        gan.channel_features(NoPrunable())


def test_relaxed_masks_keep_exactly_k_and_pass_gradients():
    logits = torch.randn(4, 22, requires_grad=True)
    k = torch.tensor([2, 4, 11, 21])
    m = relaxed_masks(logits, k, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(m.detach().sum(1), k.float())
    assert set(m.detach().unique().tolist()) <= {0.0, 1.0}
    (m * torch.arange(22.0)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    b = calibrate(logits.detach(), k.float())
    assert torch.allclose(torch.sigmoid(logits.detach() + b[:, None]).sum(1), k.float(), atol=1e-3)


# ---------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("kw, needle", [
    ({"steps": -1}, "-1"), ({"hidden": 0}, "hidden"), ({"batch_size": 0}, "batch_size"),
    ({"tau": 0}, "tau"), ({"lr_generator": -1e-3}, "lr_generator"), ({"smoothing": 0.7}, "0.7"),
    ({"features": ("l1_rank_layer", "nope")}, "nope"), ({"sparsities": (0.5, 1.2)}, "1.2"),
    ({"good": 0.01}, "GoodRule"), ({"seed": -1}, "seed"), ({"loss": "hinge"}, "hinge"),
    ({"logit_bound": 0}, "logit_bound"), ({"d_steps": 0}, "d_steps"),
])
def test_gan_config_rejects_bad_values(kw, needle):
    with pytest.raises(ValueError, match=needle.replace(".", r"\.")):
        GanConfig(**kw)


def test_gan_config_round_trips_through_a_dict():
    c = GanConfig(sparsities=(0.8, 0.9), features=("l1_rank_layer", "depth"), good=GoodRule(margin=0.03))
    assert GanConfig.from_dict(c.to_dict()) == c


# ---------------------------------------------------------------------------------------- smoke training
def test_fit_records_losses_and_is_cached(smoke, monkeypatch, tmp_path):
    b, g = smoke
    assert len(g.history) == SMOKE_GAN.steps
    assert {"step", "d_loss", "g_loss", "d_real", "d_fake"} <= set(g.history[0])
    assert all(torch.isfinite(torch.tensor([h["d_loss"], h["g_loss"]])).all() for h in g.history)
    # same bank + config → the cached generator (no training step is taken)
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    first = gan.fit(b, SMOKE_GAN, progress=False)
    monkeypatch.setattr(gan_train, "relaxed_masks", lambda *a, **k: pytest.fail("retrained a cached generator"))
    again = gan.fit(b, SMOKE_GAN, progress=False)
    assert again.fingerprint() == first.fingerprint() == g.fingerprint()
    assert again.history == first.history


@pytest.mark.parametrize("make, include_linear", [
    (lambda: models.build("lenet5", seed=3), False),
    (lambda: models.build("lenet5", seed=3), True),
    (ThreeConvNet, False),
    (ThreeConvNet, True),
    (lambda: models.build("lenet5-caffe"), False),
])
@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.8, 0.9])
def test_samples_are_valid_exact_count_masks(smoke, make, include_linear, sparsity):
    _, g = smoke
    net = make()
    sizes = layer_sizes(net, include_linear=include_linear)
    n = sum(sizes.values())
    masks = g.sample(net, sparsity, 3, seed=0, include_linear=include_linear)
    assert len(masks) == 3
    for m in masks:
        assert isinstance(m, ChannelMask) and m.sizes == sizes
        assert m.n_pruned == round(sparsity * n)
        m.check_matches(net)
    probs = g.keep_probabilities(net, sparsity, include_linear=include_linear)
    assert list(probs) == list(prunable_layers(net, include_linear=include_linear))
    for layer, p in probs.items():
        assert p.shape == (sizes[layer],) and ((p >= 0) & (p <= 1)).all()
    total = sum(float(p.sum()) for p in probs.values())
    assert total == pytest.approx(n - round(sparsity * n), abs=0.05)


def test_min_channels_per_layer_is_honoured(smoke):
    _, g = smoke
    net = ThreeConvNet()
    for m in g.sample(net, 0.9, 5, seed=1, min_channels_per_layer=1):
        assert min(m.kept_per_layer().values()) >= 1
    with pytest.raises(ValueError, match="min_channels_per_layer=3"):
        g.sample(models.build("lenet5"), 0.9, 1, seed=0, min_channels_per_layer=3)


def test_same_seed_same_masks_and_seeds_matter(smoke):
    _, g = smoke
    net = models.build("lenet5", seed=5)
    a = g.sample(net, 0.5, 6, seed=11)
    assert a == g.sample(net, 0.5, 6, seed=11)
    assert len({m.key() for m in a}) > 1  # 11 of 22 kept: samples differ
    assert a != g.sample(net, 0.5, 6, seed=12)
    # mask i uses seed + i, and is what strategies.prune(..., "gan") returns
    assert g.sample(net, 0.5, 2, seed=12)[0] == a[1]
    assert strategies.prune(net, "gan", 0.5, seed=13, generator=g) == a[2]
    p1, p2 = g.keep_probabilities(net, 0.5, seed=3), g.keep_probabilities(net, 0.5, seed=3)
    assert list(p1) == ["conv1", "conv2"] and all(torch.equal(p1[k], p2[k]) for k in p1)
    other = g.keep_probabilities(net, 0.5, seed=4)  # other noise vectors: a different average
    assert any(not torch.equal(p1[k], other[k]) for k in p1)


def test_fit_is_reproducible(smoke, tmp_path, monkeypatch):
    b, g = smoke
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    again = gan.fit(b, SMOKE_GAN, progress=False, cache=False)
    assert again.fingerprint() == g.fingerprint()
    other = gan.fit(b, GanConfig(**{**SMOKE_GAN.__dict__, "seed": 1}), progress=False, cache=False)
    assert other.fingerprint() != g.fingerprint()


def test_a_corrupt_cached_generator_is_retrained_with_a_warning(smoke, tmp_path, monkeypatch):
    b, g = smoke
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    gan.fit(b, SMOKE_GAN, progress=False)
    (path,) = tmp_path.glob("gan_*/generator.pt")
    path.write_bytes(b"half a file")
    with pytest.warns(UserWarning, match="retraining it"):
        again = gan.fit(b, SMOKE_GAN, progress=False)
    assert again.fingerprint() == g.fingerprint()  # retrained: the same generator as before
    assert Generator.load(path).fingerprint() == g.fingerprint()  # and stored again


def test_generator_does_not_touch_global_rng(smoke):
    _, g = smoke
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    g.sample(models.build("lenet5"), 0.8, 2, seed=0)
    g.keep_probabilities(models.build("lenet5"), 0.8)
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------------------------------- save / load
def test_save_load_round_trip(smoke, tmp_path):
    _, g = smoke
    path = tmp_path / "g.pt"
    g.save(path)
    h = Generator.load(path)
    assert h.fingerprint() == g.fingerprint() and h.config == g.config and h.history == g.history
    net = ThreeConvNet()
    assert h.sample(net, 0.8, 3, seed=4) == g.sample(net, 0.8, 3, seed=4)


def test_load_rejects_a_broken_file(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="broken.pt"):
        Generator.load(bad)
    with pytest.raises(ValueError, match="missing.pt"):
        Generator.load(tmp_path / "missing.pt")
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a saved prunegan generator"):
        Generator.load(tmp_path / "other.pt")


def test_load_rejects_another_feature_version(smoke, tmp_path):
    _, g = smoke
    path = tmp_path / "old.pt"
    g.save(path)
    blob = torch.load(path, weights_only=True)
    blob["feature_version"] = gan.FEATURE_VERSION + 1
    torch.save(blob, path)
    with pytest.raises(ValueError, match=f"feature version {gan.FEATURE_VERSION + 1}"):
        Generator.load(path)
    blob["feature_version"], blob["model_version"] = gan.FEATURE_VERSION, gan.MODEL_VERSION + 1
    torch.save(blob, path)
    with pytest.raises(ValueError, match=f"model version {gan.MODEL_VERSION + 1}"):
        Generator.load(path)


def test_wgan_gp_loss_trains_too(smoke, tmp_path, monkeypatch):
    b, _ = smoke
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    g = gan.fit(b, GanConfig(steps=3, batch_size=4, hidden=8, loss="wgan-gp", d_steps=2,
                             good=GoodRule(margin=0.05)), progress=False)
    assert len(g.history) == 3 and all(torch.isfinite(torch.tensor(h["d_loss"])) for h in g.history)
    assert g.sample(models.build("lenet5"), 0.8, 1, seed=0)[0].n_pruned == round(0.8 * 22)


# ---------------------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors(smoke):
    b, g = smoke
    net = models.build("lenet5")
    with pytest.raises(ValueError, match="NoPrunable has no prunable layer"):
        g.sample(NoPrunable(), 0.5, 1, seed=0)
    with pytest.raises(ValueError, match="NoPrunable has no prunable layer"):
        g.keep_probabilities(NoPrunable(), 0.5)
    for bad in (1.0, -0.1, 1.5, "0.5", float("nan")):
        with pytest.raises(ValueError, match="sparsity"):
            g.sample(net, bad, 1, seed=0)
        with pytest.raises(ValueError, match="sparsity"):
            g.keep_probabilities(net, bad)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match=f"n .*got {bad!r}"):
            g.sample(net, 0.5, bad, seed=0)
    with pytest.raises(ValueError, match="seed"):
        g.sample(net, 0.5, 1, seed=-1)
    with pytest.raises(ValueError, match="needs a trained generator"):
        strategies.prune(net, "gan", 0.5, seed=0)
    with pytest.raises(ValueError, match="must be a prunegan.gan.Generator"):
        strategies.prune(net, "gan", 0.5, seed=0, generator="g.pt")


def test_fit_rejects_empty_bank_and_missing_good_masks(smoke):
    b, _ = smoke
    with pytest.raises(ValueError, match="empty"):
        gan.fit(Bank(b.config, [], pd.DataFrame()), SMOKE_GAN, progress=False)
    with pytest.raises(ValueError, match="empty"):
        gan.fit(None, SMOKE_GAN, progress=False)
    with pytest.raises(ValueError, match="no good mask at sparsity 0.7"):
        gan.fit(b, GanConfig(steps=1, sparsities=(0.5, 0.7)), progress=False)


def test_gan_is_a_registered_strategy():
    assert "gan" in strategies.names()
    assert "gan" in SCORERS


# ---------------------------------------------------------------------------------------- learning
@pytest.mark.slow
def test_gan_learns_the_structure_of_good_masks(tmp_path, monkeypatch):
    """A bank whose good masks all keep the largest-|w| channel of each layer at 90 %: after training,
    the generator's samples keep one channel per layer (no collapse) far more often than random
    masks do (random: 96 of 231 masks at 90 % keep one per layer), and prefer large-|w| channels."""
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    nets = [models.build("lenet5", seed=s) for s in range(3)]
    rows, baselines = [], []
    labels = {"method": "hand-made", "label": "hand-made", "strategy": "hand-made", "temperature": None, "min_channels_per_layer": 0, "draw": 0,
              "duplicate": False}
    for i, net in enumerate(nets):
        norms = l1_norms(prunable_layers(net))
        scores = {k: v + 100 * (v == v.max()).float() for k, v in norms.items()}  # top channel per layer first
        good = select(scores, 0.9)
        rows.append({"baseline": i, "sparsity": 0.9, "key": good.key(), "mask": good.to_dict(),
                     "retrained_acc": 0.9, "collapsed": False, **labels})
        bad = strategies.prune(net, "l1", 0.9, seed=0)  # plain L1 collapses conv1 here? any other mask
        rows.append({"baseline": i, "sparsity": 0.9, "key": bad.key(), "mask": bad.to_dict(),
                     "retrained_acc": 0.1, "collapsed": bool(bad.collapsed_layers()), **labels})
        baselines.append(type("B", (), {"model": net})())
    config = BankConfig(baselines=tuple(BaselineConfig(init_seed=i) for i in range(3)), sparsities=(0.9,))
    b = Bank(config, baselines, pd.DataFrame(rows))
    g = gan.fit(b, GanConfig(steps=250, good=GoodRule(margin=0.01)), progress=False, cache=False)
    test_net = models.build("lenet5", seed=7)
    masks = g.sample(test_net, 0.9, 40, seed=0)
    assert sum(not m.collapsed_layers() for m in masks) >= 32
    probs = g.keep_probabilities(test_net, 0.9)
    norms = l1_norms(prunable_layers(test_net))
    for layer in probs:
        assert float(probs[layer][norms[layer].argmax()]) > float(probs[layer].mean())
