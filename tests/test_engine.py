"""prunegan.pruning.engine: prune → evaluate → retrain → evaluate, compact and masked forms; the speed
settings (one thread, restored afterwards; channels_last weights; worker processes for many masks)
change how fast masks are evaluated, never what comes out."""
from __future__ import annotations

import copy
import os

import pytest
import torch

from prunegan import models, train
from prunegan.core.masks import ChannelMask
from prunegan.pruning import engine, strategies, surgery

RETRAIN = train.TrainConfig(epochs=1, batch_size=32, lr=1e-3, seed=3, device="cpu")


@pytest.fixture(scope="module")
def few(small_data):
    return small_data.subset(256, 200)


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _mask(model, case):
    if case == "l1-50":
        return strategies.prune(model, "l1", 0.5, seed=0)
    if case == "random-90-collapsed":
        mask = strategies.prune(model, "random", 0.9, seed=0)
        assert mask.collapsed_layers()
        return mask
    if case == "linear-70":
        return strategies.prune(model, "random", 0.7, seed=2, include_linear=True)
    raise KeyError(case)


# ------------------------------------------------------------------------------------ one mask

@pytest.mark.parametrize("case", ["l1-50", "random-90-collapsed", "linear-70"])
def test_masked_and_compact_retraining_agree(trained_lenet, few, case):
    mask = _mask(trained_lenet, case)
    dense = engine.retrained(trained_lenet, mask, few, RETRAIN, form="masked")
    small = engine.retrained(trained_lenet, mask, few, RETRAIN, form="compact")
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in dense.parameters())
    with torch.no_grad():
        pruned = surgery.apply(trained_lenet, mask)(few.x_test)
        a, b = dense(few.x_test), small(few.x_test)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(a, pruned, atol=1e-3)  # retraining really changed the network
    assert (a.argmax(1) == b.argmax(1)).float().mean() >= 0.99


def test_evaluate_mask_forms_agree(trained_lenet, few):
    mask = _mask(trained_lenet, "l1-50")
    c = engine.evaluate_mask(trained_lenet, mask, few, RETRAIN, form="compact")
    m = engine.evaluate_mask(trained_lenet, mask, few, RETRAIN, form="masked")
    assert c["pruned_acc"] == m["pruned_acc"]
    assert c["retrained_acc"] == pytest.approx(m["retrained_acc"], abs=1 / len(few.y_test))
    assert (c["macs"], c["params"]) == (m["macs"], m["params"])


def test_evaluate_mask_returns_sane_values(trained_lenet, few):
    before = state(trained_lenet)
    original = train.evaluate(trained_lenet, few)
    rows = {s: engine.evaluate_mask(trained_lenet, strategies.prune(trained_lenet, "l1", s, seed=0),
                                    few, RETRAIN)
            for s in (0.0, 0.3, 0.7)}
    for s, row in rows.items():
        assert set(row) == {"pruned_acc", "retrained_acc", "retrained_val_acc", "macs", "params", "seconds"}
        assert row["retrained_val_acc"] is None  # ``few`` has no validation split
        assert 0.0 <= row["pruned_acc"] <= 1.0 and 0.0 <= row["retrained_acc"] <= 1.0
        assert isinstance(row["macs"], int) and isinstance(row["params"], int)
        assert row["seconds"] > 0
    assert rows[0.0]["pruned_acc"] == original
    assert (rows[0.0]["macs"], rows[0.0]["params"]) == surgery.count(trained_lenet)
    assert rows[0.0]["params"] == 61_706
    assert rows[0.3]["macs"] < rows[0.0]["macs"] and rows[0.7]["macs"] < rows[0.3]["macs"]
    assert rows[0.3]["params"] < rows[0.0]["params"] and rows[0.7]["params"] < rows[0.3]["params"]
    assert rows[0.7]["retrained_acc"] > 0.2  # retraining recovers far above chance
    # the trained model is left as it was
    after = state(trained_lenet)
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)


def test_evaluate_mask_matches_independent_computation(trained_lenet, few):
    mask = _mask(trained_lenet, "random-90-collapsed")
    row = engine.evaluate_mask(trained_lenet, mask, few, RETRAIN)
    assert row["pruned_acc"] == train.evaluate(surgery.apply(trained_lenet, mask), few)
    assert (row["macs"], row["params"]) == surgery.count(surgery.compact(trained_lenet, mask))
    net = engine.retrained(trained_lenet, mask, few, RETRAIN)
    assert row["retrained_acc"] == train.evaluate(net, few)


def test_evaluate_mask_reports_the_validation_split_and_never_retrains_on_it(trained_lenet, small_data):
    few = small_data.subset(320, 200)
    with_val = few.with_validation(64)
    mask = _mask(trained_lenet, "l1-50")
    row = engine.evaluate_mask(trained_lenet, mask, with_val, RETRAIN)
    net = engine.retrained(trained_lenet, mask, with_val, RETRAIN)
    assert row["retrained_val_acc"] == train.evaluate(net, with_val, split="val")
    assert row["retrained_acc"] == train.evaluate(net, with_val)
    # retraining reads the 256 training images only: the same as a data set that never had the 64
    alone = few.subset(256, 200)
    assert row["retrained_acc"] == engine.evaluate_mask(trained_lenet, mask, alone, RETRAIN)["retrained_acc"]


def test_zero_epochs_retrain_keeps_pruned_accuracy(trained_lenet, few):
    mask = _mask(trained_lenet, "l1-50")
    row = engine.evaluate_mask(trained_lenet, mask, few, train.TrainConfig(epochs=0, device="cpu"))
    assert row["retrained_acc"] == row["pruned_acc"]


def test_collapsed_network_outputs_a_constant(trained_lenet, few):
    # A network with a collapsed conv layer outputs a constant: accuracy is one class's share.
    mask = ChannelMask({"conv1": torch.ones(6, dtype=torch.bool), "conv2": torch.zeros(16, dtype=torch.bool)})
    net = engine.pruned_network(trained_lenet, mask, "masked")
    with torch.no_grad():
        logits = net(few.x_test)
    assert torch.allclose(logits, logits[:1].expand_as(logits))
    shares = few.y_test.bincount(minlength=10).float() / len(few.y_test)
    assert train.evaluate(net, few) == pytest.approx(float(shares[logits[0].argmax()]))


def test_pruned_network_forms(trained_lenet):
    mask = _mask(trained_lenet, "l1-50")
    small = engine.pruned_network(trained_lenet, mask, "compact")
    dense = engine.pruned_network(trained_lenet, mask, "masked")
    assert small.conv1.out_channels == mask.kept_per_layer()["conv1"]
    assert dense.conv1.out_channels == 6
    assert engine.pruned_network(trained_lenet, mask).conv2.out_channels == mask.kept_per_layer()["conv2"]


@pytest.mark.parametrize("bad", ["dense", "", None, "Compact"])
def test_bad_form_raises(trained_lenet, few, bad):
    mask = _mask(trained_lenet, "l1-50")
    with pytest.raises(ValueError, match="compact") as err:
        engine.pruned_network(trained_lenet, mask, bad)
    assert repr(bad) in str(err.value)
    with pytest.raises(ValueError):
        engine.evaluate_mask(trained_lenet, mask, few, RETRAIN, form=bad)


def test_mask_of_another_model_raises(trained_lenet, few):
    mask = strategies.prune(models.build("lenet5-caffe"), "l1", 0.5, seed=0)
    with pytest.raises(ValueError, match="does not match"):
        engine.evaluate_mask(trained_lenet, mask, few, RETRAIN)


def test_default_retrain_is_the_documented_setting():
    cfg = engine.DEFAULT_RETRAIN
    assert isinstance(cfg, train.TrainConfig)
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.optimizer) == (3, 64, 1e-3, "adam")


# ---------------------------------------------------------------------------------- speed settings

def test_evaluate_mask_leaves_the_thread_setting_alone(trained_lenet, few):
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    torch.set_num_threads(other)
    try:
        engine.evaluate_mask(trained_lenet, _mask(trained_lenet, "l1-50"), few, RETRAIN)
        assert torch.get_num_threads() == other
    finally:
        torch.set_num_threads(before)


def test_fast_layout_changes_speed_not_results(trained_lenet, few):
    # The engine retrains with channels_last weights; plain (contiguous) retraining of the same
    # compact network with the same seed ends at the same network up to rounding.
    mask = strategies.prune(trained_lenet, "random", 0.6, seed=1)
    fast = engine.retrained(trained_lenet, mask, few, RETRAIN)
    # (conv1 has one input channel, where both layouts coincide; conv2 tells them apart)
    assert fast.conv2.weight.is_contiguous(memory_format=torch.channels_last)
    assert not fast.conv2.weight.is_contiguous()  # the fast path really was taken
    plain = surgery.compact(trained_lenet, mask)
    train.fit(plain, few, RETRAIN, eval_every_epoch=False)
    assert plain.conv2.weight.is_contiguous()
    with torch.no_grad():
        torch.testing.assert_close(fast(few.x_test), plain(few.x_test), atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------------------------ many masks

def _without_seconds(row):
    return {k: v for k, v in row.items() if k != "seconds"}


def test_evaluate_masks_equals_evaluate_mask_whatever_the_workers(trained_lenet, small_data):
    # Masks travel to the worker processes pickled (as ChannelMask objects), the model copied once.
    data = small_data.subset(96, 100)
    mask_list = [strategies.prune(trained_lenet, "l1", 0.3, seed=0),
                 strategies.prune(trained_lenet, "random", 0.6, seed=1),
                 strategies.prune(trained_lenet, "random", 0.9, seed=2)]
    configs = [train.TrainConfig(epochs=1, batch_size=32, seed=s, device="cpu") for s in (3, 3, 7)]
    one_by_one = [engine.evaluate_mask(trained_lenet, m, data, c) for m, c in zip(mask_list, configs)]
    expected = [_without_seconds(r) for r in one_by_one]
    assert len({r["retrained_acc"] for r in expected}) > 1  # the masks give different rows
    before = copy.deepcopy(trained_lenet.state_dict())

    here_seen, pooled_seen = [], []
    here = engine.evaluate_masks(trained_lenet, mask_list, data, configs, workers=1,
                                 on_result=lambda i, row: here_seen.append((i, _without_seconds(row))))
    pooled = engine.evaluate_masks(trained_lenet, mask_list, data, configs, workers=2,
                                   on_result=lambda i, row: pooled_seen.append((i, _without_seconds(row))))
    assert [_without_seconds(r) for r in here] == expected
    assert [_without_seconds(r) for r in pooled] == expected
    assert all(r["seconds"] > 0 for r in here + pooled)
    # on_result gets every row once, with its index
    assert sorted(here_seen, key=lambda t: t[0]) == list(enumerate(expected))
    assert sorted(pooled_seen, key=lambda t: t[0]) == list(enumerate(expected))
    # one config for all masks
    shared = engine.evaluate_masks(trained_lenet, mask_list[:2], data, configs[0], workers=1)
    assert [_without_seconds(r) for r in shared] == expected[:2]
    # the trained model is not changed (nor its layout) by the workers
    after = trained_lenet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert trained_lenet.conv2.weight.is_contiguous()


def test_evaluate_masks_bad_input(trained_lenet, few):
    mask_list = [strategies.prune(trained_lenet, "l1", 0.5, seed=0)] * 2
    with pytest.raises(ValueError, match="got 2 masks but 3 retrain configs"):
        engine.evaluate_masks(trained_lenet, mask_list, few, [RETRAIN] * 3)
    with pytest.raises(ValueError, match="form must be one of .* got 'dense'"):
        engine.evaluate_masks(trained_lenet, mask_list, few, RETRAIN, form="dense")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers must be .*") as err:
            engine.evaluate_masks(trained_lenet, mask_list, few, RETRAIN, workers=bad)
        assert str(err.value).endswith(f"got {bad!r}")
    wrong = strategies.prune(models.build("lenet5-caffe"), "l1", 0.5, seed=0)
    with pytest.raises(ValueError, match="does not match"):
        engine.evaluate_masks(trained_lenet, [mask_list[0], wrong], few, RETRAIN, workers=1)
    partial = ChannelMask({"conv1": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="does not match"):
        engine.evaluate_masks(trained_lenet, [partial], few, RETRAIN)
    assert engine.evaluate_masks(trained_lenet, [], few, RETRAIN) == []


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
def test_default_workers_is_the_usable_cores():
    assert engine.default_workers() == len(os.sched_getaffinity(0)) >= 1
