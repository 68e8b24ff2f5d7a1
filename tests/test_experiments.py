"""Sweeps, trials and the baseline: caching by config hash, resume, corrupt files, validation."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from prunegan import cache, engine, experiments
from prunegan.train import TrainConfig

BASE = experiments.BaselineConfig(n_train=300, n_test=200, train=TrainConfig(epochs=1, device="cpu"))
RETRAIN = TrainConfig(epochs=1, device="cpu")


def _sweep(**kw) -> experiments.SweepConfig:
    args = dict(baseline=BASE, strategy="random", sparsities=(0.0, 0.5, 0.9), trials=2, retrain=RETRAIN)
    return experiments.SweepConfig(**{**args, **kw})


def test_baseline_is_cached_and_reloaded_with_equal_weights():
    first = experiments.baseline(BASE, progress=False)
    assert first.run.exists("model.pt") and len(first.history) == 1
    second = experiments.baseline(BASE, progress=False)
    assert second.accuracy == first.accuracy
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert (a == b).all()


def test_sweep_rows_are_tidy_and_exact():
    df = experiments.sweep(_sweep(), progress=False)
    assert len(df) == 6 and set(df["trial"]) == {0, 1}
    assert (df["n_pruned"] == (df["sparsity"] * 22).round().astype(int)).all()
    assert df[["pruned_acc", "retrained_acc", "original_acc"]].apply(lambda c: c.between(0, 1)).all().all()
    dense = df[df["sparsity"] == 0.0]
    assert (dense["macs_kept"] == 1.0).all() and (dense["pruned_acc"] == dense["original_acc"]).all()
    sparse = df[df["sparsity"] == 0.9]
    assert (sparse["macs_kept"] < 0.5).all() and (sparse["params_kept"] < 1).all()
    for _, row in df.iterrows():  # kept channels and collapsed layers agree with the stored mask
        assert row["kept"] == {k: sum(v) for k, v in row["mask"].items()}
        assert row["collapsed"] == any(sum(v) == 0 for v in row["mask"].values())


def _no_evaluation(*args, **kwargs):
    pytest.fail("recomputed a cached row")


def test_rerun_recomputes_nothing(monkeypatch):
    config = _sweep()
    first = experiments.sweep(config, progress=False)
    monkeypatch.setattr(experiments, "evaluate_masks", _no_evaluation)
    again = experiments.sweep(config, progress=False)
    assert again.drop(columns=["seconds"]).equals(first.drop(columns=["seconds"]))


def test_interrupted_sweep_resumes_where_it_stopped(monkeypatch):
    config = _sweep()
    real = engine.evaluate_mask
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "evaluate_mask", flaky)
    with pytest.raises(KeyboardInterrupt):
        experiments.sweep(config, progress=False, workers=1)
    run = experiments.sweep_run(config)
    assert len(list(run.path.glob("rows/*.json"))) == 2
    assert not list(run.path.rglob("*.tmp"))  # no half-written file
    calls.clear()
    monkeypatch.setattr(engine, "evaluate_mask", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    df = experiments.sweep(config, progress=False, workers=1)
    assert len(df) == 6 and len(calls) == 4


def test_rows_do_not_depend_on_the_number_of_workers(tmp_path, monkeypatch):
    one = experiments.sweep(_sweep(trials=1), progress=False, workers=1)
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "two"))
    two = experiments.sweep(_sweep(trials=1), progress=False, workers=2)
    cols = ["mask", "pruned_acc", "retrained_acc", "macs", "params"]
    assert one[cols].equals(two[cols])


def test_trials_share_rows_with_the_sweep(monkeypatch):
    config = _sweep()
    sweep = experiments.sweep(config, progress=False)
    monkeypatch.setattr(experiments, "evaluate_masks", _no_evaluation)
    trials = experiments.trials(config, 0.9, 2, progress=False)
    assert trials["retrained_acc"].tolist() == sweep[sweep["sparsity"] == 0.9]["retrained_acc"].tolist()


def test_corrupt_row_is_reported_and_recomputed():
    config = _sweep(trials=1)
    df = experiments.sweep(config, progress=False)
    row_file = experiments.sweep_run(config).path / "rows/000_0.5000.json"
    row_file.write_text('{"truncated": ')
    with pytest.warns(cache.CorruptCacheWarning, match="000_0.5000.json"):
        again = experiments.sweep(config, progress=False)
    assert json.loads(row_file.read_text())["retrained_acc"] == again.loc[1, "retrained_acc"]
    assert again.loc[1, "retrained_acc"] == df.loc[1, "retrained_acc"]  # deterministic recomputation


def test_same_config_same_numbers_in_a_fresh_cache(tmp_path, monkeypatch):
    first = experiments.sweep(_sweep(trials=1, strategy="noisy-l1"), progress=False)
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "other"))
    second = experiments.sweep(_sweep(trials=1, strategy="noisy-l1"), progress=False)
    assert first["mask"].tolist() == second["mask"].tolist()
    assert first["retrained_acc"].tolist() == second["retrained_acc"].tolist()


def test_min_channels_per_layer_prevents_collapse():
    df = experiments.sweep(_sweep(min_channels_per_layer=1, sparsities=(0.9,), trials=3), progress=False)
    assert not df["collapsed"].any()


@pytest.mark.parametrize("kwargs, match", [
    ({"sparsities": (0.5, 1.0)}, "1.0"),
    ({"sparsities": (-0.1,)}, "-0.1"),
    ({"sparsities": ("half",)}, "half"),
    ({"sparsities": ()}, "empty"),
    ({"trials": 0}, "trials"),
    ({"strategy": "magnitude"}, r"unknown strategy .magnitude.; valid: .*l1.*random"),
    ({"min_channels_per_layer": 2, "sparsities": (0.9,)}, "min_channels_per_layer=2"),
    ({"min_channels_per_layer": 7}, "exceeds the size"),
])
def test_bad_sweep_config_raises_early(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _sweep(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"model": "resnet"}, "lenet5"),
    ({"data": "cifar"}, "mnist-5k"),
    ({"n_train": 0}, "n_train"),
    ({"init_seed": -1}, "init_seed"),
])
def test_bad_baseline_config_raises_early(kwargs, match):
    with pytest.raises(ValueError, match=match):
        replace(BASE, **kwargs)


def test_baseline_weights_do_not_depend_on_the_callers_thread_count(tmp_path, monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = experiments.baseline(BASE, progress=False)
        monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "other"))
        torch.set_num_threads(1)
        one = experiments.baseline(BASE, progress=False)
    finally:
        torch.set_num_threads(before)
    for a, b in zip(two.model.state_dict().values(), one.model.state_dict().values()):
        assert torch.equal(a, b)
