"""Baseline, sweeps and trials: what the masks are (seeds, nesting), caching, resume, validation."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from prunegan.pruning import engine, strategies
from prunegan.pruning.executors import Execution
from prunegan.pruning.strategies import Method
from prunegan.runs import baseline as baseline_mod
from prunegan.runs import runner, sweep
from prunegan.train import TrainConfig

QUIET = Execution(progress=False)

BASE = baseline_mod.BaselineConfig(n_train=300, n_test=200, train=TrainConfig(epochs=1, device="cpu"))
RETRAIN = TrainConfig(epochs=1, device="cpu")


def _sweep(method=Method("random"), **kw) -> sweep.SweepConfig:
    args = dict(baseline=BASE, method=method, sparsities=(0.0, 0.5, 0.9), trials=2, retrain=RETRAIN)
    return sweep.SweepConfig(**{**args, **kw})


def _masks(df):
    return [tuple(tuple(v) for v in m.values()) for m in df["mask"]]


def test_baseline_is_cached_and_reloaded_with_equal_weights():
    first = baseline_mod.baseline(BASE, progress=False)
    assert first.run.exists("model.pt") and len(first.history) == 1
    second = baseline_mod.baseline(BASE, progress=False)
    assert second.accuracy == first.accuracy
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)


def test_sweep_rows_are_tidy_and_exact():
    df = sweep.sweep(_sweep(), execution=QUIET)
    assert len(df) == 6 and df["trial"].tolist() == [0, 0, 0, 1, 1, 1]
    assert set(df["method"]) == {"random"} and set(df["label"]) == {"random"}
    assert (df["n_pruned"] == (df["sparsity"] * 22).round().astype(int)).all()
    assert df[["pruned_acc", "retrained_acc", "original_acc"]].apply(lambda c: c.between(0, 1)).all().all()
    dense = df[df["sparsity"] == 0.0]
    assert (dense["macs_kept"] == 1.0).all() and (dense["pruned_acc"] == dense["original_acc"]).all()
    sparse = df[df["sparsity"] == 0.9]
    assert (sparse["macs_kept"] < 0.5).all() and (sparse["params_kept"] < 1).all()
    for _, row in df.iterrows():  # kept channels and collapsed layers agree with the stored mask
        assert row["kept"] == {k: sum(v) for k, v in row["mask"].items()}
        assert row["collapsed"] == any(sum(v) == 0 for v in row["mask"].values())


def test_trial_t_prunes_with_seed_plus_t_and_trials_differ():
    config = _sweep(sparsities=(0.5, 0.7, 0.9), trials=3, seed=5)
    df = sweep.sweep(config, execution=QUIET)
    base = baseline_mod.baseline(BASE, progress=False)
    for _, row in df.iterrows():
        expected = strategies.prune(base.model, "random", row["sparsity"], seed=5 + row["trial"])
        assert row["mask"] == expected.to_dict() and row["seed"] == 5 + row["trial"]
    at50 = df[df["sparsity"] == 0.5]
    assert len(set(_masks(at50))) == 3  # three trials, three different masks


def test_masks_are_nested_as_sparsity_grows():
    df = sweep.sweep(_sweep(sparsities=(0.0, 0.3, 0.5, 0.7, 0.9), trials=2), execution=QUIET)
    for _, trial in df.groupby("trial"):
        vectors = [torch.tensor([b for v in m.values() for b in v])
                   for m in trial.sort_values("sparsity")["mask"]]
        for looser, tighter in zip(vectors, vectors[1:]):
            assert bool((tighter <= looser).all()), "a channel pruned at a lower sparsity came back"
            assert int(tighter.sum()) < int(looser.sum())


def test_trial_t_retrains_with_retrain_seed_plus_t(monkeypatch):
    seen = []
    real = engine.evaluate_checked

    def spy(model, masks, data, retrain, **kw):
        seen.extend(c.seed for c in retrain)
        return real(model, masks, data, retrain, **kw)

    monkeypatch.setattr(runner, "evaluate_checked", spy)
    sweep.sweep(_sweep(sparsities=(0.5,), trials=3, retrain=replace(RETRAIN, seed=10)),
                execution=Execution(workers=1, progress=False))
    assert seen == [10, 11, 12]


def test_noisy_l1_at_temperature_zero_is_l1_and_a_temperature_changes_the_masks():
    cfg = dict(sparsities=(0.3, 0.5, 0.7), trials=2)
    l1 = sweep.sweep(_sweep(Method("l1"), **cfg), execution=QUIET)
    cold = sweep.sweep(_sweep(Method("noisy-l1", {"temperature": 0.0}), **cfg), execution=QUIET)
    hot = sweep.sweep(_sweep(Method("noisy-l1", {"temperature": 2.0}), **cfg), execution=QUIET)
    assert _masks(cold) == _masks(l1)
    assert _masks(hot) != _masks(l1)
    assert set(cold["temperature"]) == {0.0} and set(hot["method"]) == {"noisy-l1-T2"}


def _no_evaluation(*args, **kwargs):
    pytest.fail("recomputed a cached row")


def test_rerun_recomputes_nothing(monkeypatch):
    config = _sweep()
    first = sweep.sweep(config, execution=QUIET)
    monkeypatch.setattr(runner, "evaluate_checked", _no_evaluation)
    again = sweep.sweep(config, execution=QUIET)
    assert again.equals(first)


def test_trials_share_rows_with_the_sweep(monkeypatch):
    config = _sweep()
    whole = sweep.sweep(config, execution=QUIET)
    monkeypatch.setattr(runner, "evaluate_checked", _no_evaluation)
    trials = sweep.trials(config, 0.9, 2, execution=QUIET)
    assert trials["retrained_acc"].tolist() == whole[whole["sparsity"] == 0.9]["retrained_acc"].tolist()


def test_same_config_same_numbers_in_a_fresh_cache(tmp_path, monkeypatch):
    config = _sweep(Method("noisy-l1"), trials=1)
    first = sweep.sweep(config, execution=QUIET)
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "other"))
    second = sweep.sweep(config, execution=QUIET)
    assert first["mask"].tolist() == second["mask"].tolist()
    assert first["retrained_acc"].tolist() == second["retrained_acc"].tolist()


def test_min_channels_per_layer_prevents_collapse():
    df = sweep.sweep(_sweep(Method("random", min_channels_per_layer=1), sparsities=(0.9,), trials=3),
                     execution=QUIET)
    assert not df["collapsed"].any()
    without = sweep.sweep(_sweep(sparsities=(0.9,), trials=3), execution=QUIET)
    assert without["collapsed"].any()  # the same seeds do collapse without the minimum


@pytest.mark.parametrize("kwargs, match", [
    ({"sparsities": (0.5, 1.0)}, "1.0"),
    ({"sparsities": (-0.1,)}, "-0.1"),
    ({"sparsities": ("half",)}, "half"),
    ({"sparsities": ()}, "empty"),
    ({"trials": 0}, "trials"),
    ({"method": "random"}, "Method"),
    ({"method": Method("random", min_channels_per_layer=2), "sparsities": (0.9,)},
     "min_channels_per_layer=2"),
    ({"method": Method("random", min_channels_per_layer=7)}, "exceeds the size"),
])
def test_bad_sweep_config_raises_early(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _sweep(**kwargs)


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown strategy .magnitude.; valid: .*l1.*random"):
        Method("magnitude")


@pytest.mark.parametrize("kwargs, match", [
    ({"model": "resnet"}, "lenet5"),
    ({"data": "cifar"}, "mnist-5k"),
    ({"n_train": 0}, "n_train"),
    ({"init_seed": -1}, "init_seed"),
    ({"n_val": -1}, "n_val"),
    ({"n_val": 300}, "n_val=300 must be below n_train=300"),
    ({"n_val": 1.5}, "n_val"),
])
def test_bad_baseline_config_raises_early(kwargs, match):
    with pytest.raises(ValueError, match=match):
        replace(BASE, **kwargs)


def test_baseline_validation_split_is_carved_from_its_training_images_and_never_trained_on():
    from prunegan import data as data_mod

    with_val = baseline_mod.baseline(replace(BASE, n_val=100), progress=False)
    d = with_val.data
    assert (len(d.y_train), d.n_val, len(d.y_test)) == (200, 100, 200)
    full = data_mod.load("mnist-5k", seed=BASE.data_seed)
    assert torch.equal(d.x_val, full.x_train[200:300]) and torch.equal(d.x_train, full.x_train[:200])
    assert baseline_mod.baseline(BASE, progress=False).data.n_val == 0  # default: no split
    # the network trained with the split equals one trained on the 200 training images alone
    alone = baseline_mod.baseline(replace(BASE, n_train=200), progress=False)
    for a, b in zip(with_val.model.state_dict().values(), alone.model.state_dict().values()):
        assert torch.equal(a, b)


def test_baseline_weights_do_not_depend_on_the_callers_thread_count(tmp_path, monkeypatch):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = baseline_mod.baseline(BASE, progress=False)
        monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "other"))
        torch.set_num_threads(1)
        one = baseline_mod.baseline(BASE, progress=False)
    finally:
        torch.set_num_threads(before)
    for a, b in zip(two.model.state_dict().values(), one.model.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("strategy", ["tp-magnitude", "tp-lamp", "tp-fpgm"])
def test_torch_pruning_criteria_sweep_with_noise(strategy):
    cold = sweep.sweep(_sweep(Method(strategy), sparsities=(0.5,), trials=2), execution=QUIET)
    assert cold["mask"].iloc[0] == cold["mask"].iloc[1]  # no noise: the criterion alone, whatever the seed
    hot = sweep.sweep(_sweep(Method(strategy, {"temperature": 5.0}), sparsities=(0.5,), trials=2),
                      execution=QUIET)
    assert hot["mask"].iloc[0] != hot["mask"].iloc[1]
