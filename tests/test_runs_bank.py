"""The mask bank: config validation, build/caching/resume/dedup, the label (validation accuracy; a row
without it is an error; test accuracy only for a bank configured with no split), best mask and soft
weights by that label."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from prunegan.core import counts
from prunegan.core.masks import ChannelMask, layer_sizes
from prunegan.pruning import engine
from prunegan.pruning.executors import Execution
from prunegan.runs import bank as bank_mod
from prunegan.runs import runner
from prunegan.runs.bank import Bank, BankConfig
from prunegan.runs.baseline import BaselineConfig
from prunegan.train import TrainConfig

QUIET = Execution(progress=False)

TINY_TRAIN = TrainConfig(epochs=1, device="cpu")


def tiny_bases(seeds=(0, 1)):
    return tuple(BaselineConfig(init_seed=s, n_train=300, n_test=100,
                                train=TrainConfig(epochs=1, seed=s, device="cpu"))
                 for s in seeds)


def tiny_config(**kw) -> BankConfig:
    args = dict(baselines=tiny_bases(), sparsities=(0.5, 0.9), temperatures=(1.0,), draws=2,
                retrain=TINY_TRAIN)
    args.update(kw)
    return BankConfig(**args)


@pytest.fixture(scope="module")
def tiny_bank(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRUNEGAN_RESULTS", str(tmp_path_factory.mktemp("bank_results")))
        return bank_mod.build(tiny_config(), execution=QUIET)


# ---------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("kw, needle", [
    ({"sparsities": (0.5, 1.0)}, "1.0"),
    ({"sparsities": ()}, "sparsities"),
    ({"sparsities": (-0.1,)}, "-0.1"),
    ({"temperatures": (-1.0,)}, "-1.0"),
    ({"draws": 0}, "draws"),
    ({"min_channels": (-1,)}, "-1"),
    ({"baselines": ()}, "baselines"),
    ({"baselines": ("lenet5",)}, "lenet5"),
    ({"seed": -3}, "-3"),
])
def test_bank_config_rejects_bad_values(kw, needle):
    with pytest.raises(ValueError, match=needle.replace(".", r"\.").replace("(", r"\(")):
        tiny_config(**kw)


def test_bank_config_rejects_duplicate_baselines():
    base = tiny_bases((0,))[0]
    with pytest.raises(ValueError, match="twice"):
        tiny_config(baselines=(base, base))


# ---------------------------------------------------------------------------------------- build
def test_bank_rows_are_exact_valid_masks(tiny_bank):
    f = tiny_bank.frame
    sizes = layer_sizes(tiny_bank.baselines[0].model)
    n = sum(sizes.values())
    assert set(f["baseline"]) == {0, 1}
    assert set(f["strategy"]) == {"noisy-l1", "random"}
    assert set(f["method"]) == {"noisy-l1-T1", "noisy-l1-T1-min1", "random", "random-min1"}
    for row in f.itertuples():
        mask = ChannelMask.from_dict(row.mask)
        assert mask.sizes == sizes
        assert mask.n_pruned == round(row.sparsity * n)
        assert mask.key() == row.key
        if row.min_channels_per_layer == 1:
            assert not mask.collapsed_layers()
    # 0.9 keeps 2 of 22 channels: min_channels=1 is possible, and a collapse-free draw keeps (1, 1)
    at90 = f[(f["sparsity"] == 0.9) & (f["min_channels_per_layer"] == 1)]
    assert len(at90) and all(k == {"conv1": 1, "conv2": 1} for k in at90["kept"])
    for col in ("pruned_acc", "retrained_acc", "macs", "params", "original_acc"):
        assert f[col].notna().all()
    assert ((f["retrained_acc"] >= 0) & (f["retrained_acc"] <= 1)).all()


def test_duplicates_are_evaluated_once(tiny_bank):
    f = tiny_bank.frame
    # identical masks on one baseline carry identical numbers, and exactly one of them is not a duplicate
    for _, g in f.groupby(["baseline", "key"]):
        assert g["retrained_acc"].nunique() == 1
        assert (~g["duplicate"]).sum() == 1
    u = tiny_bank.unique()
    assert len(u) == len(f.drop_duplicates(["baseline", "key"]))
    assert u["n_draws"].sum() == len(f)


def _count_masks(monkeypatch) -> list:
    calls = []
    real = runner.evaluate_checked

    def counting(model, masks, *a, **k):
        calls.extend(masks)
        return real(model, masks, *a, **k)

    monkeypatch.setattr(runner, "evaluate_checked", counting)
    return calls


def test_rebuild_recomputes_nothing_and_resume_recomputes_exactly_the_missing(monkeypatch):
    config = tiny_config(baselines=tiny_bases((0,)), draws=1)
    first = bank_mod.build(config, execution=QUIET)
    calls = _count_masks(monkeypatch)
    again = bank_mod.build(config, execution=QUIET)
    assert calls == []
    pd.testing.assert_frame_equal(first.frame, again.frame)
    # an "interrupted" build: delete two cached evaluations, exactly those two masks are recomputed
    cache = runner.evaluations(first.baselines[0])
    lost = sorted(cache.path.glob("rows/*.json"))[:2]
    lost_keys = {json.loads(p.read_text())["key"] for p in lost}
    for p in lost:
        p.unlink()
    resumed = bank_mod.build(config, execution=QUIET)
    assert {m.key() for m in calls} == lost_keys and len(calls) == 2
    pd.testing.assert_frame_equal(first.frame.drop(columns="seconds"), resumed.frame.drop(columns="seconds"))


def test_enlarging_the_grid_or_adding_a_network_evaluates_only_new_masks(monkeypatch):
    small = tiny_config(baselines=tiny_bases((0,)), sparsities=(0.5,), draws=1)
    first = bank_mod.build(small, execution=QUIET)
    calls = _count_masks(monkeypatch)
    bigger = bank_mod.build(tiny_config(baselines=tiny_bases((0, 1)), sparsities=(0.5, 0.9), draws=1),
                            execution=QUIET)
    known = set(first.frame["key"])
    new = bigger.frame[(bigger.frame["baseline"] == 1) | ~bigger.frame["key"].isin(known)]
    assert sorted(m.key() for m in calls) == sorted(new.drop_duplicates(["baseline", "key"])["key"])


def test_draw_seeds_differ_and_are_stable():
    a = bank_mod.draw_seed(0, 0, 0.5, "random", None, 0, 0)
    assert a == bank_mod.draw_seed(0, 0, 0.5, "random", None, 0, 0)
    others = {bank_mod.draw_seed(0, 0, 0.5, "random", None, 0, 1),
              bank_mod.draw_seed(0, 1, 0.5, "random", None, 0, 0),
              bank_mod.draw_seed(0, 0, 0.6, "random", None, 0, 0),
              bank_mod.draw_seed(0, 0, 0.5, "noisy-l1", 1.0, 0, 0),
              bank_mod.draw_seed(0, 0, 0.5, "random", None, 1, 0)}
    assert a not in others and len(others) == 5


# ---------------------------------------------------------------------------------------- label
def test_label_is_test_accuracy_without_a_validation_split(tiny_bank):
    f = tiny_bank.frame
    assert tiny_bank.label == "retrained_acc"
    assert f["val_acc"].isna().all() and f["val_acc_sd"].isna().all()


@pytest.fixture(scope="module")
def val_bank(tmp_path_factory):
    """One baseline with a validation split (200 train / 100 val), two retraining seeds per mask."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRUNEGAN_RESULTS", str(tmp_path_factory.mktemp("val_bank_results")))
        base = BaselineConfig(init_seed=0, n_train=300, n_test=100, n_val=100,
                              train=TrainConfig(epochs=1, seed=0, device="cpu"))
        return bank_mod.build(tiny_config(baselines=(base,), sparsities=(0.9,), draws=1, retrain_seeds=2),
                              execution=QUIET)


def test_label_is_validation_accuracy_averaged_over_the_retraining_seeds(val_bank):
    assert val_bank.label == "val_acc"
    base = val_bank.baselines[0]
    assert (len(base.data.y_train), base.data.n_val) == (200, 100)
    f = val_bank.frame
    assert f["val_acc"].notna().all() and f["val_acc"].between(0, 1).all()
    row = f.iloc[0]
    mask = ChannelMask.from_dict(row["mask"])
    direct = [engine.evaluate_mask(base.model, mask, base.data, TrainConfig(epochs=1, device="cpu", seed=s))
              for s in (0, 1)]
    vals = [d["retrained_val_acc"] for d in direct]
    assert row["val_acc"] == pytest.approx(np.mean(vals))
    assert row["val_acc_sd"] == pytest.approx(np.std(vals, ddof=1))
    # test: reported only
    assert row["retrained_acc"] == pytest.approx(np.mean([d["retrained_acc"] for d in direct]))
    # best and soft weights read the label
    u = val_bank.unique()
    assert val_bank.best(0.9)["val_acc"] == u["val_acc"].max()
    w = val_bank.weighted(temperature=0.01)
    assert w.loc[w["weight"].idxmax(), "val_acc"] == u["val_acc"].max()


def test_mean_over_seeds_gives_validation_means_and_sds():
    rows = pd.DataFrame({"draw_index": [0, 0, 0, 1], "key": ["a", "a", "a", "b"],
                         "retrained_acc": [0.5, 0.6, 0.7, 0.9], "retrained_val_acc": [0.4, 0.6, 0.8, 0.3],
                         "seconds": [1.0, 2.0, 3.0, 4.0]})
    out = bank_mod.mean_over_seeds(rows)
    assert out["val_acc"].tolist() == pytest.approx([0.6, 0.3])
    assert out["val_acc_sd"].iloc[0] == pytest.approx(0.2) and np.isnan(out["val_acc_sd"].iloc[1])
    assert out["retrained_acc"].tolist() == pytest.approx([0.6, 0.9])
    assert out["retrained_acc_sd"].iloc[0] == pytest.approx(0.1)
    assert out["n_seeds"].tolist() == [3, 1] and out["seconds"].tolist() == [6.0, 4.0]
    assert out["retrained_accs"].iloc[0] == pytest.approx([0.5, 0.6, 0.7])
    # no validation split: the rows carry None (or no column at all) and the means are NaN
    for none in (rows.assign(retrained_val_acc=None), rows.drop(columns="retrained_val_acc")):
        out = bank_mod.mean_over_seeds(none)
        assert out["val_acc"].isna().all() and out["val_acc_sd"].isna().all()


def _label_bank(val_acc, test_acc, label_missing=False):
    """A hand-made bank of three distinct masks at 90 % on network 0 (labels given)."""
    sizes = {"conv1": 6, "conv2": 16}
    masks = [ChannelMask.from_vector(torch.tensor(bits), sizes)
             for bits in counts.all_masks([6, 16], 0.9, 1)[:3]]
    val = [np.nan if label_missing and i == 0 else v for i, v in enumerate(val_acc)]
    frame = pd.DataFrame({"baseline": 0, "sparsity": 0.9, "key": [m.key() for m in masks],
                          "mask": [m.to_dict() for m in masks], "label": "hand", "duplicate": False,
                          "val_acc": val, "retrained_acc": test_acc})
    return Bank(tiny_config(baselines=tiny_bases((0,)), sparsities=(0.9,)), [], frame), masks


def test_best_and_weights_choose_by_validation_even_when_test_disagrees():
    bank, masks = _label_bank(val_acc=[0.5, 0.8, 0.6], test_acc=[0.9, 0.4, 0.7])
    assert bank.label == "val_acc"
    best = bank.best(0.9)
    assert best["key"] == masks[1].key() and best["val_acc"] == 0.8 and best["retrained_acc"] == 0.4
    assert bank.best_mask(0.9) == masks[1]
    w = bank.weighted(temperature=0.1).set_index("key")["weight"]
    assert w[masks[1].key()] == w.max()
    assert w[masks[0].key()] / w[masks[1].key()] == pytest.approx(np.exp((0.5 - 0.8) / 0.1))
    # one mask without a validation label: an error naming the rows, never a switch to test accuracy
    partial, _ = _label_bank(val_acc=[0.5, 0.8, 0.6], test_acc=[0.9, 0.4, 0.7], label_missing=True)
    for use in (lambda b: b.label, lambda b: b.best(0.9), lambda b: b.weighted()):
        with pytest.raises(ValueError, match=r"1 of 3 bank rows have no validation accuracy \(val_acc; "
                                             r"networks \[0\].*never falls back to test"):
            use(partial)
    # a bank configured with no validation split at all (n_val=0 everywhere) is labelled by test, as declared
    no_column = Bank(bank.config, [], bank.frame.drop(columns="val_acc"))
    assert no_column.label == "retrained_acc" and no_column.best(0.9)["key"] == masks[0].key()
    # ... but with a split configured, rows without val_acc (e.g. cached before the split) are an error
    split = replace(bank.config, baselines=tuple(replace(b, n_val=50) for b in bank.config.baselines))
    for frame in (bank.frame.drop(columns="val_acc"), bank.frame.assign(val_acc=np.nan)):
        with pytest.raises(ValueError, match=r"3 of 3 bank rows .*validation images per baseline: \[50\]"):
            Bank(split, [], frame).label
    assert Bank(split, [], bank.frame).label == "val_acc"

def test_best_is_the_highest_label_of_that_network_and_sparsity(tiny_bank):
    u = tiny_bank.unique()
    for b in (0, 1):
        for s in (0.5, 0.9):
            g = u[(u["baseline"] == b) & np.isclose(u["sparsity"], s)]
            best = tiny_bank.best(s, baseline=b)
            assert best["retrained_acc"] == g["retrained_acc"].max() and best["baseline"] == b
            assert tiny_bank.best_mask(s, baseline=b) == ChannelMask.from_dict(best["mask"])


def test_bank_errors_name_the_value(tiny_bank):
    with pytest.raises(ValueError, match="no mask at sparsity 0.7"):
        tiny_bank.best(0.7)
    with pytest.raises(ValueError, match="no mask at sparsity 0.5 for baseline 5"):
        tiny_bank.best(0.5, baseline=5)
    empty = Bank(tiny_bank.config, [], pd.DataFrame())
    with pytest.raises(ValueError, match="empty"):
        empty.best(0.5)
    with pytest.raises(ValueError, match="empty"):
        empty.weighted()


def test_rows_equal_a_direct_evaluation_with_the_bank_budget(tiny_bank):
    # a bank row equals engine.evaluate_mask for the same mask and budget (the one evaluation path)
    row = tiny_bank.frame.iloc[0]
    base = tiny_bank.baselines[int(row["baseline"])]
    again = engine.evaluate_mask(base.model, ChannelMask.from_dict(row["mask"]), base.data, TINY_TRAIN)
    assert np.isclose(again["retrained_acc"], row["retrained_acc"])
    assert again["macs"] == row["macs"] and again["params"] == row["params"]


def test_retrain_seeds_average_each_mask_over_its_seeds(monkeypatch):
    one = bank_mod.build(tiny_config(baselines=tiny_bases((0,)), sparsities=(0.9,), draws=1), execution=QUIET)
    three = bank_mod.build(tiny_config(baselines=tiny_bases((0,)), sparsities=(0.9,), draws=1,
                                       retrain_seeds=3), execution=QUIET)
    assert len(three.frame) == len(one.frame) and (three.frame["n_seeds"] == 3).all()
    assert three.frame["key"].tolist() == one.frame["key"].tolist()  # the same draws
    base = three.baselines[0]
    row = three.frame.iloc[0]
    direct = [engine.evaluate_mask(base.model, ChannelMask.from_dict(row["mask"]), base.data,
                                   TrainConfig(epochs=1, device="cpu",
                                               seed=s))["retrained_acc"] for s in (0, 1, 2)]
    assert row["retrained_accs"] == direct and row["retrained_acc"] == pytest.approx(np.mean(direct))
    assert row["retrained_accs"][0] == one.frame.iloc[0]["retrained_acc"]  # seed 0 is the one-seed bank's row
    with pytest.raises(ValueError, match="retrain_seeds"):
        tiny_config(retrain_seeds=0)


def test_soft_weights_follow_accuracy_within_each_network_and_sparsity(tiny_bank):
    assert tiny_bank.label == "retrained_acc"  # no validation split: the weights read test accuracy
    w = tiny_bank.weighted(temperature=0.01)
    assert np.allclose(w.groupby(["baseline", "sparsity"])["weight"].sum(), 1.0)
    for _, g in w.groupby(["baseline", "sparsity"]):
        best = g.loc[g["retrained_acc"].idxmax()]
        assert best["weight"] == g["weight"].max()
        other = g.iloc[0]
        expected = np.exp((other["retrained_acc"] - best["retrained_acc"]) / 0.01) * best["weight"]
        assert other["weight"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="temperature"):
        tiny_bank.weighted(temperature=0)


def test_exhaustive_landscape_top_up_and_torch_pruning_criteria(tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    cfg = tiny_config(baselines=tiny_bases((0,)), sparsities=(0.8, 0.9), draws=1, temperatures=(0.0, 1.0),
                      criteria=("noisy-l1", "tp-lamp"), min_distinct=12, exhaustive_limit=100)
    assert [m.name for m in cfg.methods()][:4] == ["noisy-l1-T0", "noisy-l1-T0-min1", "noisy-l1-T1",
                                                   "noisy-l1-T1-min1"]
    assert "tp-lamp-T1-min1" in [m.name for m in cfg.methods()]
    b = bank_mod.build(cfg, execution=QUIET)
    u = b.unique()
    at90 = u[np.isclose(u["sparsity"], 0.9)]
    f = b.frame
    # some were drawn by a method first
    land = f[(f["method"] == "exhaustive") & np.isclose(f["sparsity"], 0.9)]
    assert land["key"].nunique() == len(land) == 96 == counts.mask_space([6, 16], 0.9,
                                                                         1) and not land["collapsed"].any()
    assert len(at90) >= 96  # plus the collapsed draws of the methods without a minimum
    at80 = u[np.isclose(u["sparsity"], 0.8)]
    assert len(at80) >= 12 and "random-min1" in set(at80["method"])  # topped up with random-min1
    assert {"noisy-l1-T1", "tp-lamp-T1-min1"} <= set(at80["method"])
    # the top-up and the landscape are reproducible: a rebuild gives the same masks
    again = bank_mod.build(cfg, execution=QUIET)
    assert again.frame["key"].tolist() == b.frame["key"].tolist()
    with pytest.raises(ValueError, match="criteria"):
        tiny_config(criteria=("l1",))
    with pytest.raises(ValueError, match="min_distinct"):
        tiny_config(min_distinct=-1)
