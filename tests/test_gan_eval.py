"""Notebook 06's comparison machinery: configs, skipped combinations, caching, summaries, headlines."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from prunegan import bank as bank_mod
from prunegan import gan, gan_eval, plots_gan
from prunegan.bank import BankConfig, GoodRule
from prunegan.experiments import BaselineConfig
from prunegan.gan import GanConfig
from prunegan.gan_eval import CompareConfig
from prunegan.masks import ChannelMask
from prunegan.train import TrainConfig

BASE = BaselineConfig(n_train=300, n_test=100, train=TrainConfig(epochs=1, device="cpu"))
RETRAIN = TrainConfig(epochs=1, device="cpu")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRUNEGAN_RESULTS", str(tmp_path_factory.mktemp("eval_results")))
        config = BankConfig(baselines=(BASE,), sparsities=(0.5, 0.9), temperatures=(1.0,), draws=1, retrain=RETRAIN)
        b = bank_mod.build(config, progress=False)
        g = gan.fit(b, GanConfig(steps=10, batch_size=8, hidden=8, good=GoodRule(margin=0.05)), progress=False)
    return b, g


@pytest.mark.parametrize("kw, needle", [
    ({"samples": 0}, "samples"), ({"sparsities": (1.0,)}, "1.0"), ({"sparsities": ()}, "sparsities"),
    ({"methods": ("gan", "magic")}, "magic"), ({"seed": -1}, "seed"), ({"baseline": "lenet5"}, "lenet5"),
])
def test_compare_config_rejects_bad_values(kw, needle):
    with pytest.raises(ValueError, match=needle.replace(".", r"\.")):
        CompareConfig(**kw)


def test_skipped_names_impossible_combinations(setup):
    b, _ = setup
    cfg = CompareConfig(baseline=BASE, sparsities=(0.5, 0.9, 0.95), retrain=RETRAIN)
    sk = gan_eval.skipped(cfg, b)
    pairs = set(zip(sk["strategy"], sk["sparsity"]))
    assert pairs == {("random-min1", 0.95), ("gan-min1", 0.95), ("best-bank", 0.95)}
    assert gan_eval.skipped(cfg, None)["strategy"].tolist().count("best-bank") == 3


def test_compare_rows_are_cached_and_exact(setup, monkeypatch):
    b, g = setup
    cfg = CompareConfig(baseline=BASE, sparsities=(0.9,), samples=2, retrain=RETRAIN)
    df = gan_eval.compare(cfg, generator=g, bank=b, progress=False)
    assert set(df["strategy"]) == set(gan_eval.METHODS)
    assert (df.groupby("strategy").size() == 2).all()
    assert (df["n_pruned"] == round(0.9 * 22)).all()
    assert not df.loc[df["strategy"].isin(["gan-min1", "random-min1"]), "collapsed"].any()
    best = b.best_mask(0.9)
    assert all(ChannelMask.from_dict(m) == best for m in df.loc[df["strategy"] == "best-bank", "mask"])
    gan_masks = g.sample(b.baselines[0].model, 0.9, 2, seed=0)
    assert [ChannelMask.from_dict(m) for m in df.loc[df["strategy"] == "gan", "mask"]] == gan_masks
    monkeypatch.setattr(gan_eval, "evaluate_masks", lambda *a, **k: pytest.fail("recomputed a cached row"))
    again = gan_eval.compare(cfg, generator=g, bank=b, progress=False)
    pd.testing.assert_frame_equal(df.drop(columns="seconds"), again.drop(columns="seconds"))
    with pytest.raises(ValueError, match="needs generator"):
        gan_eval.compare(cfg, bank=b, progress=False)


def _row(strategy, sparsity, acc, bits, collapsed=False):
    mask = {"a": bits[:2], "b": bits[2:]}
    return {"strategy": strategy, "sparsity": sparsity, "retrained_acc": acc, "pruned_acc": 0.1,
            "n_collapsed": int(collapsed), "mask": mask, "macs": 10, "dense_macs": 100, "params": 5,
            "dense_params": 50, "n_channels": 4}


def test_summarize_headline_and_verdict():
    from prunegan.results import rows_to_frame

    rows = [_row("l1", 0.5, 0.8, [1, 0, 1, 0]), _row("l1", 0.5, 0.9, [1, 0, 1, 0]),
            _row("gan", 0.5, 0.7, [1, 0, 1, 0]), _row("gan", 0.5, 0.9, [0, 1, 0, 1]),
            _row("gan", 0.5, 0.8, [1, 1, 0, 0], collapsed=True),
            _row("random-min1", 0.5, 0.6, [0, 1, 1, 0]), _row("random-min1", 0.5, 0.7, [0, 1, 1, 0])]
    s = gan_eval.summarize(rows_to_frame(rows))
    gan_row = s.set_index("strategy").loc["gan"]
    assert gan_row["mean"] == pytest.approx(0.8) and gan_row["n"] == 3
    assert gan_row["ci_low"] < 0.8 < gan_row["ci_high"]
    assert gan_row["collapse_rate"] == pytest.approx(1 / 3)
    assert gan_row["distinct"] == 3 and gan_row["diversity"] == pytest.approx((4 + 2 + 2) / 3)
    assert gan_row["hamming_to_l1"] == pytest.approx((0 + 4 + 2) / 3)
    assert s.set_index("strategy").loc["l1", "diversity"] == 0
    assert gan_row["macs_kept"] == pytest.approx(0.1)
    h = gan_eval.headline(s, sparsities=(0.5,))
    assert h["gan_acc_50"] == pytest.approx(0.8) and h["random_min1_acc_50"] == pytest.approx(0.65)
    assert h["gan_minus_random_min1_50"] == pytest.approx(0.15)
    assert all(isinstance(v, float) and math.isfinite(v) for v in h.values())
    text = gan_eval.verdict(s, sparsities=(0.5,))
    assert "At 50%: GAN 0.800" in text and "random with one channel per layer: yes (+15.0 points)" in text
    assert gan_eval.gan_collapse_rate(s) == pytest.approx(1 / 3)


def test_configs_and_overview():
    cfg = gan_eval.configs(smoke=True)
    assert len(cfg.bank.baselines) == gan_eval.SMOKE["bank_seeds"] and cfg.bank_linear.include_linear
    assert cfg.compare.baseline == cfg.bank.baselines[0] and cfg.transfer.baseline.model == "lenet5-caffe"
    full = gan_eval.configs()
    assert full.bank.baselines[0].init_seed == 0 and full.compare.samples >= 5
    over = gan_eval.mask_space_overview(full)
    assert set(over["setting"]) == {"conv only", "conv + hidden linear"}
    row = over[(over["model"] == "lenet5") & (over["setting"] == "conv only") & np.isclose(over["sparsity"], 0.9)]
    assert int(row["n_masks"].iloc[0]) == 231
    with pytest.raises(ValueError, match="bank_seeds"):
        gan_eval.configs(bank_seeds=0)


def test_keep_map_and_plots(setup):
    b, g = setup
    keep = gan_eval.keep_map(g, b.baselines[0].model, (0.5, 0.9))
    assert len(keep) == 2 * 22 and keep["keep_prob"].between(0, 1).all()
    assert keep.groupby("sparsity")["keep_prob"].sum().round(2).tolist() == [11.0, 2.0]
    assert set(gan_eval.l1_agreement(keep).columns) == {"sparsity", "layer", "spearman"}
    import matplotlib

    matplotlib.use("Agg")
    for fig in (plots_gan.keep_map(keep), plots_gan.losses(g.history),
                plots_gan.bank_layers(b.layer_table(GoodRule(margin=0.05)))):
        assert fig.axes
