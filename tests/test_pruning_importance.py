"""prunegan.pruning.importance: the image-based importance statistics (activations, Taylor, out-mass,
HRank; the probes have tests/test_probe_features.py), their memo, and the scorers registered from them
(one score per channel, exact counts with prune(...), the memo, the options and their errors)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from prunegan import data, models
from prunegan.core.masks import layer_sizes, prunable_layers
from prunegan.pruning import importance as I
from prunegan.pruning import scorers, strategies
from prunegan.pruning.memo import Memo
from prunegan.pruning.scorers import SCORERS

#: Scorer name → statistic (the image-based criteria registered in prunegan.pruning.scorers).
IMAGE = {"act-mean": "act_mean", "act-nonzero": "act_zero_share", "taylor": "taylor", "out-mass": "out_mass",
         "hrank": "hrank", "ablation-loss": "ablation_loss", "only-kept-acc": "only_kept_acc"}


# ------------------------------------------------------------------------------------- statistics

def _stats(net, images, **kw):
    s = I.channel_statistics(net, inputs=images, **kw)
    return {layer: g.reset_index(drop=True) for layer, g in s.groupby("layer", sort=False)}


def test_a_dead_channel(images):
    """conv1 channel 2 with weights and bias zeroed: no activation, no Taylor importance, all outputs
    non-positive, rank 0; its out_mass (read by conv2) is untouched, and so is every other channel's."""
    net = models.build("lenet5", seed=2)
    base = _stats(net, images)
    with torch.no_grad():
        net.conv1.weight[2] = 0
        net.conv1.bias[2] = 0
    dead = _stats(net, images)["conv1"].loc[2]
    assert dead["act_mean"] == 0 and dead["taylor"] == 0
    assert dead["act_zero_share"] == 1 and dead["hrank"] == 0
    after = _stats(net, images)
    assert after["conv1"]["out_mass"].equals(base["conv1"]["out_mass"])
    assert after["conv2"]["out_mass"].equals(base["conv2"]["out_mass"])
    assert (base["conv1"].loc[2, ["act_mean", "taylor", "hrank"]] > 0).all()


def test_out_mass_reads_the_next_layer(images):
    """out_mass is Σ|w| of the next layer's weights reading the channel: zeroing conv2's input slice of
    conv1 channel 4 makes it 0 (others unchanged); zeroing fc1's columns of conv2 channel 7 likewise,
    and zeroing conv2 channel 7's own weights lowers conv1's out_mass by exactly those weights' mass."""
    net = models.build("lenet5", seed=2)
    base = _stats(net, images)
    w2 = net.conv2.weight.detach()
    assert base["conv1"]["out_mass"].to_numpy() == pytest.approx(w2.abs().sum((0, 2, 3)).numpy(), rel=1e-5)
    fc = net.fc1.weight.detach().abs().reshape(120, 16, 25).sum((0, 2))
    assert base["conv2"]["out_mass"].to_numpy() == pytest.approx(fc.numpy(), rel=1e-5)

    with torch.no_grad():
        net.conv2.weight[:, 4] = 0
    s = _stats(net, images)
    assert s["conv1"].loc[4, "out_mass"] == 0
    others = [c for c in range(6) if c != 4]
    assert s["conv1"].loc[others, "out_mass"].equals(base["conv1"].loc[others, "out_mass"])

    with torch.no_grad():
        net.fc1.weight.view(120, 16, 25)[:, 7] = 0
    s2 = _stats(net, images)
    assert s2["conv2"].loc[7, "out_mass"] == 0
    keep = [c for c in range(16) if c != 7]
    assert s2["conv2"].loc[keep, "out_mass"].equals(base["conv2"].loc[keep, "out_mass"])
    assert s2["conv1"]["out_mass"].equals(s["conv1"]["out_mass"])  # fc1 does not read conv1

    own = net.conv2.weight[7].detach().abs().sum((1, 2))  # (6,) what conv2 channel 7 reads from conv1
    with torch.no_grad():
        net.conv2.weight[7] = 0
        net.conv2.bias[7] = 0
    s3 = _stats(net, images)
    expected = s2["conv1"]["out_mass"].to_numpy() - own.numpy()
    assert s3["conv1"]["out_mass"].to_numpy() == pytest.approx(expected, rel=1e-5, abs=1e-5)
    assert s3["conv2"].loc[7, "act_mean"] == 0 and s3["conv2"].loc[7, "taylor"] == 0


def test_taylor_uses_the_models_own_predictions(images):
    """Taylor is |a · ∂L/∂a| with L the summed cross-entropy against the argmax labels (checked by hand
    on conv2 for a handful of images)."""
    net = models.build("lenet5", seed=4).eval()
    x = images[:10]
    out = {}
    h = net.conv2.register_forward_hook(lambda m, a, o: out.setdefault("a", o))
    logits = net(x)
    h.remove()
    loss = nn.functional.cross_entropy(logits, logits.argmax(1), reduction="sum")
    (g,) = torch.autograd.grad(loss, out["a"])
    expected = (out["a"] * g).abs().mean((0, 2, 3)).detach()
    got = _stats(net, x)["conv2"]["taylor"].to_numpy()
    assert got == pytest.approx(expected.numpy(), rel=1e-4, abs=1e-9)


def test_memo_hits_and_invalidates_when_weights_change(images):
    net = models.build("lenet5", seed=5)
    I.clear_cache()
    a = I.channel_statistics(net, inputs=images)
    assert len(I._STATS_CACHE) == 1
    I.channel_statistics(net, inputs=images)
    assert len(I._STATS_CACHE) == 1  # a hit: nothing new stored
    with torch.no_grad():
        net.conv1.weight.mul_(2.0)
    b = I.channel_statistics(net, inputs=images)
    assert len(I._STATS_CACHE) == 2
    assert not a["act_mean"].equals(b["act_mean"])
    I.clear_cache()
    assert I.channel_statistics(net, inputs=images).equals(b)
    # other inputs: another entry, other values
    c = I.channel_statistics(net, inputs=images[:32])
    assert len(I._STATS_CACHE) == 2 and not c["act_mean"].equals(b["act_mean"])


def test_memo_returns_copies(images):
    net = models.build("lenet5", seed=6)
    s = I.layer_statistics(net, {"conv1": net.conv1}, images)
    s["conv1"]["act_mean"].zero_()
    assert I.layer_statistics(net, {"conv1": net.conv1}, images)["conv1"]["act_mean"].abs().sum() > 0


def test_memo_is_bounded():
    cache = Memo(2)
    for k in "abc":
        cache.put(k, k)
    assert len(cache) == 2 and cache.get("a") is None and cache.get("c") == "c"


def test_out_mass_of_a_grouped_reader():
    """A depthwise-style reader (groups=4, 2 outputs per group): channel c is read by outputs 2c, 2c+1
    only."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 3, groups=4), nn.ReLU(),
                            nn.Flatten(), nn.Linear(8 * 24 * 24, 10))
    got = I.channel_statistics(net, inputs=data.default_inputs()[:8]).set_index("layer")["out_mass"]
    w = net[2].weight.detach().abs().sum((1, 2, 3)).reshape(4, 2).sum(1)
    assert got["0"].to_numpy() == pytest.approx(w.numpy(), rel=1e-5)



def test_memo_get_or_compute_computes_once():
    memo, calls = Memo(4), []
    assert memo.get_or_compute("k", lambda: calls.append(1) or "v") == "v"
    assert memo.get_or_compute("k", lambda: calls.append(1) or "w") == "v" and calls == [1]
    memo.clear()
    assert len(memo) == 0 and memo.get("k") is None


def test_torch_pruning_importance_uses_the_same_memo():
    assert isinstance(scorers._IMPORTANCE_MEMO, Memo) and isinstance(I._STATS_CACHE, Memo)


# ---------------------------------------------------------------------------------------- scorers

def test_the_image_scorers_are_registered_with_their_uniform_variants():
    names = strategies.names()
    assert set(IMAGE) <= set(names) and {f"uniform-{n}" for n in IMAGE} <= set(names)
    assert set(scorers.IMAGE_SCORERS) == set(IMAGE)


@pytest.mark.parametrize("name", sorted(IMAGE))
@pytest.mark.parametrize("include_linear", [False, True])
def test_each_scorer_is_its_statistic_one_score_per_channel(trained_lenet, name, include_linear):
    layers = prunable_layers(trained_lenet, include_linear=include_linear)
    out = SCORERS.get(name)(trained_lenet, layers, torch.Generator().manual_seed(0), sparsity=0.5)
    sizes = layer_sizes(trained_lenet, include_linear=include_linear)
    assert {k: tuple(v.shape) for k, v in out.items()} == {k: (c,) for k, c in sizes.items()}
    stats = I.channel_statistics(trained_lenet, include_linear=include_linear)
    raw = torch.tensor(stats[IMAGE[name]].to_numpy())
    got = torch.cat(list(out.values()))
    if name == "act-nonzero":  # a channel more often <= 0 is less important
        assert got.dtype == torch.float64 and torch.equal(got, 1 - raw.to(torch.float64))
    else:
        assert torch.equal(got, raw)


@pytest.mark.parametrize("name", sorted(IMAGE) + [f"uniform-{n}" for n in ("taylor", "hrank")])
@pytest.mark.parametrize("minimum", [0, 1])
def test_prune_keeps_exactly_k_channels_and_the_minimum(trained_lenet, name, minimum):
    sizes = layer_sizes(trained_lenet, include_linear=True)
    n = sum(sizes.values())
    for sparsity in (0.5, 0.9):
        mask = strategies.prune(trained_lenet, name, sparsity, seed=0, include_linear=True,
                                min_channels_per_layer=minimum)
        assert mask.n_pruned == round(sparsity * n), (name, sparsity)
        if minimum or name.startswith("uniform-"):
            assert all(int(keep.sum()) >= 1 for keep in mask.values()), (name, sparsity)


def test_prune_with_taylor_is_global_selection_over_the_scores(trained_lenet):
    """Like "l1": the global selection over the scores, with the minimum per layer honoured."""
    from prunegan.pruning.select import select

    layers = prunable_layers(trained_lenet)
    scores = I.importance(trained_lenet, layers, "taylor")
    for minimum in (0, 2):
        mask = strategies.prune(trained_lenet, "taylor", 0.8, seed=3, min_channels_per_layer=minimum)
        assert mask.to_dict() == select(scores, 0.8, min_channels_per_layer=minimum).to_dict()
        assert min(int(keep.sum()) for keep in mask.values()) >= minimum


@pytest.mark.parametrize("name", ["taylor", "hrank"])
def test_a_cache_hit_returns_equal_values(images, name):
    net = models.build("lenet5", seed=8)
    layers = prunable_layers(net)
    I.clear_cache()
    a = SCORERS.get(name)(net, layers, torch.Generator(), sparsity=0.5, inputs=images)
    assert len(I._STATS_CACHE) == 1
    b = SCORERS.get(name)(net, layers, torch.Generator(), sparsity=0.5, inputs=images)
    assert len(I._STATS_CACHE) == 1  # a hit
    assert all(torch.equal(a[k], b[k]) for k in a)
    a["conv1"].zero_()  # the memo hands out copies
    c = SCORERS.get(name)(net, layers, torch.Generator(), sparsity=0.5, inputs=images)
    assert torch.equal(c["conv2"], b["conv2"]) and c["conv1"].abs().sum() > 0


def test_inputs_and_labels_options(trained_lenet, images, labels):
    s = strategies.score(trained_lenet, "ablation-loss", 0.5, seed=0, inputs=images, labels=labels)
    stats = I.channel_statistics(trained_lenet, inputs=images, labels=labels)
    assert torch.equal(torch.cat(list(s.values())), torch.tensor(stats["ablation_loss"].to_numpy()))
    # images without labels are enough for the statistics that need no labels
    t = strategies.score(trained_lenet, "taylor", 0.5, seed=0, inputs=images)
    taylor = I.channel_statistics(trained_lenet, inputs=images)["taylor"].to_numpy()
    assert torch.equal(torch.cat(list(t.values())), torch.tensor(taylor))


@pytest.mark.parametrize("name, options, needle", [
    ("only-kept-acc", {"inputs": "images"}, "inputs must be .* got str"),
    ("taylor", {"inputs": torch.zeros(4, 784)}, "inputs must be .*shape \\(4, 784\\)"),
    ("ablation-loss", {"inputs": "x"}, "inputs must be"),
    ("ablation-loss", {"inputs": torch.zeros(4, 1, 28, 28)}, "need labels="),
    ("only-kept-acc", {"inputs": torch.zeros(4, 1, 28, 28), "labels": torch.full((4,), -3)},
     "class indices >= 0, got -3"),
    ("only-kept-acc", {"inputs": torch.zeros(4, 1, 28, 28), "labels": torch.full((4,), 10)},
     "below the network's 10 outputs, got 10"),
    ("hrank", {"labels": torch.zeros(4, dtype=torch.int64)}, "labels were given without inputs"),
    ("taylor", {"images": torch.zeros(4, 1, 28, 28)},
     "has no option\\(s\\) \\['images'\\]; its options: inputs, labels"),
])
def test_bad_options_name_the_bad_value(name, options, needle):
    net = models.build("lenet5", seed=0)
    with pytest.raises(ValueError, match=needle):
        strategies.prune(net, name, 0.5, seed=0, **options)


def test_other_input_shapes_need_inputs():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    with pytest.raises(ValueError, match="`inputs`"):
        strategies.prune(net, "taylor", 0.5, seed=0)
    x = torch.randn(6, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert strategies.prune(net, "taylor", 0.5, seed=0, inputs=x).n_pruned == 2


def test_unknown_statistic():
    net = models.build("lenet5", seed=0)
    with pytest.raises(ValueError, match="unknown statistic 'l1'; valid: act_mean"):
        I.importance(net, prunable_layers(net), "l1")
