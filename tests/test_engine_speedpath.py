"""prunegan.engine's speed settings change how fast masks are evaluated, never what comes out:
one thread (restored afterwards), channels_last weights, worker processes for many masks."""
from __future__ import annotations

import copy

import pytest
import torch

from prunegan import engine, masks, strategies, train

RETRAIN = train.TrainConfig(epochs=1, batch_size=32, lr=1e-3, seed=3, device="cpu")


@pytest.fixture(scope="module")
def few(small_data):
    return small_data.subset(256, 200)


@pytest.fixture(scope="module")
def some_masks(trained_lenet):
    return [strategies.prune(trained_lenet, "l1", 0.3, seed=0),
            strategies.prune(trained_lenet, "random", 0.6, seed=1),
            strategies.prune(trained_lenet, "random", 0.9, seed=2)]


def test_cpu_threads_sets_and_restores():
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    with engine.cpu_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="boom"), engine.cpu_threads(other):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with engine.cpu_threads(None):
        assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_cpu_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="threads") as err:
        with engine.cpu_threads(bad):
            pass
    assert repr(bad) in str(err.value)


def test_evaluate_mask_leaves_the_thread_setting_alone(trained_lenet, few, some_masks):
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    torch.set_num_threads(other)
    try:
        engine.evaluate_mask(trained_lenet, some_masks[0], few, RETRAIN)
        assert torch.get_num_threads() == other
    finally:
        torch.set_num_threads(before)


def test_fast_layout_changes_speed_not_results(trained_lenet, few, some_masks):
    # The engine retrains with channels_last weights; plain (contiguous) retraining of the same
    # compact network with the same seed ends at the same network up to rounding.
    mask = some_masks[1]
    fast = engine.retrained(trained_lenet, mask, few, RETRAIN)
    # (conv1 has one input channel, where both layouts coincide; conv2 tells them apart)
    assert fast.conv2.weight.is_contiguous(memory_format=torch.channels_last)
    assert not fast.conv2.weight.is_contiguous()  # the fast path really was taken
    plain = masks.compact(trained_lenet, mask)
    train.fit(plain, few, RETRAIN, eval_every_epoch=False)
    assert plain.conv2.weight.is_contiguous()
    with torch.no_grad():
        torch.testing.assert_close(fast(few.x_test), plain(few.x_test), atol=1e-4, rtol=1e-4)


def test_worker_processes_give_the_same_rows_as_one_process(trained_lenet, few, some_masks):
    configs = [RETRAIN, RETRAIN, train.TrainConfig(epochs=1, batch_size=32, seed=7, device="cpu")]
    serial = [engine.evaluate_mask(trained_lenet, m, few, c) for m, c in zip(some_masks, configs)]
    seen = []
    parallel = engine.evaluate_masks(trained_lenet, some_masks, few, configs, workers=2,
                                     on_result=lambda i, row: seen.append(i))
    assert sorted(seen) == [0, 1, 2]
    key = ("pruned_acc", "retrained_acc", "macs", "params")
    assert [tuple(r[k] for k in key) for r in parallel] == [tuple(r[k] for k in key) for r in serial]
    assert all(r["seconds"] > 0 for r in parallel)


def test_evaluate_masks_in_one_process(trained_lenet, few, some_masks):
    rows = engine.evaluate_masks(trained_lenet, some_masks[:2], few, RETRAIN, workers=1)
    assert [r["retrained_acc"] for r in rows] == [
        engine.evaluate_mask(trained_lenet, m, few, RETRAIN)["retrained_acc"] for m in some_masks[:2]]


def test_evaluate_masks_bad_input(trained_lenet, few, some_masks):
    with pytest.raises(ValueError, match="3 masks but 2 retrain configs"):
        engine.evaluate_masks(trained_lenet, some_masks, few, [RETRAIN, RETRAIN])
    with pytest.raises(ValueError, match="workers must be .* got 0"):
        engine.evaluate_masks(trained_lenet, some_masks, few, RETRAIN, workers=0)
    with pytest.raises(ValueError, match="'dense'"):
        engine.evaluate_masks(trained_lenet, some_masks, few, RETRAIN, form="dense")
    with pytest.raises(ValueError, match="does not match"):
        wrong = masks.ChannelMask({"conv1": torch.ones(3, dtype=torch.bool)})
        engine.evaluate_masks(trained_lenet, [wrong], few, RETRAIN)
    assert engine.evaluate_masks(trained_lenet, [], few, RETRAIN) == []


def test_default_retrain_is_the_documented_setting():
    cfg = engine.DEFAULT_RETRAIN
    assert isinstance(cfg, train.TrainConfig)
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.optimizer) == (3, 64, 1e-3, "adam")


def test_the_trained_model_is_not_changed(trained_lenet, few, some_masks):
    before = copy.deepcopy(trained_lenet.state_dict())
    engine.evaluate_masks(trained_lenet, some_masks[:2], few, RETRAIN, workers=2)
    after = trained_lenet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert trained_lenet.conv2.weight.is_contiguous()
