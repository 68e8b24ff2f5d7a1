"""prunegan.pruning.strategies: a registered scorer + the one global selection (prune, score), and
Method, a strategy with its options as data. Scorers alone: test_scorers.py; selection: test_select.py."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from prunegan import models
from prunegan.core import masks
from prunegan.pruning import strategies
from prunegan.pruning.strategies import Method

from toy_nets import mean_abs_weight

STRATEGIES = ["l1", "random", "noisy-l1"]
SPARSITIES = [round(0.05 * i, 2) for i in range(20)]  # 0.0 .. 0.95


@pytest.fixture(scope="module")
def caffe():
    return models.build("lenet5-caffe", seed=0)


def test_names():
    names = strategies.names()
    assert set(STRATEGIES) <= set(names) and names == sorted(names)


# --------------------------------------------------------------------------------- exact counts

@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("include_linear", [False, True])
def test_exact_number_of_channels_pruned(trained_lenet, strategy, include_linear):
    sizes = masks.layer_sizes(trained_lenet, include_linear=include_linear)
    n = sum(sizes.values())
    for sparsity in SPARSITIES:
        mask = strategies.prune(trained_lenet, strategy, sparsity, seed=1, include_linear=include_linear)
        assert list(mask) == list(sizes) and mask.sizes == sizes
        assert mask.n_pruned == round(sparsity * n), (strategy, sparsity)
        assert mask.sparsity == pytest.approx(round(sparsity * n) / n)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_exact_count_with_min_channels_or_clear_error(trained_lenet, strategy):
    n, n_layers = 22, 2
    for min_keep in (1, 2):
        for sparsity in SPARSITIES:
            n_pruned = round(sparsity * n)
            if n - n_pruned >= min_keep * n_layers:
                mask = strategies.prune(trained_lenet, strategy, sparsity, seed=2,
                                        min_channels_per_layer=min_keep)
                assert mask.n_pruned == n_pruned
                assert min(mask.kept_per_layer().values()) >= min_keep
            else:
                with pytest.raises(ValueError, match=f"min_channels_per_layer={min_keep}"):
                    strategies.prune(trained_lenet, strategy, sparsity, seed=2,
                                     min_channels_per_layer=min_keep)


def test_zero_sparsity_keeps_everything(trained_lenet):
    for strategy in STRATEGIES:
        assert strategies.prune(trained_lenet, strategy, 0, seed=0) == masks.ChannelMask.full(trained_lenet)


# ----------------------------------------------------------------------------------------------- L1

@pytest.mark.parametrize("include_linear", [False, True])
def test_l1_keeps_exactly_the_highest_scoring_channels(trained_lenet, include_linear):
    names = list(masks.prunable_layers(trained_lenet, include_linear=include_linear))
    scores = mean_abs_weight(trained_lenet, names)
    flat = torch.cat([scores[n] for n in names])
    assert len(set(flat.tolist())) == len(flat)  # no ties, so the expected set is unique
    for sparsity in SPARSITIES[1:]:
        mask = strategies.prune(trained_lenet, "l1", sparsity, seed=0, include_linear=include_linear)
        keep = mask.to_vector()
        n_pruned = round(sparsity * len(flat))
        expected = torch.ones_like(keep)
        expected[torch.argsort(flat)[:n_pruned]] = False
        assert torch.equal(keep, expected), sparsity
        assert flat[keep].min() > flat[~keep].max()


def test_l1_selection_is_global_not_per_layer(caffe):
    # Global ranking: layers lose different fractions (a per-layer rule would prune 50 % of each).
    mask = strategies.prune(caffe, "l1", 0.5, seed=0)
    assert len(set(mask.layer_sparsity().values())) > 1
    scores = mean_abs_weight(caffe, ["conv1", "conv2"])
    flat = torch.cat([scores["conv1"], scores["conv2"]])
    keep = mask.to_vector()
    assert flat[keep].min() > flat[~keep].max()


def test_l1_ignores_the_seed(trained_lenet):
    a = strategies.prune(trained_lenet, "l1", 0.5, seed=0)
    assert all(strategies.prune(trained_lenet, "l1", 0.5, seed=s) == a for s in (1, 2, 99))


def test_score_gives_one_score_per_channel(trained_lenet):
    for strategy in STRATEGIES:
        s = strategies.score(trained_lenet, strategy, 0.5, seed=0, include_linear=True)
        assert {n: v.shape for n, v in s.items()} == {n: (c,) for n, c in
                                                       masks.layer_sizes(trained_lenet,
                                                                         include_linear=True).items()}


# ------------------------------------------------------------------------------ seeds and randomness

@pytest.mark.parametrize("strategy", ["random", "noisy-l1"])
def test_same_seed_same_mask_different_seed_different_mask(caffe, strategy):
    for sparsity in (0.3, 0.5, 0.9):
        a = strategies.prune(caffe, strategy, sparsity, seed=11)
        assert strategies.prune(caffe, strategy, sparsity, seed=11) == a
        others = [strategies.prune(caffe, strategy, sparsity, seed=s) for s in (12, 13, 14)]
        assert all(o != a for o in others), sparsity
        assert all(o.n_pruned == a.n_pruned for o in others)


def test_noisy_l1_differs_across_seeds_on_the_trained_lenet(trained_lenet):
    distinct = {strategies.prune(trained_lenet, "noisy-l1", 0.5, seed=s).key() for s in range(10)}
    assert len(distinct) > 1


def test_randomness_does_not_touch_global_rng(trained_lenet):
    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    strategies.prune(trained_lenet, "random", 0.5, seed=3)
    strategies.prune(trained_lenet, "noisy-l1", 0.5, seed=3)
    assert torch.equal(torch.rand(4), expected)
    # and global state does not influence the mask
    torch.manual_seed(0)
    a = strategies.prune(trained_lenet, "random", 0.5, seed=3)
    torch.manual_seed(1)
    assert strategies.prune(trained_lenet, "random", 0.5, seed=3) == a


def test_random_ignores_the_weights():
    a, b = models.build("lenet5", seed=0), models.build("lenet5", seed=1)
    for seed in range(3):
        assert strategies.prune(a, "random", 0.6, seed=seed) == strategies.prune(b, "random", 0.6, seed=seed)


def test_random_is_uniform_over_channels(trained_lenet):
    n_seeds = 300
    pruned = torch.stack([~strategies.prune(trained_lenet, "random", 0.5, seed=s).to_vector()
                          for s in range(n_seeds)]).float()
    freq = pruned.mean(0)  # 11 of 22 pruned each time: every channel should be pruned ~50 % of the time
    assert freq.min() > 0.35 and freq.max() < 0.65
    # conv1 (6 channels) collapses sometimes: random pruning ignores layers
    collapsed = sum(bool(strategies.prune(trained_lenet, "random", 0.9, seed=s).collapsed_layers())
                    for s in range(50))
    assert collapsed > 0


def test_noisy_l1_temperature_zero_equals_l1(trained_lenet, caffe):
    for model in (trained_lenet, caffe):
        for sparsity in SPARSITIES:
            l1 = strategies.prune(model, "l1", sparsity, seed=0)
            for seed in (0, 1, 2):
                assert strategies.prune(model, "noisy-l1", sparsity, seed=seed,
                                        temperature=0.0).to_dict() == l1.to_dict()


def test_noisy_l1_moves_from_l1_towards_random_with_temperature(caffe):
    l1 = strategies.prune(caffe, "l1", 0.5, seed=0)

    def mean_distance(temperature):
        return np.mean([l1.hamming(strategies.prune(caffe, "noisy-l1", 0.5, seed=s, temperature=temperature))
                        for s in range(20)])

    random_distance = np.mean([l1.hamming(strategies.prune(caffe, "random", 0.5, seed=s)) for s in range(20)])
    small, medium, large = mean_distance(0.01), mean_distance(0.5), mean_distance(100.0)
    assert small < medium < large
    assert large == pytest.approx(random_distance, rel=0.25)


@pytest.mark.parametrize("bad", [-1, -0.1, math.nan, "hot", None, True])
def test_noisy_l1_bad_temperature(trained_lenet, bad):
    with pytest.raises(ValueError, match="temperature"):
        strategies.prune(trained_lenet, "noisy-l1", 0.5, seed=0, temperature=bad)


# ----------------------------------------------------------------------------- min_channels_per_layer

@pytest.mark.parametrize("strategy", STRATEGIES)
def test_min_one_channel_prevents_collapse(trained_lenet, strategy):
    collapsed_without = 0
    for seed in range(20):
        mask = strategies.prune(trained_lenet, strategy, 0.9, seed=seed, min_channels_per_layer=1)
        assert mask.collapsed_layers() == [] and min(mask.kept_per_layer().values()) == 1
        assert mask.n_pruned == round(0.9 * 22)
        collapsed_without += bool(strategies.prune(trained_lenet, strategy, 0.9,
                                                   seed=seed).collapsed_layers())
    if strategy == "random":
        assert collapsed_without > 0  # the constraint did something


def test_min_channels_keeps_the_layers_best_channels(trained_lenet):
    scores = mean_abs_weight(trained_lenet, ["conv1", "conv2"])
    mask = strategies.prune(trained_lenet, "l1", 0.8, seed=0, min_channels_per_layer=2)
    for name in ("conv1", "conv2"):
        keep = mask[name]
        assert keep.sum() >= 2
        top2 = torch.argsort(scores[name], descending=True)[:2]
        assert keep[top2].all(), name


def test_min_channels_per_layer_with_linear_layers(trained_lenet):
    mask = strategies.prune(trained_lenet, "random", 0.9, seed=0, include_linear=True,
                            min_channels_per_layer=3)
    assert set(mask) == {"conv1", "conv2", "fc1", "fc2"}
    assert min(mask.kept_per_layer().values()) >= 3


@pytest.mark.parametrize("min_keep", [7, 100])
def test_min_channels_larger_than_a_layer_raises(trained_lenet, min_keep):
    with pytest.raises(ValueError, match=f"min_channels_per_layer={min_keep}"):
        strategies.prune(trained_lenet, "l1", 0.1, seed=0, min_channels_per_layer=min_keep)


def test_min_channels_impossible_sparsity_raises(trained_lenet):
    # 0.95 * 22 → 21 pruned, 1 left, but 2 layers × 1 channel are needed
    with pytest.raises(ValueError) as err:
        strategies.prune(trained_lenet, "random", 0.95, seed=0, min_channels_per_layer=1)
    message = str(err.value)
    assert "min_channels_per_layer=1" in message and "0.95" in message


@pytest.mark.parametrize("bad", [-1, 1.5, "1", None, True])
def test_min_channels_bad_type_raises(trained_lenet, bad):
    with pytest.raises(ValueError, match="min_channels_per_layer"):
        strategies.prune(trained_lenet, "l1", 0.5, seed=0, min_channels_per_layer=bad)


# -------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, "a", "0.5", None, True, False, math.nan, math.inf, -math.inf,
                                 [0.5]])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_bad_sparsity_raises(trained_lenet, strategy, bad):
    with pytest.raises(ValueError, match="sparsity") as err:
        strategies.prune(trained_lenet, strategy, bad, seed=0)
    assert repr(bad) in str(err.value)
    with pytest.raises(ValueError, match="sparsity"):  # score checks it too, even where the scorer ignores it
        strategies.score(trained_lenet, strategy, bad, seed=0)


@pytest.mark.parametrize("good", [0, 0.5, np.float64(0.25), np.float32(0.5), 0.999])
def test_numeric_sparsity_types_accepted(trained_lenet, good):
    assert strategies.prune(trained_lenet, "l1", good, seed=0).n_pruned == round(float(good) * 22)


@pytest.mark.parametrize("bad", [-1, 1.5, None, "0", True])
def test_bad_seed_raises(trained_lenet, bad):
    with pytest.raises(ValueError, match="seed"):
        strategies.prune(trained_lenet, "random", 0.5, seed=bad)


# ------------------------------------------------------------------------------------------- Method

@pytest.fixture
def two_option_scorer(monkeypatch):
    """A scorer with two options, registered for one test only (Method sorts options by name)."""
    from prunegan.pruning.scorers import SCORERS, l1_norms

    def scorer(model, layers, rng, *, sparsity, zeta=0, alpha=0.0):
        return l1_norms(layers)

    monkeypatch.setitem(SCORERS._items, "two-options", scorer)
    return "two-options"


@pytest.mark.parametrize("kwargs, name, label", [
    (dict(strategy="l1"), "l1", "l1"),
    (dict(strategy="random", min_channels_per_layer=1), "random-min1", "random, min 1/layer"),
    (dict(strategy="noisy-l1", options={"temperature": 0.5}), "noisy-l1-T0.5", "noisy-l1 T=0.5"),
    (dict(strategy="noisy-l1", options={"temperature": 2.0}, min_channels_per_layer=2),
     "noisy-l1-T2-min2", "noisy-l1 T=2, min 2/layer"),
    (dict(strategy="tp-lamp", options={"temperature": 0.25}), "tp-lamp-T0.25", "tp-lamp T=0.25"),
])
def test_method_derives_name_and_label(kwargs, name, label):
    m = Method(**kwargs)
    assert (m.name, m.label) == (name, label)
    given = Method(**kwargs, name="mine", label="My method")
    assert (given.name, given.label) == ("mine", "My method")  # given ones are kept


def test_method_options_are_stored_sorted_and_hashable(two_option_scorer):
    a = Method(two_option_scorer, {"zeta": 3, "alpha": 0.5})
    b = Method(two_option_scorer, [("alpha", 0.5), ("zeta", 3)])
    assert a.options == (("alpha", 0.5), ("zeta", 3.0)) == b.options  # numbers stored as floats
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert {a: "row"}[b] == "row"
    assert a.option_dict == {"alpha": 0.5, "zeta": 3}
    assert a.name == "two-options-A0.5-Z3" and a.label == "two-options alpha=0.5 zeta=3"
    assert Method(two_option_scorer, {"zeta": 4, "alpha": 0.5}) != a
    assert Method("noisy-l1", {"temperature": 0.5}) != Method("noisy-l1", {"temperature": 1.0})
    assert Method("random") != Method("random", min_channels_per_layer=1)


def test_method_is_frozen():
    m = Method("l1")
    with pytest.raises(AttributeError):
        m.strategy = "random"


@pytest.mark.parametrize("strategy, options, unknown, valid", [
    ("l1", {"temperature": 1.0}, ["temperature"], "none"),
    ("noisy-l1", {"temp": 1.0}, ["temp"], "temperature"),
    ("noisy-l1", {"temperature": 1.0, "seed": 2, "beta": 1}, ["beta", "seed"], "temperature"),
    ("gan", {"generatr": None}, ["generatr"], "generator"),
])
def test_method_unknown_option_lists_the_valid_ones(strategy, options, unknown, valid):
    with pytest.raises(ValueError) as err:
        Method(strategy, options)
    message = str(err.value)
    assert message == f"strategy {strategy!r} has no option(s) {unknown}; its options: {valid}"


def test_method_bad_fields_raise():
    with pytest.raises(ValueError, match="unknown strategy 'L1'; valid: .*noisy-l1"):
        Method("L1")
    for bad in (-1, 0.5, None, True):
        with pytest.raises(ValueError, match="Method.min_channels_per_layer") as err:
            Method("l1", min_channels_per_layer=bad)
        assert repr(bad) in str(err.value)
    for bad in ("yes", 1, None):
        with pytest.raises(ValueError, match="Method.include_linear") as err:
            Method("l1", include_linear=bad)
        assert repr(bad) in str(err.value)


@pytest.mark.parametrize("method", [
    Method("l1"), Method("random"), Method("random", min_channels_per_layer=1),
    Method("noisy-l1", {"temperature": 0.5}),
    Method("noisy-l1", {"temperature": 0.5}, min_channels_per_layer=2),
    Method("random", include_linear=True), Method("l1", include_linear=True, min_channels_per_layer=3),
])
def test_method_prune_equals_strategies_prune(trained_lenet, method):
    differ = set()
    for sparsity in (0.3, 0.7):
        for seed in (0, 1, 2):
            got = method.prune(trained_lenet, sparsity, seed=seed)
            expected = strategies.prune(trained_lenet, method.strategy, sparsity, seed=seed,
                                        min_channels_per_layer=method.min_channels_per_layer,
                                        include_linear=method.include_linear, **method.option_dict)
            assert got == expected, (sparsity, seed)
            assert min(got.kept_per_layer().values()) >= method.min_channels_per_layer
            differ.add(got)
    if method.strategy != "l1":
        assert len(differ) > 2  # the seed reached the scorer


def test_method_include_linear(trained_lenet):
    assert list(Method("l1").prune(trained_lenet, 0.5, seed=0)) == ["conv1", "conv2"]
    mask = Method("l1", include_linear=True).prune(trained_lenet, 0.5, seed=0)
    assert list(mask) == ["conv1", "conv2", "fc1", "fc2"] and mask.n_pruned == round(0.5 * 226)


def test_method_prune_passes_runtime_objects(trained_lenet):
    class Fake:
        def scores(self, layers, sparsity, rng, min_channels_per_layer=0, model=None):
            return {k: -torch.arange(m.weight.shape[0], dtype=torch.float32) for k, m in layers.items()}

    mask = Method("gan").prune(trained_lenet, 0.5, seed=0, generator=Fake())
    assert mask == strategies.prune(trained_lenet, "gan", 0.5, seed=0, generator=Fake())
    with pytest.raises(ValueError, match="needs a trained generator"):
        Method("gan").prune(trained_lenet, 0.5, seed=0)


def test_method_labels_are_the_row_columns():
    assert Method("noisy-l1", {"temperature": 0.5}, min_channels_per_layer=1).labels() == {
        "method": "noisy-l1-T0.5-min1", "label": "noisy-l1 T=0.5, min 1/layer", "strategy": "noisy-l1",
        "min_channels_per_layer": 1, "temperature": 0.5}
    assert Method("random").labels()["temperature"] is None


def test_integer_and_float_options_name_the_same_method():
    from prunegan.pruning.strategies import Method

    assert Method("noisy-l1", {"temperature": 1}) == Method("noisy-l1", {"temperature": 1.0})
    assert Method("noisy-l1", {"temperature": 1}).name == "noisy-l1-T1"


def test_within_layers_keeps_the_masks_allocation_and_the_criterions_channels():
    from prunegan import models
    from prunegan.pruning.scorers import l1_norms
    from prunegan.pruning.strategies import prune, within_layers

    net = models.build("lenet5", seed=3)
    rand = prune(net, "random", 0.8, seed=5, min_channels_per_layer=1)
    got = within_layers(net, rand, "l1")
    assert got.kept_per_layer() == rand.kept_per_layer() and got != rand
    norms = l1_norms({"conv1": net.conv1, "conv2": net.conv2})
    for layer, k in rand.kept_per_layer().items():
        top = set(torch.argsort(norms[layer], descending=True)[:k].tolist())
        assert set(got[layer].nonzero().flatten().tolist()) == top
    assert within_layers(net, got, "l1") == got  # already the L1 channels of that allocation
    with_linear = prune(net, "random", 0.8, seed=5, min_channels_per_layer=1, include_linear=True)
    with pytest.raises(ValueError, match="not the model's prunable layers"):
        within_layers(net, with_linear, "l1")  # a conv + Linear mask, conv layers asked for
    assert within_layers(net, with_linear, "l1", include_linear=True).kept_per_layer() == \
        with_linear.kept_per_layer()
