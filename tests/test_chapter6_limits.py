"""What limits the GAN (chapter 6, :mod:`prunegan.chapters.part2.limits`): the fit's limits on exhaustive
landscapes (the form's ceiling, the features, capacity) and the margins against the number of training
networks, with their CIs over the right units."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import kernel_digest
from prunegan import gan
from prunegan.analysis.stats import mean_ci
from prunegan.chapters.part2 import limits
from prunegan.chapters.part2.summary import Chapter6Summary, Interval
from prunegan.gan import GanConfig
from prunegan.runs.bank import Bank

FEATURES = ("l1_z_layer", "l1_rank_layer", "depth", "log_width", "width_share", "log_fan_in", "is_linear")
LIKELIHOOD = GanConfig(steps=0, likelihood_steps=40, hidden=8, features=FEATURES, networks=(0, 1), seed=3,
                       weight_temperature=0.2)
#: Soft-weighted bank of the hand-made landscape at temperature 0.2 (the 0.9 mask weighs 1, the others e^−2).
SOFT = (0.9 + 95 * np.exp(-2) * 0.5) / (1 + 95 * np.exp(-2))


@pytest.fixture(scope="module")
def landscape_bank():
    """The hand-made bank (every collapse-free conv 90 % mask of three LeNet-5s, the largest-|w| pair labelled
    0.9, the others 0.5) as an exhaustive landscape with validation labels."""
    b = kernel_digest.hand_made_bank(3)
    frame = b.frame.assign(method="exhaustive", val_acc=b.frame["retrained_acc"])
    return Bank(b.config, b.baselines, frame)


def test_the_fit_limits_on_a_landscape(landscape_bank):
    final = gan.fit(landscape_bank, LIKELIHOOD, progress=False)
    rows = limits.fit_limits(landscape_bank, SimpleNamespace(landscape_sparsity=0.9), final, progress=False)
    assert list(rows["limit"].unique()) == list(limits.LIMITS)
    assert sorted(rows["network"].unique()) == [0, 1]
    by = rows.set_index(["limit", "network"])["val_acc"]
    assert by["soft-bank", 0] == pytest.approx(SOFT)    # the generator's temperature, 0.2
    assert by["untrained", 0] == pytest.approx((0.9 + 95 * 0.5) / 96)
    # the form's best at one channel per layer: the product of the bank's weighted marginals per layer (the
    # best mask's conv1 channel is kept by 16 masks, its conv2 channel by 6), below the bank (no product)
    z, e = 1 + 95 * np.exp(-2), np.exp(-2)
    assert by["form", 0] == pytest.approx(0.5 + 0.4 * (1 + 15 * e) / z * (1 + 5 * e) / z, abs=2e-3)
    assert by["final", 0] == by["likelihood", 0]         # a likelihood-only final is its own stage
    assert len({by["capacity", 0], by["features", 0], by["likelihood", 0]}) == 3
    assert 0.5 < by["capacity", 0] <= 0.9 and 0.5 < by["features", 0] <= 0.9
    gaps = rows.set_index(["limit", "network"])["gap"]
    assert gaps["untrained", 1] == pytest.approx(100 * (by["untrained", 1] - by["soft-bank", 1]))
    summary = limits.limits_summary(rows)
    assert list(summary["limit"]) == list(limits.LIMITS) and set(summary["n"]) == {2}
    shown = limits.limits_display(summary)
    assert shown.iloc[0, 2] == "—" and "[" in shown.iloc[1, 2]


def _fold(k, train, held, generators, criterion):
    protocol = pd.DataFrame([{"method": "best-criterion", "setting": "conv", "sparsity": 0.9, "network": n,
                              "retrained_acc": a} for n, accs in criterion.items() for a in accs])
    cfg = SimpleNamespace(train_networks=train, held_out=held, landscape_sparsity=0.9, critic_steps=5)
    return SimpleNamespace(k=k, cfg=cfg, generators={"conv": {"gan": generators}}, protocol=protocol)


def test_the_size_curve_refits_on_the_first_networks_and_reads_the_folds_criterion(landscape_bank):
    gens = gan.fit_many(landscape_bank, [replace(LIKELIHOOD, seed=s) for s in (0, 1)], progress=False)
    fold = _fold(1, (0, 1), (2,), gens, {2: [0.6, 0.8]})
    rows = limits.size_curve(landscape_bank, [fold], sizes=(1, 2), progress=False)
    # size 2 is all of the fold's training networks: its own generators, not refitted
    assert sorted(rows["networks"].unique()) == [1, 2]
    train = rows[rows["where"] == "training"]
    assert sorted(train[train["networks"] == 1]["network"].unique()) == [1]   # fold 1's window: position 1
    assert sorted(train[train["networks"] == 2]["network"].unique()) == [0, 1]
    assert set(rows[rows["where"] == "held-out"]["network"]) == {2}
    held = rows[rows["where"] == "held-out"]
    assert np.allclose(held["reference"], 0.7)  # the criterion's mean over its pairs
    assert np.allclose(held["gap"], 100 * (held["value"] - held["reference"]))
    assert set(rows["seed"]) == {0, 1}
    # the refitted generators learned from network 1 only: they differ from the fold's on network 2
    v = held.set_index(["networks", "seed"])["value"]
    assert v[1, 0] != v[2, 0]


def test_each_fold_learns_from_its_own_window_of_training_networks():
    folds = [tuple(range(2 * k, 2 * k + 2)) for k in range(5)]          # the chapter's 10 networks, 5 folds
    train = [tuple(n for n in range(10) if n not in held) for held in folds]
    pairs = [limits.training_subset(t, k, 2) for k, t in enumerate(train)]
    assert sorted(n for p in pairs for n in p) == list(range(10))           # disjoint, every network once
    assert all(not set(p) & set(held) for p, held in zip(pairs, folds))
    assert len({limits.training_subset(t, k, 4) for k, t in enumerate(train)}) > 1
    assert limits.training_subset(train[0], 0, 8) == train[0]
    for m in (0, 9):
        with pytest.raises(ValueError, match=f"m={m} training networks"):
            limits.training_subset(train[0], 0, m)


def test_the_size_summary_averages_seeds_within_a_unit_before_the_ci():
    rows = pd.DataFrame([{"where": "held-out", "networks": 2, "fold": 0, "network": n, "seed": s, "gap": g}
                         for n, gs in {5: (1.0, 3.0), 6: (5.0, 7.0), 7: (0.0, 4.0)}.items()
                         for s, g in enumerate(gs)])
    out = limits.size_summary(rows).iloc[0]
    mean, lo, hi = mean_ci([2.0, 6.0, 2.0])               # one value per network, not per (network, seed)
    assert out["n"] == 3
    assert [out["gap"], out["ci_low"], out["ci_high"]] == pytest.approx([mean, lo, hi])
    assert out["ci_low"] != pytest.approx(mean_ci(rows["gap"])[1])
    # training side: a network learned from by two folds is one unit (the mean over its folds and seeds)
    train = pd.DataFrame([{"where": "training", "networks": 2, "fold": f, "network": n, "seed": 0, "gap": g}
                          for f, n, g in ((0, 5, 1.0), (1, 5, 3.0), (0, 6, 6.0), (1, 7, 2.0))])
    got = limits.size_summary(train).iloc[0]
    assert got["n"] == 3 and [got["gap"], got["ci_low"]] == pytest.approx(list(mean_ci([2.0, 6.0, 2.0])[:2]))


def test_the_texts_and_the_scraps_carry_every_value():
    lim = {"form": Interval(-1.2, -1.8, -0.7), "final": Interval(-9.6, -11.5, -7.8),
           "likelihood": Interval(-9.7, -11.7, -7.6), "capacity": Interval(-7.8, -9.5, -6.1),
           "features": Interval(-7.9, -9.7, -6.1), "untrained": Interval(-12.2, -14.6, -9.8)}
    sizes = {("heldout", 2): Interval(-3.0, -5.0, -1.0), ("heldout", 8): Interval(1.5, -0.5, 3.5),
             ("training", 2): Interval(-4.0, -6.0, -2.0)}
    text = limits.limits_text(lim, 0.9)
    for iv in lim.values():
        assert iv.text() in text
    assert "do not overlap" in text                        # the form's CI lies above the final's
    assert "do not overlap" not in limits.limits_text({**lim, "final": Interval(-2.0, -3.0, -1.0)}, 0.9)
    st = limits.size_text(sizes, 0.9)
    assert "2: −3.0 [−5.0, −1.0], 8: +1.5 [−0.5, +3.5]" in st and "2: −4.0 [−6.0, −2.0]" in st
    table = limits.limits_table(lim)
    assert list(table["distribution"]) == [limits.LIMITS[k] for k in limits.LIMITS if k != "soft-bank"]
    assert table.iloc[1, 1] == "−9.6 [−11.5, −7.8]"
    st = limits.size_table(sizes).set_index("training networks")
    assert list(st.index) == ["2", "8"]
    assert list(st.loc["2"]) == ["−3.0 [−5.0, −1.0]", "−4.0 [−6.0, −2.0]"]
    assert list(st.loc["8"]) == ["+1.5 [−0.5, +3.5]", "–"]                # not measured: no number
    s = Chapter6Summary(limits=lim, sizes=sizes)
    scraps = s.to_scraps()
    assert scraps["limit_form_ci_low"] == -1.8 and scraps["size_heldout_8"] == 1.5
    back = Chapter6Summary.from_scraps(scraps)
    assert back.limits == lim and back.sizes == sizes


def test_the_soft_bank_is_the_weighted_mean_of_the_labels(landscape_bank):
    from prunegan.chapters.part2.fits import soft_bank

    got = soft_bank(landscape_bank, (0, 1), 0.2).set_index("network")["bank_val_acc"]
    for ex in gan.from_bank(landscape_bank, networks=(0, 1), temperature=0.2, features=("depth",)):
        assert got[ex.network] == pytest.approx(float(ex.weights @ ex.accuracy.double()), abs=1e-6)
    assert 0.5 < got[0] < 0.9                                  # temperature 0.2: between best and mean
    with pytest.raises(ValueError, match=r"networks \[7\] are not in the bank"):
        soft_bank(landscape_bank, (0, 7), 0.2)
