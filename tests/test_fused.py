"""prunegan.pruning.fused: K masks of one network retrained together equal K one-by-one retrainings.

The tolerance is on the retrained *weights* of every mask (``WEIGHT_ATOL``, after one epoch): the
grouped kernels add in another order, which moves a weight by ~1e-7; a padded channel that leaked
into a real one, or two masks that shared a parameter, moves weights by ~1e-2 (the last test shows
the check fails then). Accuracies must then agree within ``ACC_TOL`` (one test image in 300).
"""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from toy_nets import small_net

from prunegan import models, train
from prunegan.core.masks import ChannelMask, layer_sizes
from prunegan.pruning import engine, fused, strategies, surgery

RETRAIN = train.TrainConfig(epochs=1, batch_size=64, lr=1e-3, seed=5, device="cpu")
WEIGHT_ATOL = 1e-5
ACC_TOL = 1 / 300 + 1e-9


@pytest.fixture(scope="module")
def data(small_data):
    return small_data  # 1,000 training and 300 test images


def _random(model, sparsity, seed, include_linear=False):
    return strategies.prune(model, "random", sparsity, seed=seed, min_channels_per_layer=1,
                            include_linear=include_linear)


def _keep_whole(model, layer, sparsity_elsewhere_seed=0):
    """Every channel of ``layer`` kept, half of every other conv layer (by a seeded draw)."""
    gen = torch.Generator().manual_seed(sparsity_elsewhere_seed)
    out = {}
    for name, n in layer_sizes(model).items():
        keep = torch.ones(n, dtype=torch.bool) if name == layer else torch.randperm(n, generator=gen) < n // 2
        out[name] = keep
    return ChannelMask(out)


def _one_by_one(model, masks, data, retrain=RETRAIN):
    """Each mask's retrained compact network's parameters and its engine row, one mask at a time."""
    weights, rows = [], []
    for m in masks:
        net = engine.retrained(model, m, data, retrain)
        weights.append({k: v.detach().contiguous() for k, v in net.state_dict().items()})
        rows.append(engine.evaluate_mask(model, m, data, retrain))
    return weights, rows


def _fused_weights(model, masks, data, retrain=RETRAIN, tamper=None):
    net = fused.FusedLeNet5([surgery.compact(model, m) for m in masks]).to(memory_format=torch.channels_last)
    if tamper is not None:
        tamper(net)
    torch.set_num_threads(1)
    fused.fit(net, data, retrain)
    return [net.unfused(i) for i in range(len(masks))]


def _max_weight_gap(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].shape == b[k].shape, k
    return max((a[k] - b[k]).abs().max().item() for k in a)


def _assert_same_training(model, masks, data):
    expected_w, expected_rows = _one_by_one(model, masks, data)
    got_w = _fused_weights(model, masks, data)
    for i in range(len(masks)):
        assert _max_weight_gap(got_w[i], expected_w[i]) < WEIGHT_ATOL, f"mask {i}"
    rows = fused.evaluate_group(model, masks, data, RETRAIN)
    for row, exp in zip(rows, expected_rows):
        assert abs(row["pruned_acc"] - exp["pruned_acc"]) < 1e-12  # before training: the same network
        assert abs(row["retrained_acc"] - exp["retrained_acc"]) <= ACC_TOL
        assert (row["macs"], row["params"]) == (exp["macs"], exp["params"])
    return rows


def test_conv_masks_of_different_widths_in_one_group(trained_lenet, data):
    masks = [_random(trained_lenet, s, seed) for seed, s in enumerate((0.5, 0.9, 0.7, 0.8))]
    assert len({tuple(m.kept_per_layer().values()) for m in masks}) == 4  # four different widths
    before = {k: v.clone() for k, v in trained_lenet.state_dict().items()}
    rows = _assert_same_training(trained_lenet, masks, data)
    assert len({r["retrained_acc"] for r in rows}) > 1  # four different networks, not one copied
    assert all(torch.equal(before[k], v) for k, v in trained_lenet.state_dict().items())  # model untouched


def test_conv_and_linear_masks(trained_lenet, data):
    masks = [_random(trained_lenet, s, seed, include_linear=True) for seed, s in enumerate((0.6, 0.85, 0.75))]
    sizes = layer_sizes(trained_lenet, include_linear=True)
    assert all(m.kept_per_layer()["fc1"] < sizes["fc1"] for m in masks)
    _assert_same_training(trained_lenet, masks, data)


def test_lenet5_caffe(data):
    model = models.build("lenet5-caffe", seed=1)
    train.fit(model, data.subset(300, 100), train.TrainConfig(epochs=1, seed=1, device="cpu"),
              eval_every_epoch=False)
    masks = [_random(model, s, seed) for seed, s in enumerate((0.7, 0.9, 0.8))]
    assert all(fused.fusable(model, m) for m in masks)
    _assert_same_training(model, masks, data)


def test_a_mask_that_keeps_a_whole_layer(trained_lenet, data):
    masks = [_keep_whole(trained_lenet, "conv1"), _keep_whole(trained_lenet, "conv2", 1),
             _random(trained_lenet, 0.9, 3)]
    assert masks[0].kept_per_layer()["conv1"] == layer_sizes(trained_lenet)["conv1"]
    _assert_same_training(trained_lenet, masks, data)


def test_the_check_fails_when_a_padded_channel_leaks(trained_lenet, data):
    """The tolerance is tight enough to catch a leak: a narrow network's padded conv1 channel given a
    non-zero weight feeds conv2 and moves that network's real weights far beyond WEIGHT_ATOL."""
    masks = [_random(trained_lenet, 0.9, 0), _random(trained_lenet, 0.5, 1)]
    narrow = min(range(2), key=lambda i: masks[i].kept_per_layer()["conv1"])
    width = masks[narrow].kept_per_layer()["conv1"]
    c1 = max(m.kept_per_layer()["conv1"] for m in masks)
    assert width < c1

    def leak(net):
        with torch.no_grad():
            net.w1[narrow * c1 + width].fill_(0.3)  # a padded output channel of the narrow network
            w2 = net.w2.view(net.k, net.c2, *net.w2.shape[1:])
            w2[narrow, :, width].fill_(0.3)  # ... that its conv2 reads

    expected_w, _ = _one_by_one(trained_lenet, masks, data)
    leaked = _fused_weights(trained_lenet, masks, data, tamper=leak)
    assert _max_weight_gap(leaked[narrow], expected_w[narrow]) > 100 * WEIGHT_ATOL
    clean = _fused_weights(trained_lenet, masks, data)
    assert _max_weight_gap(clean[narrow], expected_w[narrow]) < WEIGHT_ATOL


def test_groups_by_config_and_width_in_stable_fixed_size_cuts(trained_lenet):
    masks = [_random(trained_lenet, s, seed) for seed, s in enumerate((0.5, 0.9, 0.7, 0.9, 0.8, 0.6, 0.9))]
    other = dataclasses.replace(RETRAIN, seed=6)
    configs = [RETRAIN] * 5 + [other, other]
    groups = fused.groups(trained_lenet, masks, configs, "compact", size=2)
    assert sorted(i for g in groups for i in g) == list(range(7))  # every mask once
    for g in groups:
        assert len(g) <= 2 and len({configs[i] for i in g}) == 1
    width = [tuple(m.kept_per_layer().values()) for m in masks]
    first = [g for g in groups if configs[g[0]] == RETRAIN]
    order = [i for g in first for i in g]
    assert [width[i] for i in order] == sorted(width[i] for i in range(5))  # narrow with narrow
    assert [len(g) for g in first] == [2, 2, 1]
    # removing whole groups (a resumed run's cache) leaves the others as they were
    kept = [i for g in groups if g != first[0] for i in g]
    regrouped = fused.groups(trained_lenet, [masks[i] for i in kept], [configs[i] for i in kept], "compact",
                             size=2)
    assert sorted([kept[i] for i in g] for g in regrouped) == sorted(g for g in groups if g != first[0])


def test_what_cannot_be_fused_is_evaluated_alone_and_exactly_as_before(trained_lenet, data):
    collapsed = strategies.prune(trained_lenet, "l1", 0.9, seed=0)
    assert collapsed.collapsed_layers()  # L1 at 90 % empties conv1 of this network
    fine = [_random(trained_lenet, 0.8, 1), _random(trained_lenet, 0.8, 2)]
    assert not fused.fusable(trained_lenet, collapsed)
    assert not fused.fusable(trained_lenet, fine[0], "masked")
    masks = [fine[0], collapsed, fine[1]]
    assert sorted(map(sorted, engine.groups(trained_lenet, masks, [RETRAIN] * 3))) == [[0, 2], [1]]
    assert engine.groups(trained_lenet, masks, [RETRAIN] * 3, form="masked") == [[0], [1], [2]]
    rows = engine.evaluate_masks(trained_lenet, masks, data, RETRAIN, workers=1)
    alone = engine.evaluate_mask(trained_lenet, collapsed, data, RETRAIN)
    assert {k: rows[1][k] for k in ("pruned_acc", "retrained_acc", "macs")} == \
        {k: alone[k] for k in ("pruned_acc", "retrained_acc", "macs")}
    # another architecture: never fused
    toy = small_net()
    toy_masks = [ChannelMask.full(toy), ChannelMask.full(toy)]
    assert not fused.fusable(toy, toy_masks[0])
    assert engine.groups(toy, toy_masks, [RETRAIN] * 2) == [[0], [1]]


def test_a_group_refuses_what_it_cannot_fuse(trained_lenet, data):
    masks = [_random(trained_lenet, 0.8, 1), _random(trained_lenet, 0.8, 2)]
    with pytest.raises(ValueError, match="share one retraining config"):
        engine.evaluate_group(trained_lenet, masks, data, [RETRAIN, dataclasses.replace(RETRAIN, seed=9)])
    with pytest.raises(ValueError, match="at least one network"):
        fused.FusedLeNet5([])


def test_evaluate_masks_fuses_and_stays_close_to_one_by_one(trained_lenet, data):
    masks = [_random(trained_lenet, s, seed) for seed, s in enumerate((0.8, 0.9) * 4)]
    rows = engine.evaluate_masks(trained_lenet, masks, data, RETRAIN, workers=1)
    pooled = engine.evaluate_masks(trained_lenet, masks, data, RETRAIN, workers=2)
    keys = ("pruned_acc", "retrained_acc", "retrained_val_acc", "macs", "params")
    # bit-identical whatever the workers
    assert [{k: r[k] for k in keys} for r in rows] == [{k: r[k] for k in keys} for r in pooled]
    for m, row in zip(masks, rows):
        alone = engine.evaluate_mask(trained_lenet, m, data, RETRAIN)
        assert abs(row["retrained_acc"] - alone["retrained_acc"]) <= ACC_TOL


# ------------------------------------------------------------- the grouped convolution's input gradient
def test_the_native_input_gradient_is_used_on_the_cpu_from_two_channels_per_mask():
    cpu = torch.device("cpu")
    threshold = fused.NATIVE_INPUT_GRAD_CHANNELS
    assert threshold == 2
    assert not fused.native_input_grad(cpu, threshold - 1)
    assert fused.native_input_grad(cpu, threshold) and fused.native_input_grad(cpu, threshold + 4)
    assert not fused.native_input_grad(torch.device("cuda"), threshold)  # CUDA keeps its own kernels


@pytest.mark.parametrize("k, c1, c2", [(3, 2, 3), (4, 3, 5), (2, 1, 4)])
def test_the_grouped_convolution_has_autograds_gradients(k, c1, c2):
    """Input, weight and bias gradients of the custom backward equal autograd's of ``F.conv2d``
    within float rounding (a missing flip or a per-group transpose mixed up moves them by ~1)."""
    gen = torch.Generator().manual_seed(k * 100 + c1 * 10 + c2)
    z0 = torch.randn(5, k * c1, 14, 14, generator=gen).contiguous(memory_format=torch.channels_last)
    w0 = torch.randn(k * c2, c1, 5, 5, generator=gen).contiguous(memory_format=torch.channels_last)
    b0 = torch.randn(k * c2, generator=gen)
    g = torch.randn(5, k * c2, 10, 10, generator=gen)
    grads = []
    for conv in (lambda z, w, b: F.conv2d(z, w, b, groups=k),
                 lambda z, w, b: fused._GroupedConv.apply(z, w, b, k)):
        z, w, b = (t.clone().requires_grad_() for t in (z0, w0, b0))
        out = conv(z, w, b)
        out.backward(g)
        grads.append((out.detach(), z.grad, w.grad, b.grad))
    for expected, got in zip(*grads):
        assert torch.allclose(got, expected, atol=1e-4, rtol=1e-5)


def test_the_fused_network_takes_the_native_input_gradient_only_where_the_rule_says(trained_lenet):
    def conv2_node(net):
        x = torch.zeros(2, 1, 28, 28)
        node = net(x).grad_fn
        names = set()
        stack = [node]
        while stack:
            n = stack.pop()
            if n is not None:
                names.add(type(n).__name__)
                stack.extend(f for f, _ in n.next_functions)
        return names

    narrow = [surgery.compact(trained_lenet, _random(trained_lenet, 0.9, s)) for s in range(2)]
    wide = [surgery.compact(trained_lenet, _random(trained_lenet, 0.5, s)) for s in range(2)]
    assert max(n.conv1.out_channels for n in narrow) == 1 and min(n.conv1.out_channels for n in wide) >= 2
    assert "_GroupedConvBackward" not in conv2_node(fused.FusedLeNet5(narrow))
    assert "_GroupedConvBackward" in conv2_node(fused.FusedLeNet5(wide))
