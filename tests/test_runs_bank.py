"""The mask bank: config validation, build/caching/resume/dedup, the good rule."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from prunegan.core import counts
from prunegan.core.masks import ChannelMask, layer_sizes
from prunegan.pruning import engine
from prunegan.runs import bank as bank_mod
from prunegan.runs import runner
from prunegan.runs.bank import Bank, BankConfig, GoodRule
from prunegan.runs.baseline import BaselineConfig
from prunegan.train import TrainConfig

TINY_TRAIN = TrainConfig(epochs=1, device="cpu")


def tiny_bases(seeds=(0, 1)):
    return tuple(BaselineConfig(init_seed=s, n_train=300, n_test=100, train=TrainConfig(epochs=1, seed=s, device="cpu"))
                 for s in seeds)


def tiny_config(**kw) -> BankConfig:
    args = dict(baselines=tiny_bases(), sparsities=(0.5, 0.9), temperatures=(1.0,), draws=2, retrain=TINY_TRAIN)
    args.update(kw)
    return BankConfig(**args)


@pytest.fixture(scope="module")
def tiny_bank(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRUNEGAN_RESULTS", str(tmp_path_factory.mktemp("bank_results")))
        return bank_mod.build(tiny_config(), progress=False)


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


@pytest.mark.parametrize("kw", [{"margin": -0.1}, {"margin": 2}, {"top_fraction": 0}, {"top_fraction": 1.5},
                                {"allow_collapsed": "no"}])
def test_good_rule_rejects_bad_values(kw):
    with pytest.raises(ValueError, match="GoodRule"):
        GoodRule(**kw)


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
    first = bank_mod.build(config, progress=False)
    calls = _count_masks(monkeypatch)
    again = bank_mod.build(config, progress=False)
    assert calls == []
    pd.testing.assert_frame_equal(first.frame, again.frame)
    # an "interrupted" build: delete two cached evaluations, exactly those two masks are recomputed
    cache = runner.evaluations(first.baselines[0])
    lost = sorted(cache.path.glob("rows/*.json"))[:2]
    lost_keys = {json.loads(p.read_text())["key"] for p in lost}
    for p in lost:
        p.unlink()
    resumed = bank_mod.build(config, progress=False)
    assert {m.key() for m in calls} == lost_keys and len(calls) == 2
    pd.testing.assert_frame_equal(first.frame.drop(columns="seconds"), resumed.frame.drop(columns="seconds"))


def test_enlarging_the_grid_or_adding_a_network_evaluates_only_new_masks(monkeypatch):
    small = tiny_config(baselines=tiny_bases((0,)), sparsities=(0.5,), draws=1)
    first = bank_mod.build(small, progress=False)
    calls = _count_masks(monkeypatch)
    bigger = bank_mod.build(tiny_config(baselines=tiny_bases((0, 1)), sparsities=(0.5, 0.9), draws=1), progress=False)
    known = set(first.frame["key"])
    new = bigger.frame[(bigger.frame["baseline"] == 1) | ~bigger.frame["key"].isin(known)]
    assert sorted(m.key() for m in calls) == sorted(new.drop_duplicates(["baseline", "key"])["key"])


def test_draw_seeds_differ_and_are_stable():
    a = bank_mod.draw_seed(0, 0, 0.5, "random", None, 0, 0)
    assert a == bank_mod.draw_seed(0, 0, 0.5, "random", None, 0, 0)
    others = {bank_mod.draw_seed(0, 0, 0.5, "random", None, 0, 1), bank_mod.draw_seed(0, 1, 0.5, "random", None, 0, 0),
              bank_mod.draw_seed(0, 0, 0.6, "random", None, 0, 0), bank_mod.draw_seed(0, 0, 0.5, "noisy-l1", 1.0, 0, 0),
              bank_mod.draw_seed(0, 0, 0.5, "random", None, 1, 0)}
    assert a not in others and len(others) == 5


# ---------------------------------------------------------------------------------------- good rule
def _frame(accs, sparsity=0.5, baseline=0, collapsed=None):
    collapsed = collapsed or [False] * len(accs)
    return pd.DataFrame({"baseline": baseline, "sparsity": sparsity, "key": [f"k{i}" for i in range(len(accs))],
                         "retrained_acc": accs, "collapsed": collapsed})


def test_good_rule_margin_and_quantile():
    f = _frame([0.90, 0.895, 0.88, 0.50])
    assert bank_mod.label_good(f, GoodRule(margin=0.01)).tolist() == [True, True, False, False]
    assert bank_mod.label_good(f, GoodRule(margin=0.0)).tolist() == [True, False, False, False]
    assert bank_mod.label_good(f, GoodRule(margin=1.0, top_fraction=0.5)).tolist() == [True, True, False, False]
    f2 = _frame([0.9, 0.9, 0.1], collapsed=[True, False, False])
    assert bank_mod.label_good(f2, GoodRule(margin=0.01, allow_collapsed=False)).tolist() == [False, True, False]
    # the rule is relative to the best mask of the same (baseline, sparsity)
    both = pd.concat([_frame([0.9, 0.5]), _frame([0.5, 0.3], sparsity=0.9)], ignore_index=True)
    assert bank_mod.label_good(both, GoodRule(margin=0.05)).tolist() == [True, False, True, False]


def test_good_masks_and_summary(tiny_bank):
    good = tiny_bank.good_masks(GoodRule(margin=0.02))
    assert good and {b for b, _, _ in good} <= {0, 1}
    summary = tiny_bank.summary()
    assert list(summary["sparsity"]) == [0.5, 0.9]
    assert (summary["good"] >= 1).all() and (summary["distinct"] <= summary["draws"]).all()
    assert summary["mask_space"].tolist() == [counts.mask_space([6, 16], s) for s in (0.5, 0.9)]
    lt = tiny_bank.layer_table()
    assert set(lt["layer"]) == {"conv1", "conv2"} and lt["good"].dtype == bool
    best = tiny_bank.best(0.5, baseline=1)
    assert best["retrained_acc"] == tiny_bank.unique().query("baseline == 1 and sparsity == 0.5")["retrained_acc"].max()
    assert isinstance(tiny_bank.best_mask(0.9), ChannelMask)


def test_bank_errors_name_the_value(tiny_bank):
    with pytest.raises(ValueError, match="no good mask at sparsity 0.7"):
        tiny_bank.good_masks(sparsities=(0.7,))
    with pytest.raises(ValueError, match="no mask at sparsity 0.7"):
        tiny_bank.best(0.7)
    empty = Bank(tiny_bank.config, [], pd.DataFrame())
    with pytest.raises(ValueError, match="empty"):
        empty.good_masks()
    with pytest.raises(ValueError, match="empty"):
        empty.best(0.5)


def test_rows_equal_a_direct_evaluation_with_the_bank_budget(tiny_bank):
    # a bank row equals engine.evaluate_mask for the same mask and budget (the one evaluation path)
    row = tiny_bank.frame.iloc[0]
    base = tiny_bank.baselines[int(row["baseline"])]
    again = engine.evaluate_mask(base.model, ChannelMask.from_dict(row["mask"]), base.data, TINY_TRAIN)
    assert np.isclose(again["retrained_acc"], row["retrained_acc"])
    assert again["macs"] == row["macs"] and again["params"] == row["params"]


def test_retrain_seeds_average_each_mask_over_its_seeds(monkeypatch):
    one = bank_mod.build(tiny_config(baselines=tiny_bases((0,)), sparsities=(0.9,), draws=1), progress=False)
    three = bank_mod.build(tiny_config(baselines=tiny_bases((0,)), sparsities=(0.9,), draws=1, retrain_seeds=3),
                           progress=False)
    assert len(three.frame) == len(one.frame) and (three.frame["n_seeds"] == 3).all()
    assert three.frame["key"].tolist() == one.frame["key"].tolist()  # the same draws
    base = three.baselines[0]
    row = three.frame.iloc[0]
    direct = [engine.evaluate_mask(base.model, ChannelMask.from_dict(row["mask"]), base.data,
                                   TrainConfig(epochs=1, device="cpu", seed=s))["retrained_acc"] for s in (0, 1, 2)]
    assert row["retrained_accs"] == direct and row["retrained_acc"] == pytest.approx(np.mean(direct))
    assert row["retrained_accs"][0] == one.frame.iloc[0]["retrained_acc"]  # seed 0 is the one-seed bank's row
    with pytest.raises(ValueError, match="retrain_seeds"):
        tiny_config(retrain_seeds=0)


def test_soft_weights_follow_accuracy_within_each_network_and_sparsity(tiny_bank):
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
    assert [m.name for m in cfg.methods()][:4] == ["noisy-l1-T0", "noisy-l1-T0-min1", "noisy-l1-T1", "noisy-l1-T1-min1"]
    assert "tp-lamp-T1-min1" in [m.name for m in cfg.methods()]
    b = bank_mod.build(cfg, progress=False)
    u = b.unique()
    at90 = u[np.isclose(u["sparsity"], 0.9)]
    f = b.frame
    land = f[(f["method"] == "exhaustive") & np.isclose(f["sparsity"], 0.9)]  # some were drawn by a method first
    assert land["key"].nunique() == len(land) == 96 == counts.mask_space([6, 16], 0.9, 1) and not land["collapsed"].any()
    assert len(at90) >= 96  # plus the collapsed draws of the methods without a minimum
    at80 = u[np.isclose(u["sparsity"], 0.8)]
    assert len(at80) >= 12 and "random-min1" in set(at80["method"])  # topped up with random-min1
    assert {"noisy-l1-T1", "tp-lamp-T1-min1"} <= set(at80["method"])
    # the top-up and the landscape are reproducible: a rebuild gives the same masks
    again = bank_mod.build(cfg, progress=False)
    assert again.frame["key"].tolist() == b.frame["key"].tolist()
    with pytest.raises(ValueError, match="criteria"):
        tiny_config(criteria=("l1",))
    with pytest.raises(ValueError, match="min_distinct"):
        tiny_config(min_distinct=-1)
