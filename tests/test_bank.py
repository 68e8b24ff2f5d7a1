"""The mask bank: config validation, mask-space counts, build/caching/resume/dedup, the good rule."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from prunegan import bank as bank_mod
from prunegan import experiments, models
from prunegan.bank import Bank, BankConfig, GoodRule
from prunegan.experiments import BaselineConfig
from prunegan.masks import ChannelMask, layer_sizes
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


# ---------------------------------------------------------------------------------------- mask space
def _brute_force(sizes, sparsity, min_ch):
    n = sum(sizes)
    keep = n - round(sparsity * n)
    count = 0
    for kept in itertools.combinations(range(n), keep):
        per_layer, start = [], 0
        for s in sizes:
            per_layer.append(sum(start <= k < start + s for k in kept))
            start += s
        count += min(per_layer) >= min_ch
    return count


@pytest.mark.parametrize("sizes", [[2, 3], [3, 1, 4], [5]])
@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.8])
@pytest.mark.parametrize("min_ch", [0, 1])
def test_mask_space_matches_brute_force(sizes, sparsity, min_ch):
    assert bank_mod.mask_space(sizes, sparsity, min_ch) == _brute_force(sizes, sparsity, min_ch)


def test_mask_space_of_lenet5_matches_the_issue():
    sizes = layer_sizes(models.build("lenet5"))
    assert bank_mod.mask_space(sizes, 0.9) == math.comb(22, 2) == 231
    assert bank_mod.mask_space(sizes, 0.9, 1) == 6 * 16  # one channel per layer: the only split
    assert bank_mod.mask_space(sizes, 0.8) == 7315
    assert bank_mod.mask_space(sizes, 0.95, 1) == 0
    table = bank_mod.mask_space_table("lenet5", [0.8, 0.9], include_linear=True)
    assert (table["n_channels"] == 22 + 120 + 84).all()
    assert (table["n_masks"] > 10 ** 30).all()


# ---------------------------------------------------------------------------------------- build
def test_bank_rows_are_exact_valid_masks(tiny_bank):
    f = tiny_bank.frame
    sizes = layer_sizes(tiny_bank.baselines[0].model)
    n = sum(sizes.values())
    assert set(f["baseline"]) == {0, 1}
    assert set(f["strategy"]) == {"noisy-l1", "random"}
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


def test_rebuild_recomputes_nothing_and_resume_recomputes_only_missing(monkeypatch):
    config = tiny_config(baselines=tiny_bases((0,)), draws=1)
    first = bank_mod.build(config, progress=False)
    calls = []
    real = bank_mod.evaluate_masks

    def counting(model, masks, *a, **k):
        calls.extend(masks)
        return real(model, masks, *a, **k)

    monkeypatch.setattr(bank_mod, "evaluate_masks", counting)
    again = bank_mod.build(config, progress=False)
    assert calls == []
    pd.testing.assert_frame_equal(first.frame, again.frame)
    # an "interrupted" build: delete two row files (non-duplicates), they alone are recomputed
    run = bank_mod._run(config, config.baselines[0])
    originals = [p for p in sorted(run.path.glob("rows/*.json")) if '"duplicate": false' in p.read_text()][:2]
    for p in originals:
        p.unlink()
    resumed = bank_mod.build(config, progress=False)
    assert len(calls) <= 2
    pd.testing.assert_frame_equal(first.frame.drop(columns="seconds"), resumed.frame.drop(columns="seconds"))


def test_enlarging_the_grid_reuses_rows(monkeypatch):
    small = tiny_config(baselines=tiny_bases((0,)), sparsities=(0.5,), draws=1)
    bank_mod.build(small, progress=False)
    calls = []
    real = bank_mod.evaluate_masks
    monkeypatch.setattr(bank_mod, "evaluate_masks", lambda model, masks, *a, **k: calls.extend(masks) or real(model, masks, *a, **k))
    bigger = bank_mod.build(tiny_config(baselines=tiny_bases((0,)), sparsities=(0.5, 0.9), draws=1), progress=False)
    assert 0 < len(calls) <= (bigger.frame["sparsity"] == 0.9).sum()


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
    assert (summary["mask_space"] == [bank_mod.mask_space([6, 16], s) for s in (0.5, 0.9)]).all()
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


def test_rows_store_the_retraining_budget_result_of_mask_row(tiny_bank):
    # a bank row equals what mask_row gives for the same mask and budget (the one evaluation path)
    row = tiny_bank.frame.iloc[0]
    base = tiny_bank.baselines[int(row["baseline"])]
    again = experiments.mask_row(base, ChannelMask.from_dict(row["mask"]), TINY_TRAIN)
    assert np.isclose(again["retrained_acc"], row["retrained_acc"])
    assert again["macs"] == row["macs"] and again["params"] == row["params"]
