"""Method comparisons: config validation, skipped combinations, paired seeds, caching."""
from __future__ import annotations

import pandas as pd
import pytest

from prunegan import gan
from prunegan.core.masks import ChannelMask
from prunegan.gan import GanConfig
from prunegan.pruning import strategies
from prunegan.pruning.strategies import Method
from prunegan.runs import bank as bank_mod
from prunegan.runs import compare, runner
from prunegan.runs.bank import BankConfig
from prunegan.runs.baseline import BaselineConfig
from prunegan.runs.compare import CompareConfig
from prunegan.train import TrainConfig

BASE = BaselineConfig(n_train=300, n_test=100, train=TrainConfig(epochs=1, device="cpu"))
RETRAIN = TrainConfig(epochs=1, device="cpu")
_BANK_RESULTS: list = []  # the folder the module's bank was built in


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    results = tmp_path_factory.mktemp("compare_results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRUNEGAN_RESULTS", str(results))
        config = BankConfig(baselines=(BASE,), sparsities=(0.5, 0.9), temperatures=(1.0,), draws=1, retrain=RETRAIN)
        b = bank_mod.build(config, progress=False)
        g = gan.fit(b, GanConfig(steps=10, batch_size=8, hidden=8), progress=False)
    _BANK_RESULTS.append(results)
    return b, g


@pytest.mark.parametrize("kw, needle", [
    ({"samples": 0}, "samples"), ({"sparsities": (1.0,)}, "1.0"), ({"sparsities": ()}, "sparsities"),
    ({"methods": ("gan",)}, "Method"), ({"methods": (Method("l1"), Method("l1"))}, "same name"),
    ({"seed": -1}, "seed"), ({"baseline": "lenet5"}, "lenet5"), ({"best_bank": "yes"}, "best_bank"),
])
def test_compare_config_rejects_bad_values(kw, needle):
    with pytest.raises(ValueError, match=needle.replace(".", r"\.")):
        CompareConfig(**kw)


def test_include_linear_applies_to_every_method():
    cfg = CompareConfig(include_linear=True)
    assert all(m.include_linear for m in cfg.methods)
    assert [m.name for m in cfg.methods] == ["gan", "gan-min1", "l1", "random", "random-min1"]


def test_skipped_names_impossible_combinations(setup):
    b, _ = setup
    cfg = CompareConfig(baseline=BASE, sparsities=(0.5, 0.9, 0.95), retrain=RETRAIN)
    sk = compare.skipped(cfg, b)
    assert set(zip(sk["method"], sk["sparsity"])) == {("random-min1", 0.95), ("gan-min1", 0.95), ("best-bank", 0.95)}
    assert sk.set_index("method").loc["random-min1", "reason"].startswith("sparsity=0.95 prunes 21 of 22")
    assert compare.skipped(cfg, None)["method"].tolist().count("best-bank") == 3


def test_compare_rows_are_paired_exact_and_cached(setup, monkeypatch):
    b, g = setup
    cfg = CompareConfig(baseline=BASE, sparsities=(0.9,), samples=2, retrain=RETRAIN, seed=3)
    seen = []
    real = runner.evaluate_masks

    def spy(model, masks, data, retrain, **kw):
        seen.extend((m.key(), c.seed) for m, c in zip(masks, retrain))
        return real(model, masks, data, retrain, **kw)

    monkeypatch.setattr(runner, "evaluate_masks", spy)
    df = compare.compare(cfg, generator=g, bank=b, progress=False)
    assert set(df["method"]) == {"gan", "gan-min1", "l1", "random", "random-min1", "best-bank"}
    assert (df.groupby("method").size() == 2).all() and (df["n_pruned"] == round(0.9 * 22)).all()
    assert not df.loc[df["method"].isin(["gan-min1", "random-min1"]), "collapsed"].any()
    best = b.best_mask(0.9)
    assert all(ChannelMask.from_dict(m) == best for m in df.loc[df["method"] == "best-bank", "mask"])
    model = b.baselines[0].model
    assert [ChannelMask.from_dict(m) for m in df.loc[df["method"] == "gan", "mask"]] == g.sample(model, 0.9, 2, seed=3)
    rnd = df[df["method"] == "random-min1"]
    assert rnd["seed"].tolist() == [3, 4]
    assert ChannelMask.from_dict(rnd["mask"].iloc[1]) == strategies.prune(model, "random", 0.9, seed=4,
                                                                          min_channels_per_layer=1)
    # paired: mask i of every method is retrained with retrain.seed + i
    assert {s for _, s in seen} == {0, 1}
    monkeypatch.setattr(runner, "evaluate_masks", lambda *a, **k: pytest.fail("recomputed a cached row"))
    again = compare.compare(cfg, generator=g, bank=b, progress=False)
    pd.testing.assert_frame_equal(df, again)
    with pytest.raises(ValueError, match="needs generator"):
        compare.compare(cfg, bank=b, progress=False)


def test_a_comparison_reuses_the_banks_evaluations(setup, monkeypatch):
    b, _ = setup
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(_BANK_RESULTS[0]))  # the folder the bank was built in
    cfg = CompareConfig(baseline=BASE, sparsities=(0.5,), samples=1, retrain=RETRAIN,
                        methods=(Method("l1"),), best_bank=True)
    calls = []
    real = runner.evaluate_masks
    monkeypatch.setattr(runner, "evaluate_masks", lambda m, masks, *a, **k: calls.extend(masks) or real(m, masks, *a, **k))
    df = compare.compare(cfg, bank=b, progress=False)
    # the best bank mask retrained with the bank's own seed is the bank's row, not a new evaluation
    assert b.best_mask(0.5) not in calls
    assert df.loc[df["method"] == "best-bank", "retrained_acc"].iloc[0] == b.best(0.5)["retrained_acc"]
