"""Layer-wise uniform pruning: the counts rule (prunegan.pruning.select.uniform_kept_per_layer) and the
strategies ``uniform-l1`` and ``uniform-random`` (every layer keeps the same fraction of its channels;
L1 or random within the layer)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from prunegan import models
from prunegan.core import counts, masks
from prunegan.pruning import strategies
from prunegan.pruning.select import select_per_layer, uniform_kept_per_layer
from prunegan.pruning.strategies import Method

from toy_nets import SMALL_CONVS, mean_abs_weight, small_net

UNIFORM = ["uniform-l1", "uniform-random"]
SPARSITIES = [round(0.05 * i, 2) for i in range(20)]  # 0.0 .. 0.95


def quotas(sizes: dict[str, int], sparsity: float) -> dict[str, float]:
    """The proportional share ``K · n_l / n`` of every layer (independent of the library's rounding)."""
    n = sum(sizes.values())
    k = n - round(sparsity * n)
    return {name: k * size / n for name, size in sizes.items()}


def random_cases(n_cases: int = 300, seed: int = 0):
    """(sizes, sparsity, minimum) triples over 1-6 layers of 1-130 channels, the feasible ones only."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n_cases:
        sizes = {f"l{i}": int(c) for i, c in enumerate(rng.integers(1, 131, size=rng.integers(1, 7)))}
        if rng.random() < 0.3:  # small layers make the floor bind often
            sizes = {k: int(rng.integers(1, 8)) for k in sizes}
        sparsity = float(rng.choice([0.0, 0.1, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95, rng.random() * 0.99]))
        minimum = int(rng.choice([0, 1, 2, 3]))
        if counts.is_feasible(sizes, sparsity, max(1, minimum)):
            out.append((sizes, sparsity, minimum))
    return out


@pytest.fixture(scope="module")
def caffe():
    return models.build("lenet5-caffe", seed=0)


# ------------------------------------------------------------------------------ the counts rule

@pytest.mark.parametrize("sizes, sparsity, minimum, expected", [
    # no floor binds: quotas 3 and 8 exactly
    ({"conv1": 6, "conv2": 16}, 0.5, 1, {"conv1": 3, "conv2": 8}),
    # K = 226 − round(180.8) = 45; quotas 1.19, 3.19, 23.89, 16.73: floors 43, the two largest remainders +1
    ({"conv1": 6, "conv2": 16, "fc1": 120, "fc2": 84}, 0.8, 1,
     {"conv1": 1, "conv2": 3, "fc1": 24, "fc2": 17}),
    # K = 105 − round(94.5) = 11; quotas 0.21, 10.48, 0.31: a and c raised to 1, b keeps the rest
    ({"a": 2, "b": 100, "c": 3}, 0.9, 0, {"a": 1, "b": 9, "c": 1}),
    # K = 22 − round(17.6) = 4; conv1's quota 1.09 is below the minimum 2
    ({"conv1": 6, "conv2": 16}, 0.8, 2, {"conv1": 2, "conv2": 2}),
    # equal remainders (quotas 1.5, 1.5): the earlier layer gets the extra channel
    ({"a": 2, "b": 2, "c": 4}, 0.25, 1, {"a": 2, "b": 1, "c": 3}),
    ({"a": 5}, 0.6, 1, {"a": 2}),
    ({"a": 3, "b": 5}, 0.0, 1, {"a": 3, "b": 5}),
])
def test_uniform_counts_by_hand(sizes, sparsity, minimum, expected):
    assert uniform_kept_per_layer(sizes, sparsity, minimum) == expected


def test_hand_examples_have_the_quotas_their_comments_say():
    assert quotas({"a": 2, "b": 2, "c": 4}, 0.25) == {"a": 1.5, "b": 1.5, "c": 3.0}
    assert counts.n_kept(105, 0.9) == 11 and counts.n_kept(22, 0.8) == 4 and counts.n_kept(226, 0.8) == 45


def test_uniform_counts_properties_on_random_cases():
    bound = 0
    for sizes, sparsity, minimum in random_cases():
        kept = uniform_kept_per_layer(sizes, sparsity, minimum)
        m = max(1, minimum)
        assert list(kept) == list(sizes)
        assert sum(kept.values()) == counts.n_kept(sum(sizes.values()), sparsity), (sizes, sparsity)
        assert all(m <= kept[k] <= sizes[k] for k in sizes), (sizes, sparsity, minimum, kept)
        q = quotas(sizes, sparsity)
        if all(v >= m for v in q.values()):
            # floor does not bind: every count is its quota rounded down or up ...
            assert all(math.floor(q[k]) <= kept[k] <= math.ceil(q[k]) for k in sizes), (sizes, sparsity, kept)
            # ... and the ones rounded up have remainders at least as large as those rounded down
            up = [q[k] - math.floor(q[k]) for k in sizes if kept[k] > q[k]]
            down = [q[k] - math.floor(q[k]) for k in sizes if kept[k] < q[k]]
            assert not up or not down or min(up) >= max(down), (sizes, sparsity, kept)
        else:
            bound += 1
            # a layer whose quota is below the minimum keeps exactly the minimum
            assert all(kept[k] == m for k in sizes if q[k] < m), (sizes, sparsity, kept)
        # a strictly larger layer never keeps fewer channels
        assert all(kept[a] >= kept[b] for a in sizes for b in sizes if sizes[a] > sizes[b]), (sizes, kept)
    assert bound > 20  # the floor did bind in enough cases for the branch to be tested


def test_uniform_counts_when_the_floor_binds_share_the_rest_proportionally():
    # quotas 11 · (1, 1, 40, 80) / 122: the two small layers get 1 each, the other two share 9 as 40:80
    kept = uniform_kept_per_layer({"a": 1, "b": 1, "c": 40, "d": 80}, 1 - 11 / 122, 1)
    assert kept == {"a": 1, "b": 1, "c": 3, "d": 6}


def test_uniform_counts_infeasible_sparsity_raises():
    with pytest.raises(ValueError) as err:
        uniform_kept_per_layer({"a": 6, "b": 16}, 0.95, 0)  # 1 kept, 2 layers need one each
    assert "sparsity=0.95" in str(err.value) and "min_channels_per_layer=1" in str(err.value)
    with pytest.raises(ValueError, match="min_channels_per_layer=3"):
        uniform_kept_per_layer({"a": 6, "b": 16}, 0.8, 3)  # 4 kept < 3 · 2
    with pytest.raises(ValueError, match="min_channels_per_layer=7 exceeds"):
        uniform_kept_per_layer({"a": 6, "b": 16}, 0.1, 7)
    for bad in (1.0, -0.1, "0.5", None):
        with pytest.raises(ValueError, match="sparsity"):
            uniform_kept_per_layer({"a": 6}, bad, 1)


def test_select_per_layer_keeps_the_top_scores_of_each_layer():
    scores = {"a": torch.tensor([0.3, 0.1, 0.9, 0.5]), "b": torch.tensor([2.0, 2.0, 1.0])}
    mask = select_per_layer(scores, {"a": 2, "b": 1})
    assert mask.to_dict() == {"a": [0, 0, 1, 1], "b": [1, 0, 0]}  # tie in b: the first channel
    with pytest.raises(ValueError, match="exceeds"):
        select_per_layer(scores, {"a": 5, "b": 1})
    with pytest.raises(ValueError, match="layers"):
        select_per_layer(scores, {"b": 1, "a": 2})


# ------------------------------------------------------------------------------- the strategies

def test_uniform_strategies_are_registered_and_the_old_name_is_gone():
    names = strategies.names()
    assert {"uniform-l1", "uniform-random", "uniform-collapse-free"} <= set(names)
    assert "uniform" not in names
    with pytest.raises(ValueError) as err:
        strategies.prune(models.build("lenet5", seed=0), "uniform", 0.5, seed=0)
    message = str(err.value)
    assert message.startswith("unknown strategy 'uniform'; valid: ")
    assert all(name in message for name in ("uniform-l1", "uniform-random", "uniform-collapse-free"))


@pytest.mark.parametrize("strategy", UNIFORM)
@pytest.mark.parametrize("include_linear", [False, True])
@pytest.mark.parametrize("minimum", [0, 1, 2])
def test_exact_count_per_layer_counts_and_minimum(trained_lenet, strategy, include_linear, minimum):
    sizes = masks.layer_sizes(trained_lenet, include_linear=include_linear)
    n = sum(sizes.values())
    tested = 0
    for sparsity in SPARSITIES:
        if not counts.is_feasible(sizes, sparsity, max(1, minimum)):
            with pytest.raises(ValueError) as err:
                strategies.prune(trained_lenet, strategy, sparsity, seed=1, include_linear=include_linear,
                                 min_channels_per_layer=minimum)
            assert f"sparsity={sparsity}" in str(err.value)
            continue
        tested += 1
        mask = strategies.prune(trained_lenet, strategy, sparsity, seed=1, include_linear=include_linear,
                                min_channels_per_layer=minimum)
        assert list(mask) == list(sizes) and mask.sizes == sizes
        assert mask.n_pruned == round(sparsity * n), (strategy, sparsity)
        kept = mask.kept_per_layer()
        assert min(kept.values()) >= max(1, minimum), (sparsity, kept)
        assert kept == uniform_kept_per_layer(sizes, sparsity, minimum)
        q = quotas(sizes, sparsity)
        if all(v >= max(1, minimum) for v in q.values()):
            assert all(abs(kept[k] - q[k]) < 1 for k in sizes), (sparsity, kept, q)
    assert tested >= 15


@pytest.mark.parametrize("strategy", UNIFORM)
def test_every_layer_keeps_about_the_same_fraction(caffe, strategy):
    # lenet5-caffe: conv1 20, conv2 50 channels; at 50 % each keeps half (global L1 does not)
    mask = strategies.prune(caffe, strategy, 0.5, seed=0)
    assert mask.kept_per_layer() == {"conv1": 10, "conv2": 25}
    assert len(set(strategies.prune(caffe, "l1", 0.5, seed=0).layer_sparsity().values())) > 1


@pytest.mark.parametrize("strategy", UNIFORM)
def test_on_a_network_that_is_not_lenet(strategy):
    net = small_net(0)  # convs of 4, 8, 5 channels, then Linear 12
    for include_linear, layers in ((False, SMALL_CONVS), (True, SMALL_CONVS + ["head.1"])):
        sizes = masks.layer_sizes(net, include_linear=include_linear)
        assert list(sizes) == layers
        for sparsity in (0.3, 0.6, 0.8):
            mask = strategies.prune(net, strategy, sparsity, seed=0, include_linear=include_linear,
                                    min_channels_per_layer=1)
            assert list(mask) == layers and mask.n_pruned == round(sparsity * sum(sizes.values()))
            assert mask.collapsed_layers() == []


@pytest.mark.parametrize("include_linear", [False, True])
def test_uniform_l1_keeps_exactly_the_top_l1_channels_of_each_layer(trained_lenet, include_linear):
    names = list(masks.prunable_layers(trained_lenet, include_linear=include_linear))
    scores = mean_abs_weight(trained_lenet, names)
    assert all(len(set(s.tolist())) == len(s) for s in scores.values())  # no ties: the top set is unique
    for sparsity in SPARSITIES[1:19]:
        mask = strategies.prune(trained_lenet, "uniform-l1", sparsity, seed=0, include_linear=include_linear)
        for name in names:
            keep = mask[name]
            expected = torch.zeros_like(keep)
            expected[torch.argsort(scores[name], descending=True)[:int(keep.sum())]] = True
            assert torch.equal(keep, expected), (sparsity, name)
            if (~keep).any():
                assert scores[name][keep].min() > scores[name][~keep].max()


def test_uniform_l1_differs_from_global_l1(caffe):
    # same criterion, different selection: some channel kept by one is pruned by the other
    assert strategies.prune(caffe, "uniform-l1", 0.5, seed=0) != strategies.prune(caffe, "l1", 0.5, seed=0)


def test_uniform_l1_ignores_the_seed(trained_lenet):
    for include_linear in (False, True):
        a = strategies.prune(trained_lenet, "uniform-l1", 0.7, seed=0, include_linear=include_linear)
        assert all(strategies.prune(trained_lenet, "uniform-l1", 0.7, seed=s,
                                    include_linear=include_linear) == a
                   for s in (1, 2, 99))


def test_uniform_random_same_seed_same_mask_different_seed_different_mask(caffe):
    for include_linear in (False, True):
        for sparsity in (0.3, 0.5, 0.9):
            a = strategies.prune(caffe, "uniform-random", sparsity, seed=11, include_linear=include_linear)
            assert strategies.prune(caffe, "uniform-random", sparsity, seed=11,
                                    include_linear=include_linear) == a
            others = [strategies.prune(caffe, "uniform-random", sparsity, seed=s,
                                       include_linear=include_linear)
                      for s in (12, 13, 14)]
            assert all(o != a for o in others), sparsity
            assert all(o.kept_per_layer() == a.kept_per_layer() for o in others)


def test_uniform_random_uses_only_its_generator(trained_lenet):
    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    a = strategies.prune(trained_lenet, "uniform-random", 0.5, seed=3)
    assert torch.equal(torch.rand(4), expected)  # global state untouched
    torch.manual_seed(123)
    assert strategies.prune(trained_lenet, "uniform-random", 0.5, seed=3) == a  # and not read
    # the weights do not matter either
    x, y = models.build("lenet5", seed=0), models.build("lenet5", seed=1)
    assert all(strategies.prune(x, "uniform-random", 0.6, seed=s) == strategies.prune(y, "uniform-random",
                                                                                      0.6, seed=s)
               for s in range(3))


def test_uniform_random_is_uniform_within_each_layer(trained_lenet):
    # 50 %: conv1 keeps 3 of 6, conv2 8 of 16, every channel about half the time
    kept = torch.stack([strategies.prune(trained_lenet, "uniform-random", 0.5, seed=s).to_vector()
                        for s in range(300)]).float()
    assert torch.equal(kept[:, :6].sum(1), torch.full((300,), 3.0))
    freq = kept.mean(0)
    assert freq.min() > 0.38 and freq.max() < 0.62
    assert len({tuple(row.tolist()) for row in kept}) > 250  # many different masks


@pytest.mark.parametrize("strategy", UNIFORM)
@pytest.mark.parametrize("include_linear", [False, True])
def test_method_prune_equals_strategies_prune(trained_lenet, strategy, include_linear):
    method = Method(strategy, (), 1, include_linear)
    assert method.name == f"{strategy}-min1" and method.label == f"{strategy}, min 1/layer"
    for sparsity in (0.3, 0.8):
        for seed in (0, 1):
            assert method.prune(trained_lenet, sparsity, seed=seed) == strategies.prune(
                trained_lenet, strategy, sparsity, seed=seed, min_channels_per_layer=1,
                include_linear=include_linear)


@pytest.mark.parametrize("strategy", UNIFORM)
def test_uniform_strategies_have_no_options(trained_lenet, strategy):
    with pytest.raises(ValueError, match=f"strategy {strategy!r} has no option\\(s\\) \\['temperature'\\]; "
                                         f"its options: none"):
        strategies.prune(trained_lenet, strategy, 0.5, seed=0, temperature=1.0)
