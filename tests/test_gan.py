"""The GAN (third design): features, the structured generator and its exact mask probabilities, training
(entropy bonus, many fits at once), the critic and the features it reads, sampling, save/load, errors."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

import kernel_digest
from prunegan import gan, models
from prunegan.core import counts
from prunegan.core.masks import ChannelMask, layer_sizes, prunable_layers
from prunegan.core.store import weights_digest
from prunegan.gan import GanConfig, Generator
from prunegan.gan import train as gan_train
from prunegan.gan.config import MODEL_VERSION
from prunegan.pruning import strategies
from prunegan.pruning.executors import Execution
from prunegan.pruning.scorers import SCORERS, l1_norms
from prunegan.pruning.select import select
from prunegan.runs import bank as bank_mod
from prunegan.runs.bank import Bank, BankConfig
from prunegan.runs.baseline import BaselineConfig
from prunegan.train import TrainConfig

SMOKE_GAN = GanConfig(steps=30, batch_size=8, hidden=16)


def weights(generator: Generator) -> str:
    """A generator's weights as one digest: equal digests, equal weights."""
    return weights_digest(generator.net)


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
                            retrain=TrainConfig(epochs=1, device="cpu"), min_distinct=6)
        b = bank_mod.build(config, execution=Execution(progress=False))
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


# ---------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("kw, needle", [
    ({"steps": 0}, "steps"), ({"hidden": 0}, "hidden"), ({"lr_generator": 0}, "lr_generator"),
    ({"weight_temperature": 0}, "weight_temperature"), ({"critic_weight": -1}, "critic_weight"),
    ({"entropy_weight": -0.1}, "entropy_weight"), ({"entropy_weight": float("nan")}, "entropy_weight"),
    ({"features": ("nope",)}, "features"), ({"networks": (0, 0)}, "networks"),
    ({"networks": (-1,)}, "networks"),
    ({"sparsities": (1.2,)}, "sparsities"), ({"seed": -1}, "seed"),
])
def test_gan_config_rejects_bad_values(kw, needle):
    with pytest.raises(ValueError, match=needle):
        GanConfig(**kw)


def test_gan_config_round_trips_through_a_dict():
    c = GanConfig(networks=(0, 2), sparsities=(0.8, 0.9), critic_weight=0.5, entropy_weight=0.3, seed=4)
    assert GanConfig.from_dict(c.to_dict()) == c and c.to_dict()["entropy_weight"] == 0.3
    assert GanConfig().entropy_weight == 0.0


# ---------------------------------------------------------------------------------------- generator
def test_an_untrained_generator_is_the_uniform_collapse_free_distribution():
    g = Generator(GanConfig(), include_linear=False)
    feats = g.features(models.build("lenet5"))
    dist = g.distribution(feats, 0.9)
    # all 96 collapse-free masks of (6, 16) keeping 2 are equally likely
    masks = torch.tensor(counts.all_masks([6, 16], 0.9, 1), dtype=torch.float64)
    assert len(masks) == 96
    assert torch.allclose(dist.log_prob(masks).exp(), torch.full((96,), 1 / 96, dtype=torch.float64))
    with pytest.raises(ValueError, match="untrained"):
        g.sample(models.build("lenet5"), 0.9, 1, seed=0)
    with pytest.raises(ValueError, match="untrained"):
        g.keep_probabilities(models.build("lenet5"), 0.9)


def test_fit_records_the_gan_signal_and_is_cached(smoke, monkeypatch, tmp_path):
    b, g = smoke
    assert len(g.history) == SMOKE_GAN.steps
    assert {"step", "d_loss", "g_loss", "d_real", "d_fake", "d_gap", "reward", "seconds"} <= set(g.history[0])
    assert all(torch.isfinite(torch.tensor([h["d_loss"], h["g_loss"], h["d_gap"]])).all() for h in g.history)
    # the generator moved away from its (uniform) start
    feats = g.features(b.baselines[0].model)
    log_w, thetas = g.net(feats, 0.9)
    assert log_w.abs().max() > 0 and any(t.abs().max() > 0 for t in thetas)
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    first = gan.fit(b, SMOKE_GAN, progress=False)
    monkeypatch.setattr(gan_train, "_train", lambda *a, **k: pytest.fail("retrained a cached generator"))
    again = gan.fit(b, SMOKE_GAN, progress=False)
    assert weights(again) == weights(first) == weights(g)
    assert again.history == first.history


@pytest.mark.parametrize("make, include_linear", [
    (lambda: models.build("lenet5", seed=3), False),
    (lambda: models.build("lenet5", seed=3), True),
    (ThreeConvNet, False),
    (ThreeConvNet, True),
    (lambda: models.build("lenet5-caffe"), False),
])
@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.8, 0.9])
def test_samples_are_exact_count_collapse_free_masks_of_any_network(smoke, make, include_linear, sparsity):
    _, g = smoke
    net = make()
    sizes = layer_sizes(net, include_linear=include_linear)
    n = sum(sizes.values())
    if not counts.is_feasible(sizes, sparsity, 1):
        with pytest.raises(ValueError, match="min_channels_per_layer=1"):
            g.sample(net, sparsity, 1, seed=0, include_linear=include_linear)
        return
    masks = g.sample(net, sparsity, 4, seed=0, include_linear=include_linear)
    assert len(masks) == 4
    for m in masks:
        assert isinstance(m, ChannelMask) and m.sizes == sizes
        assert m.n_pruned == round(sparsity * n) and not m.collapsed_layers()
        m.check_matches(net)
    probs = g.keep_probabilities(net, sparsity, include_linear=include_linear)
    assert list(probs) == list(prunable_layers(net, include_linear=include_linear))
    for layer, p in probs.items():
        assert p.shape == (sizes[layer],) and ((p >= 0) & (p <= 1)).all()
    assert sum(float(p.sum()) for p in probs.values()) == pytest.approx(n - round(sparsity * n), abs=1e-4)


def test_keep_probabilities_are_the_sampling_frequencies(smoke):
    _, g = smoke
    net = models.build("lenet5", seed=5)
    probs = torch.cat(list(g.keep_probabilities(net, 0.8).values()))
    masks = g.sample(net, 0.8, 3000, seed=0)
    freq = torch.stack([m.to_vector().float() for m in masks]).mean(0)
    assert (freq - probs).abs().max() < 0.04  # 3,000 draws: a standard error of at most 0.009


def test_min_channels_per_layer_is_honoured(smoke):
    _, g = smoke
    net = ThreeConvNet()
    for m in g.sample(net, 0.7, 5, seed=1, min_channels_per_layer=2):
        assert min(m.kept_per_layer().values()) >= 2
    assert strategies.prune(net, "gan", 0.7, seed=3, generator=g, min_channels_per_layer=2) == \
        g.sample(net, 0.7, 1, seed=3, min_channels_per_layer=2)[0]
    with pytest.raises(ValueError, match="min_channels_per_layer=3"):
        g.sample(models.build("lenet5"), 0.9, 1, seed=0, min_channels_per_layer=3)


def test_same_seed_same_masks_and_seeds_matter(smoke):
    _, g = smoke
    net = models.build("lenet5", seed=5)
    a = g.sample(net, 0.5, 6, seed=11)
    assert a == g.sample(net, 0.5, 6, seed=11)
    assert len({m.key() for m in a}) > 1
    assert a != g.sample(net, 0.5, 6, seed=12)
    # mask i uses seed + i, and is what strategies.prune(..., "gan") returns
    assert g.sample(net, 0.5, 2, seed=12)[0] == a[1]
    assert strategies.prune(net, "gan", 0.5, seed=13, generator=g) == a[2]


def test_fit_is_reproducible(smoke, tmp_path, monkeypatch):
    b, g = smoke
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    again = gan.fit(b, SMOKE_GAN, progress=False, cache=False)
    assert weights(again) == weights(g)
    other = gan.fit(b, GanConfig(**{**SMOKE_GAN.__dict__, "seed": 1}), progress=False, cache=False)
    assert weights(other) != weights(g)


def test_a_corrupt_cached_generator_is_retrained_with_a_warning(smoke, tmp_path, monkeypatch):
    b, g = smoke
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    gan.fit(b, SMOKE_GAN, progress=False)
    (path,) = tmp_path.glob("gan_*/generator.pt")
    path.write_bytes(b"half a file")
    with pytest.warns(UserWarning, match="retraining it"):
        again = gan.fit(b, SMOKE_GAN, progress=False)
    assert weights(again) == weights(g)
    assert weights(Generator.load(path)) == weights(g)


def test_generator_does_not_touch_global_rng(smoke):
    _, g = smoke
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    g.sample(models.build("lenet5"), 0.8, 2, seed=0)
    g.keep_probabilities(models.build("lenet5"), 0.8)
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------------------------------- critic
def test_critic_learns_to_rank_and_selects_the_best(smoke):
    b, _ = smoke
    data = gan.from_bank(b)
    critic = gan.AccuracyCritic(len(gan.FEATURES), hidden=16, seed=0)
    with pytest.raises(ValueError, match="untrained"):
        critic.predict(data[0].feats, data[0].masks, data[0].sparsity)
    critic.fit(data, steps=300)
    assert critic.losses[-1] < critic.losses[0]
    pred = critic.predict(data[0].feats, data[0].masks, data[0].sparsity)
    assert pred.shape == (len(data[0].masks),)
    assert critic.best_of(data[0].feats, data[0].masks, data[0].sparsity) == int(pred.argmax())
    assert -1 <= critic.spearman(data[0]) <= 1
    g = gan.fit(b, GanConfig(steps=5, batch_size=4, hidden=16, critic_weight=1.0), critic=critic,
                progress=False, cache=False)
    assert len(g.history) == 5
    with pytest.raises(ValueError, match="critic_weight=1.0 needs critic"):
        gan.fit(b, GanConfig(steps=5, critic_weight=1.0), progress=False)


def test_fit_critic_is_cached_bit_identically_with_its_fit_seconds(smoke, tmp_path, monkeypatch):
    b, _ = smoke
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    first = gan.fit_critic(b, networks=(0,), steps=20, seed=3, hidden=8)
    assert len(first.losses) == 20 and first.seconds > 0
    assert len(list(tmp_path.glob("critic_*/critic.pt"))) == 1
    again = gan.fit_critic(b, networks=(0,), steps=20, seed=3, hidden=8)
    assert again.seconds == first.seconds and again.losses == first.losses
    for name, t in first.net.state_dict().items():
        assert torch.equal(t, again.net.state_dict()[name])
    ex = gan.from_bank(b, networks=(1,))[0]
    assert torch.equal(first.predict(ex.feats, ex.masks, ex.sparsity),
                       again.predict(ex.feats, ex.masks, ex.sparsity))
    # the same fit without the cache gives the same weights; another seed or network is another entry
    fresh = gan.fit_critic(b, networks=(0,), steps=20, seed=3, hidden=8, cache=False)
    assert all(torch.equal(t, fresh.net.state_dict()[n]) for n, t in first.net.state_dict().items())
    gan.fit_critic(b, networks=(1,), steps=20, seed=3, hidden=8)
    gan.fit_critic(b, networks=(0,), steps=20, seed=4, hidden=8)
    assert len(list(tmp_path.glob("critic_*/critic.pt"))) == 3
    with pytest.raises(ValueError, match="steps"):
        gan.fit_critic(b, networks=(0,), steps=0)


def test_examples_from_the_bank_and_their_errors(smoke):
    b, _ = smoke
    ex = gan.from_bank(b, networks=(1,), sparsities=(0.9,))
    assert len(ex) == 1 and ex[0].network == 1 and ex[0].sparsity == 0.9
    assert ex[0].masks.shape[1] == 22 and float(ex[0].weights.sum()) == pytest.approx(1.0)
    best = int(ex[0].accuracy.argmax())
    assert float(ex[0].weights[best]) == float(ex[0].weights.max())
    with pytest.raises(ValueError, match="no mask at sparsities \\[0.7\\]"):
        gan.from_bank(b, sparsities=(0.7,))
    with pytest.raises(ValueError, match="networks \\[5\\]"):
        gan.from_bank(b, networks=(5,))
    with pytest.raises(ValueError, match="empty"):
        gan.from_bank(Bank(b.config, [], pd.DataFrame()))
    with pytest.raises(ValueError, match="empty"):
        gan.fit(None, SMOKE_GAN, progress=False)


# ---------------------------------------------------------------------------------------- save / load
def test_save_load_round_trip(smoke, tmp_path):
    _, g = smoke
    path = tmp_path / "g.pt"
    g.save(path)
    h = Generator.load(path)
    assert weights(h) == weights(g) and h.config == g.config and h.history == g.history
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


def test_load_rejects_another_feature_or_model_version(smoke, tmp_path):
    _, g = smoke
    path = tmp_path / "old.pt"
    g.save(path)
    blob = torch.load(path, weights_only=True)
    blob["feature_version"] = gan.FEATURE_VERSION + 1
    torch.save(blob, path)
    with pytest.raises(ValueError, match=f"feature version {gan.FEATURE_VERSION + 1}"):
        Generator.load(path)
    for old in (1, MODEL_VERSION - 1):  # version 3 added the entropy bonus: older generators are retrained
        blob["feature_version"], blob["model_version"] = gan.FEATURE_VERSION, old
        torch.save(blob, path)
        with pytest.raises(ValueError, match=f"model version {old}"):
            Generator.load(path)


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
    with pytest.raises(ValueError, match="sparsity=0.95 .*largest sparsity possible is 0.909"):
        g.sample(net, 0.95, 1, seed=0)  # 1 of 22 kept: fewer than one per layer
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match=f"n .*got {bad!r}"):
            g.sample(net, 0.5, bad, seed=0)
    with pytest.raises(ValueError, match="seed"):
        g.sample(net, 0.5, 1, seed=-1)
    with pytest.raises(ValueError, match="needs a trained generator"):
        strategies.prune(net, "gan", 0.5, seed=0)
    with pytest.raises(ValueError, match="must be a prunegan.gan.Generator"):
        strategies.prune(net, "gan", 0.5, seed=0, generator="g.pt")


def test_gan_and_uniform_collapse_free_are_registered_strategies():
    assert {"gan", "uniform-collapse-free"} <= set(strategies.names()) and "gan" in SCORERS


def test_uniform_strategy_is_uniform_over_collapse_free_masks():
    net = models.build("lenet5", seed=2)
    masks = [strategies.prune(net, "uniform-collapse-free", 0.9, seed=s) for s in range(960)]
    assert all(not m.collapsed_layers() and m.n_pruned == 20 for m in masks)
    per_mask = pd.Series([m.key() for m in masks]).value_counts()
    assert len(per_mask) > 80 and per_mask.max() < 30  # 96 masks, 10 expected each


# ---------------------------------------------------------------------------------------- hand-made bank
#: Weight-only features: generators that need no image batch.
WEIGHT_ONLY = ("l1_z_layer", "l1_rank_layer", "depth", "log_width", "width_share", "log_fan_in", "is_linear")
LENET_CONV = {"conv1": 6, "conv2": 16}


def _all_masks(sizes: dict, sparsity: float) -> list[ChannelMask]:
    return [ChannelMask.from_vector(torch.tensor(b), sizes)
            for b in counts.all_masks(list(sizes.values()), sparsity, 1)]


@pytest.fixture(scope="module")
def landscape_bank():
    """Every collapse-free 90 % mask of two LeNet-5s' convs (96 each); the one keeping the largest-|w|
    channel of each layer is labelled 0.9, the others 0.5: the soft weights put nearly all mass on it."""
    return kernel_digest.hand_made_bank()


def _entropy(p: torch.Tensor) -> float:
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def test_mask_probabilities_are_exact_over_the_collapse_free_masks(landscape_bank):
    g = gan.fit(landscape_bank, GanConfig(steps=30, batch_size=8, hidden=16, features=WEIGHT_ONLY),
                progress=False, cache=False)
    for net, sizes, s in ((models.build("lenet5", seed=9), LENET_CONV, 0.9),
                          (ThreeConvNet(), {"features.0": 5, "features.3": 9, "features.6": 12}, 0.885)):
        masks = _all_masks(sizes, s)  # 96 and 5 * 9 * 12 = 540 masks
        p = g.mask_probabilities(net, masks, s)
        assert p.dtype == torch.float64 and p.shape == (len(masks),) and len(masks) in (96, 540)
        assert float(p.sum()) == pytest.approx(1.0, abs=1e-9) and (p > 0).all()
        assert float(p.max()) > 1.5 / len(masks)  # trained: not the uniform distribution
        # the exact marginals are the probabilities summed over the masks that keep each channel
        keep = torch.cat(list(g.keep_probabilities(net, s).values())).double()
        vectors = torch.stack([m.to_vector().double() for m in masks])
        assert torch.allclose(p @ vectors, keep, atol=1e-5)
    # a collapsed mask (conv1 pruned entirely) cannot be drawn
    net = models.build("lenet5", seed=9)
    collapsed = ChannelMask({"conv1": torch.zeros(6, dtype=torch.bool),
                             "conv2": torch.tensor([1, 1] + [0] * 14, dtype=torch.bool)})
    assert collapsed.collapsed_layers() and collapsed.n_pruned == 20
    assert g.mask_probabilities(net, [collapsed, _all_masks(LENET_CONV, 0.9)[0]], 0.9)[0] == 0
    with pytest.raises(ValueError, match="masks have 22 channels, the network's prunable layers 26"):
        g.mask_probabilities(ThreeConvNet(), [collapsed], 0.9)
    with pytest.raises(ValueError, match="untrained"):
        Generator(GanConfig(features=WEIGHT_ONLY)).mask_probabilities(net, [collapsed], 0.9)


def test_the_entropy_bonus_keeps_the_distribution_spread(landscape_bank):
    """Without the bonus the generator follows the bank onto (nearly) one mask; a large bonus keeps
    the exact entropy over the 96 masks near log 96, on a training network and on an unseen one."""
    base = GanConfig(steps=50, batch_size=8, hidden=16, features=WEIGHT_ONLY, sparsities=(0.9,))
    greedy = gan.fit(landscape_bank, base, progress=False, cache=False)
    spread = gan.fit(landscape_bank, GanConfig(**{**base.__dict__, "entropy_weight": 1.0}), progress=False,
                     cache=False)
    masks = _all_masks(LENET_CONV, 0.9)
    for net in (landscape_bank.baselines[0].model, models.build("lenet5", seed=7)):
        h0 = _entropy(greedy.mask_probabilities(net, masks, 0.9))
        h1 = _entropy(spread.mask_probabilities(net, masks, 0.9))
        assert h1 > h0 + 1.0 and h1 > 0.7 * math.log(96), (h0, h1)


def test_entropy_weight_is_part_of_the_cache_key(landscape_bank, tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    base = GanConfig(steps=5, batch_size=4, hidden=8, features=WEIGHT_ONLY)
    a = gan.fit(landscape_bank, base, progress=False)
    b = gan.fit(landscape_bank, GanConfig(**{**base.__dict__, "entropy_weight": 0.5}), progress=False)
    assert len(list(tmp_path.glob("gan_*/generator.pt"))) == 2 and weights(a) != weights(b)
    assert b.config.entropy_weight == 0.5


def _same_weights(a, b) -> bool:
    sa, sb = a.net.state_dict(), b.net.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("workers", [1, 2])
def test_fit_many_equals_fitting_one_by_one_and_uses_the_cache(landscape_bank, tmp_path,
                                                               monkeypatch, workers):
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    base = GanConfig(steps=8, batch_size=4, hidden=8, features=WEIGHT_ONLY)
    configs = [GanConfig(**{**base.__dict__, "seed": s, "entropy_weight": e})
               for s, e in ((0, 0.0), (1, 0.0), (0, 0.3))]
    many = gan.fit_many(landscape_bank, configs, workers=workers, progress=False)
    assert len(list(tmp_path.glob("gan_*/generator.pt"))) == 3
    for g, c in zip(many, configs):
        alone = gan.fit(landscape_bank, c, progress=False, cache=False)
        assert g.config == c and _same_weights(g,
                                               alone) and g.history[-1]["step"] == alone.history[-1]["step"]
    assert not _same_weights(many[0], many[1])
    # a second call fits nothing: every generator comes from the cache
    calls = []
    monkeypatch.setattr(gan_train, "in_processes", lambda todo, *a, **k: calls.append(list(todo)))
    monkeypatch.setattr(gan_train, "_train", lambda *a, **k: pytest.fail("refitted a cached generator"))
    again = gan.fit_many(landscape_bank, configs, workers=workers, progress=False)
    # (one batch of shared likelihood stages, then one of the fits: both empty)
    assert calls and all(c == [] for c in calls) and all(_same_weights(a, b) for a, b in zip(again, many))
    with pytest.raises(ValueError, match="got 3 configs but 2 critics"):
        gan.fit_many(landscape_bank, configs, critics=[None, None])


def test_fit_critics_equal_fit_critic_seed_by_seed(landscape_bank, tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    critics = gan.fit_critics(landscape_bank, networks=(0,), seeds=(3, 4), steps=10, hidden=8,
                              features=WEIGHT_ONLY,
                              workers=2, progress=False)
    assert [c.seed for c in critics] == [3, 4] and all(c.feature_names == WEIGHT_ONLY for c in critics)
    assert len(list(tmp_path.glob("critic_*/critic.pt"))) == 2
    for c, seed in zip(critics, (3, 4)):
        alone = gan.fit_critic(landscape_bank, networks=(0,), steps=10, seed=seed, hidden=8,
                               features=WEIGHT_ONLY,
                               cache=False)
        assert _same_weights(c, alone) and c.losses == alone.losses
    assert not _same_weights(critics[0], critics[1])


def test_fit_critics_takes_one_tuple_of_networks_per_seed(landscape_bank, tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    folds = [(0,), (1,)]
    critics = gan.fit_critics(landscape_bank, networks=folds, seeds=(5, 5), steps=10, hidden=8,
                              features=WEIGHT_ONLY, workers=1, progress=False)
    for c, fold in zip(critics, folds):
        alone = gan.fit_critic(landscape_bank, networks=fold, steps=10, seed=5, hidden=8,
                               features=WEIGHT_ONLY, cache=False)
        assert _same_weights(c, alone)
    assert not _same_weights(critics[0], critics[1])  # other networks, same seed: another critic
    with pytest.raises(ValueError, match="got 2 tuples of networks but 3 seeds; give one per seed"):
        gan.fit_critics(landscape_bank, networks=folds, seeds=(1, 2, 3), steps=10, progress=False)


def test_a_critic_reads_the_features_it_was_fitted_on(landscape_bank, tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    net = models.build("lenet5", seed=4)
    critic = gan.fit_critic(landscape_bank, networks=(0, 1), steps=10, hidden=8, features=WEIGHT_ONLY)
    assert critic.feature_names == WEIGHT_ONLY and critic.n_features == len(WEIGHT_ONLY)
    f = critic.features(net)
    assert f.names == WEIGHT_ONLY and torch.equal(f.x, gan.channel_features(net, features=WEIGHT_ONLY).x)
    assert critic.features(net, include_linear=True).n_channels == 22 + 120 + 84
    # the names travel with the saved state; a state saved before they existed reads every feature
    back = gan.AccuracyCritic.from_state(critic.state())
    assert back.feature_names == WEIGHT_ONLY and _same_weights(back, critic)
    legacy = {k: v for k, v in gan.AccuracyCritic(len(gan.FEATURES), hidden=8).state().items()
              if k != "feature_names"}
    assert gan.AccuracyCritic.from_state(legacy).feature_names == gan.FEATURES
    assert gan.AccuracyCritic(len(gan.FEATURES)).feature_names == gan.FEATURES
    with pytest.raises(ValueError, match="n_features=3 but feature_names has 2 names"):
        gan.AccuracyCritic(3, feature_names=("depth", "is_linear"))
    # a different feature list is a different critic in the cache
    gan.fit_critic(landscape_bank, networks=(0, 1), steps=10, hidden=8, features=WEIGHT_ONLY[:-1])
    assert len(list(tmp_path.glob("critic_*/critic.pt"))) == 2


def test_fit_refuses_a_critic_that_reads_other_features(landscape_bank, tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    critic = gan.fit_critic(landscape_bank, networks=(0,), steps=10, hidden=8, features=WEIGHT_ONLY[:-1])
    config = GanConfig(steps=3, batch_size=4, hidden=8, features=WEIGHT_ONLY, critic_weight=1.0)
    with pytest.raises(ValueError,
                       match=r"the critic reads features \['l1_z_layer'.*'log_fan_in'\], the generator "
                             r"\['l1_z_layer'.*'is_linear'\]: fit the critic with features=config.features"):
        gan.fit(landscape_bank, config, critic=critic, progress=False)
    with pytest.raises(ValueError, match="the critic reads features"):
        gan.fit_many(landscape_bank, [config], critics=[critic], progress=False)
    # critic_weight 0: the critic is not used, so it may read anything (and is not part of the key)
    unused = GanConfig(**{**config.__dict__, "critic_weight": 0.0})
    with_critic = gan.fit(landscape_bank, unused, critic=critic, progress=False)
    assert _same_weights(with_critic, gan.fit(landscape_bank, unused, progress=False, cache=False))
    matching = gan.fit_critic(landscape_bank, networks=(0,), steps=10, hidden=8, features=WEIGHT_ONLY)
    assert len(gan.fit(landscape_bank, config, critic=matching, progress=False).history) == 3


def test_features_of_a_mapping_of_layers_need_the_model_for_image_features(smoke):
    _, g = smoke  # reads every feature, image features included
    assert set(gan.FEATURES) == set(g.config.features)
    net = models.build("lenet5", seed=6)
    layers = prunable_layers(net)
    whole = g.features(net)
    assert torch.equal(g.features(layers, model=net).x, whole.x) and whole.names == g.config.features
    with pytest.raises(ValueError, match="need the network: pass model="):
        g.features(layers)
    with pytest.raises(ValueError, match="need the network: pass model="):
        g.scores(layers, 0.5, torch.Generator().manual_seed(0))
    # the scores of a mapping with its model are exactly the mask sample() and strategies.prune draw
    scores = g.scores(layers, 0.5, torch.Generator().manual_seed(21), model=net)
    kept = torch.cat([v for v in scores.values()]).bool()
    assert torch.equal(kept, g.sample(net, 0.5, 1, seed=21)[0].to_vector())
    assert strategies.prune(net, "gan", 0.5, seed=21, generator=g) == g.sample(net, 0.5, 1, seed=21)[0]
    # features= of the weight-only generator need no images at all
    w = Generator(GanConfig(features=WEIGHT_ONLY))
    assert w.features(layers).names == WEIGHT_ONLY


# ---------------------------------------------------------------------------------------- learning
@pytest.mark.slow
def test_gan_learns_to_keep_the_largest_channel_of_each_layer(tmp_path, monkeypatch):
    """A bank whose best masks at 90 % keep the largest-|w| channel of each layer: after training on
    three networks, on a fourth the generator keeps that channel far more often than the uniform
    distribution (1/6 in conv1, 1/16 in conv2)."""
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    nets = [models.build("lenet5", seed=s) for s in range(3)]
    labels = {"method": "hand-made", "label": "hand-made", "strategy": "hand-made", "temperature": None,
              "min_channels_per_layer": 1, "draw": 0, "duplicate": False, "n_seeds": 1}
    rows = []
    for i, net in enumerate(nets):
        norms = l1_norms(prunable_layers(net))
        top = [int(v.argmax()) for v in norms.values()]
        for j, bits in enumerate(counts.all_masks([6, 16], 0.9, 1)):
            m = ChannelMask.from_vector(torch.tensor(bits), {"conv1": 6, "conv2": 16})
            kept = [int(torch.nonzero(m[k]).flatten()[0]) for k in m]
            acc = 0.9 if kept == top else 0.5
            rows.append({"baseline": i, "sparsity": 0.9, "key": m.key(), "mask": m.to_dict(),
                         "retrained_acc": acc, "collapsed": False, **labels})
    config = BankConfig(baselines=tuple(BaselineConfig(init_seed=i) for i in range(3)), sparsities=(0.9,))
    b = Bank(config, [type("B", (), {"model": n})() for n in nets], pd.DataFrame(rows))
    g = gan.fit(b, GanConfig(steps=300), progress=False, cache=False)
    test_net = models.build("lenet5", seed=7)
    probs = g.keep_probabilities(test_net, 0.9)
    norms = l1_norms(prunable_layers(test_net))
    assert float(probs["conv1"][norms["conv1"].argmax()]) > 0.5
    assert float(probs["conv2"][norms["conv2"].argmax()]) > 0.3


def test_mode_is_the_most_probable_mask_of_every_network_enumerated(landscape_bank):
    g = gan.fit(landscape_bank, GanConfig(steps=30, batch_size=8, hidden=16, features=WEIGHT_ONLY),
                progress=False, cache=False)
    net = models.build("lenet5", seed=9)
    cases = [(net, LENET_CONV, 0.9, 1), (net, LENET_CONV, 0.8, 1), (net, LENET_CONV, 0.8, 2),
             (ThreeConvNet(), {"features.0": 5, "features.3": 9, "features.6": 12}, 0.885, 1)]
    for net, sizes, s, m in cases:
        masks = [ChannelMask.from_vector(torch.tensor(b), sizes)
                 for b in counts.all_masks(list(sizes.values()), s, m)]
        p = g.mask_probabilities(net, masks, s, min_channels_per_layer=m)
        mode = g.mode(net, s, min_channels_per_layer=m)
        assert isinstance(mode, ChannelMask) and mode.n_pruned == counts.n_pruned(sum(sizes.values()), s)
        assert min(mode.kept_per_layer().values()) >= m
        assert mode.key() == masks[int(torch.argmax(p))].key()
        p_mode = float(g.mask_probabilities(net, [mode], s, min_channels_per_layer=m)[0])
        assert p_mode == pytest.approx(float(p.max()), rel=1e-9)
        samples = g.sample(net, s, 30, seed=0, min_channels_per_layer=m)
        assert (g.mask_probabilities(net, samples, s, min_channels_per_layer=m) <= p_mode * (1 + 1e-9)).all()
        assert g.mode(net, s, min_channels_per_layer=m).key() == mode.key()  # deterministic
        # as scores, the one global selection returns exactly the mode (what a "gan-mode" scorer needs)
        scores = g.mode_scores(prunable_layers(net), s, min_channels_per_layer=m, model=net)
        assert select(scores, s, min_channels_per_layer=m).key() == mode.key()
        # ... and the strategy "gan-mode" is that mask, whatever the seed
        for seed in (0, 1):
            assert strategies.prune(net, "gan-mode", s, seed=seed, generator=g,
                                    min_channels_per_layer=m).key() == mode.key()
    with pytest.raises(ValueError, match="untrained"):
        Generator(GanConfig(features=WEIGHT_ONLY)).mode(models.build("lenet5", seed=9), 0.9)
