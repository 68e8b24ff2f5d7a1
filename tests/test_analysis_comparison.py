"""prunegan.analysis.comparison: per-trial pairing, cell tables, paired statistics in points, exhaustive
landscapes (percentiles, exact expected accuracy, percentile of a value), the SD's chi-square CI,
landscape statistics and the compute table: known answers computed by hand or with scipy."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from prunegan.analysis import comparison as C
from prunegan.analysis.stats import mean_ci, paired_difference


def protocol_frame():
    """Two held-out networks at 90 % in conv+linear, 20 trials. random-min1 = 0.60 + noise(i); l1-min1 is
    fixed (0.70 on net 3, 0.90 on net 4); gan has two rows per trial (0.79 and 0.80 + noise(i));
    random-min1+critic = 0.75 + noise(i); best-bank 0.80. gan − random-min1 = +19.5 points exactly."""
    rows = []
    for net in (3, 4):
        for i in range(20):
            noise = 0.01 * ((i * 7) % 5 - 2)
            acc = {"random-min1": 0.60 + noise, "l1-min1": 0.70 if net == 3 else 0.90, "best-bank": 0.80,
                   "random-min1+critic": 0.75 + noise}
            for method, a in acc.items():
                rows.append({"setting": "conv+linear", "network": net, "sparsity": 0.9, "method": method,
                             "label": method.upper(), "trial": i, "retrained_acc": a, "collapsed": False,
                             "key": method if method in ("l1-min1", "best-bank") else f"{method}{i % 4}",
                             "seconds": 2.0, "propose_seconds": 0.0})
            for seed, shift in ((0, 0.0), (1, 0.01)):
                rows.append({"setting": "conv+linear", "network": net, "sparsity": 0.9, "method": "gan",
                             "label": "GAN", "trial": i, "generator_seed": seed,
                             "retrained_acc": 0.79 + shift + noise, "collapsed": seed == 1 and i < 4,
                             "key": f"g{seed}{i}", "seconds": 2.0, "propose_seconds": 0.5})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ per trial, cells
def test_per_trial_averages_several_rows_of_one_trial():
    df = protocol_frame()
    net3 = df[df["network"] == 3]
    g = C.per_trial(net3, "gan")
    assert list(g.index) == list(range(20))
    noise = [0.01 * ((i * 7) % 5 - 2) for i in range(20)]
    assert g.to_numpy() == pytest.approx([0.795 + n for n in noise])
    assert C.per_trial(net3, "l1-min1").to_numpy() == pytest.approx([0.70] * 20)
    assert C.per_trial(net3, "nope").empty


def test_cell_table_counts_masks_distinct_masks_collapse_and_the_t_interval():
    df = protocol_frame()
    cells = C.cell_table(df).set_index(["network", "method"])
    gan = cells.loc[(3, "gan")]
    assert gan["n"] == 40 and gan["distinct"] == 40 and gan["collapse_rate"] == pytest.approx(4 / 40)
    assert gan["label"] == "GAN" and gan["setting"] == "conv+linear" and gan["sparsity"] == 0.9
    g = df[(df["network"] == 3) & (df["method"] == "gan")]["retrained_acc"]
    assert (gan["mean"], gan["ci_low"], gan["ci_high"]) == pytest.approx(mean_ci(g))
    rnd = cells.loc[(4, "random-min1")]
    assert rnd["n"] == 20 and rnd["distinct"] == 4 and rnd["collapse_rate"] == 0
    l1 = cells.loc[(4, "l1-min1")]
    assert l1["distinct"] == 1 and l1["mean"] == pytest.approx(0.90) and l1["ci_low"] == pytest.approx(0.90)
    # methods in order of appearance, one row per (cell, method)
    assert C.cell_table(df)["method"].tolist()[:5] == ["random-min1", "l1-min1", "best-bank",
                                                       "random-min1+critic", "gan"]
    assert len(cells) == 10


def test_cell_pivot_has_one_column_per_method_in_order():
    cells = C.cell_table(protocol_frame())
    piv = C.cell_pivot(cells)
    assert list(piv.columns) == ["random-min1", "l1-min1", "best-bank", "random-min1+critic", "gan"]
    assert piv.loc[("conv+linear", 4, 0.9), "l1-min1"] == pytest.approx(0.9)
    assert piv.loc[("conv+linear", 3, 0.9), "l1-min1"] == pytest.approx(0.7)
    assert C.cell_pivot(cells, "n").loc[("conv+linear", 3, 0.9), "gan"] == 40


def test_cost_columns_sit_beside_the_accuracy():
    df = protocol_frame()
    # hand-made costs: the fixed l1-min1 mask keeps 30 % of MACs, the GAN's masks alternate 20 % / 40 %
    df["macs_kept"] = np.where(df["method"] == "gan", np.where(df["trial"] % 2 == 0, 0.2, 0.4), 0.3)
    df["params_kept"] = np.where(df["network"] == 3, 0.5, 0.7)
    cells = C.cell_table(df).set_index(["network", "method"])
    assert cells.loc[(3, "gan"), "macs_kept"] == pytest.approx(0.3)
    assert cells.loc[(4, "l1-min1"), "macs_kept"] == pytest.approx(0.3)
    assert cells.loc[(4, "gan"), "params_kept"] == pytest.approx(0.7)
    table = C.accuracy_and_cost(C.cell_table(df)).set_index("method")
    assert list(table.index) == ["random-min1", "l1-min1", "best-bank", "random-min1+critic", "gan"]
    assert table.loc["l1-min1", "accuracy"] == pytest.approx(0.80)  # mean of networks 3 (0.70) and 4 (0.90)
    assert table.loc["gan", "params_kept"] == pytest.approx(0.6) and table.loc["gan", "networks"] == 2
    assert list(table.columns) == ["setting", "sparsity", "accuracy", "macs_kept", "params_kept", "networks"]
    # a frame without the cost columns: NaN, not an error
    assert C.cell_table(protocol_frame())["macs_kept"].isna().all()


# ------------------------------------------------------------------------------------ paired statistics
def test_paired_stats_equal_paired_difference_of_the_per_trial_means_in_points():
    df = protocol_frame()
    p = C.paired_stats(df, ["gan"])
    assert set(p["other"]) == {"random-min1", "l1-min1", "best-bank", "random-min1+critic"}  # never gan − gan
    assert (p["statistic"] == "paired").all() and (p["method"] == "gan").all() and (p["n"] == 20).all()
    for r in p.itertuples():
        g = df[df["network"] == r.network]
        a, b = C.per_trial(g, "gan"), C.per_trial(g, r.other)
        d = paired_difference(a, b)
        points = (100 * d["mean"], 100 * d["ci_low"], 100 * d["ci_high"])
        assert (r.value, r.ci_low, r.ci_high) == pytest.approx(points)
    row = p[(p["network"] == 3) & (p["other"] == "random-min1")].iloc[0]
    # the noise cancels in pairs
    assert row["value"] == pytest.approx(19.5) and row["ci_low"] == pytest.approx(19.5)
    row = p[(p["network"] == 4) & (p["other"] == "l1-min1")].iloc[0]
    assert row["value"] == pytest.approx(-10.5)
    assert list(p.columns) == ["statistic", "method", "other", "setting", "network", "sparsity", "n", "value",
                               "ci_low", "ci_high"]


def test_paired_stats_pair_by_trial_not_by_row_order():
    df = protocol_frame()
    shuffled = df.sample(frac=1.0, random_state=0)
    a = C.paired_stats(df, ["gan"], ["random-min1"]).sort_values("network").reset_index(drop=True)
    b = C.paired_stats(shuffled, ["gan"], ["random-min1"]).sort_values("network").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    # trials missing on one side are left out of the pairs
    gone = df[~((df["method"] == "random-min1") & (df["trial"] >= 15))]
    p = C.paired_stats(gone, ["gan"], ["random-min1"])
    assert (p["n"] == 15).all() and p["value"].tolist() == pytest.approx([19.5, 19.5])


def test_paired_stats_with_others_and_absent_methods():
    df = protocol_frame()
    p = C.paired_stats(df, ["gan", "random-min1+critic", "absent"], others=["random-min1", "absent", "gan"])
    assert sorted(set(zip(p["method"], p["other"]))) == [
        ("gan", "random-min1"), ("random-min1+critic", "gan"), ("random-min1+critic", "random-min1")]
    one = p[(p["method"] == "random-min1+critic") & (p["other"] == "gan") & (p["network"] == 3)].iloc[0]
    assert one["value"] == pytest.approx(-4.5)
    empty = C.paired_stats(df, ["absent"])
    assert empty.empty and "ci_low" in empty.columns


# ------------------------------------------------------------------------------------ landscapes
def test_landscape_percentiles_are_numpy_quantiles():
    labels = [0.1 * i for i in range(11)]
    p = C.landscape_percentiles(labels)
    assert p == pytest.approx({"p50": 0.5, "p85": float(np.quantile(labels, 0.85)), "p100": 1.0})
    assert set(C.landscape_percentiles(labels, (0.25, 0.9))) == {"p25", "p90"}


def test_expected_accuracy_is_the_probability_weighted_mean():
    assert C.expected_accuracy([0.5, 0.25, 0.25], [0.9, 0.5, 0.7]) == pytest.approx(0.45 + 0.125 + 0.175)
    assert C.expected_accuracy([0.0, 1.0, 0.0], [0.9, 0.5, 0.7]) == pytest.approx(0.5)
    # probabilities of the landscape's masks that sum to less than 1 are renormalised over the landscape
    assert C.expected_accuracy([0.25, 0.25, 0.0], [0.9, 0.5, 0.7]) == pytest.approx(0.7)
    with pytest.raises(ValueError, match=r"probabilities \(2,\) and labels \(3,\)"):
        C.expected_accuracy([0.5, 0.5], [0.9, 0.5, 0.7])


def test_percentile_of_is_the_share_strictly_below():
    labels = [0.1, 0.2, 0.3, 0.4]
    assert C.percentile_of(0.35, labels) == 75.0
    assert C.percentile_of(0.3, labels) == 50.0  # equal labels are not below
    assert C.percentile_of(0.05, labels) == 0.0 and C.percentile_of(0.5, labels) == 100.0


def test_sd_ci_is_the_chi_square_interval():
    x = [1.0, 2.0, 4.0, 7.0, 11.0]
    sd, low, high = C.sd_ci(x)
    s, n = float(np.std(x, ddof=1)), len(x)
    assert sd == pytest.approx(s)
    assert low == pytest.approx(math.sqrt((n - 1) * s ** 2 / sps.chi2.ppf(0.975, n - 1)))
    assert high == pytest.approx(math.sqrt((n - 1) * s ** 2 / sps.chi2.ppf(0.025, n - 1)))
    assert low < sd < high
    # known values: n = 20, s = 1 gives [0.7605, 1.4606] (chi2 with 19 d.o.f.)
    twenty = np.r_[np.zeros(10), np.ones(10)]
    sd, low, high = C.sd_ci(twenty / np.std(twenty, ddof=1))
    assert sd == pytest.approx(1.0) and (low, high) == pytest.approx((0.7605, 1.4606), abs=1e-4)
    _, low90, high90 = C.sd_ci(x, confidence=0.90)
    assert C.sd_ci(x)[1] < low90 and high90 < C.sd_ci(x)[2]
    assert all(math.isnan(v) for v in C.sd_ci([3.0]))
    assert C.sd_ci([2.0, 2.0, 2.0]) == (0.0, 0.0, 0.0)


def test_landscape_stats_give_mean_expected_accuracy_and_seed_sd_rows():
    expected = pd.DataFrame([{"method": m, "setting": "conv", "network": n, "sparsity": 0.9, "seed": s,
                              "expected_acc": base + 0.01 * s}
                             for m, base in (("gan", 0.70), ("gan-discriminator-only", 0.60))
                             for n in (8, 9) for s in range(5)])
    lands = pd.DataFrame([{"setting": "conv", "network": n, "sparsity": 0.9, "masks": 96, "p50": 0.6,
                           "p85": 0.70 + 0.01 * (n - 8), "p100": 0.8} for n in (8, 9)])
    st = C.landscape_stats(expected, lands)
    assert list(st.columns) == ["statistic", "method", "other", "setting", "network", "sparsity", "n",
                                "value", "ci_low", "ci_high", "threshold"]
    assert len(st) == 8  # (landscape, seed_sd) × 2 methods × 2 networks
    land = st[(st["statistic"] == "landscape") & (st["method"] == "gan")].set_index("network")
    values = [0.70 + 0.01 * s for s in range(5)]
    nine = land.loc[9]
    assert (nine["value"], nine["ci_low"], nine["ci_high"]) == pytest.approx(mean_ci(values))
    assert land.loc[8, "threshold"] == pytest.approx(0.70) and land.loc[9, "threshold"] == pytest.approx(0.71)
    assert (land["other"] == "p85").all() and (land["n"] == 5).all()
    sd = st[(st["statistic"] == "seed_sd") & (st["method"] == "gan")].iloc[0]
    assert (sd["value"], sd["ci_low"], sd["ci_high"]) == pytest.approx(C.sd_ci([100 * v for v in values]))
    assert sd["value"] == pytest.approx(100 * np.std(values, ddof=1))  # in points
    assert pd.isna(sd["other"]) and math.isnan(sd["threshold"])
    p50 = C.landscape_stats(expected, lands, quantile="p50")
    assert (p50.loc[p50["statistic"] == "landscape", "threshold"] == 0.6).all()


def test_compute_table_in_retraining_equivalents():
    df = protocol_frame()
    t = C.compute_table(df, one_off={"gan": "bank + fits"}).set_index("method")
    assert t.loc["gan", "retrain_s_per_mask"] == 2.0 and t.loc["gan", "propose_s_per_mask"] == 0.5
    assert t.loc["gan", "retrain_equivalents_per_mask"] == pytest.approx(1.25)
    assert t.loc["l1-min1", "retrain_equivalents_per_mask"] == 1.0
    assert t.loc["gan", "one_off"] == "bank + fits" and t.loc["l1-min1", "one_off"] == "none"
    assert list(t.index) == ["random-min1", "l1-min1", "best-bank", "random-min1+critic", "gan"]


# ------------------------------------------------------------------------------------ over networks
def test_over_networks_is_the_t_interval_of_the_per_network_paired_means():
    paired = C.paired_stats(protocol_frame(), ["gan"], ["l1-min1", "random-min1"])
    nets = C.over_networks(paired).set_index("other")
    # gan − l1-min1: network 3 +9.5, network 4 −10.5 (the GAN's two rows per trial average 0.795 + noise)
    per = paired.set_index(["other", "network"])["value"]
    assert per[("l1-min1", 3)] == pytest.approx(9.5) and per[("l1-min1", 4)] == pytest.approx(-10.5)
    row = nets.loc["l1-min1"]
    assert (row["statistic"], row["network"], row["n"], row["pairs"]) == ("networks_paired", "all", 2, 40)
    assert (row["value"], row["ci_low"], row["ci_high"]) == pytest.approx(mean_ci([9.5, -10.5]))
    assert nets.loc["random-min1", "ci_low"] == pytest.approx(19.5)  # the same margin on both networks
    # one network is no population: no row; two are enough
    assert C.over_networks(paired[paired["network"] == 3]).empty
    assert len(C.over_networks(paired[paired["network"] == 3], min_networks=1)) == 2
    twice = pd.concat([paired, paired[(paired["network"] == 3) & (paired["other"] == "l1-min1")]])
    with pytest.raises(ValueError, match=r"gan − l1-min1 at conv\+linear 0.9: network\(s\) \[3\] appear"):
        C.over_networks(twice)


def test_pooled_sd_pools_the_variances_within_groups_with_a_chi_square_interval():
    a, b = [1.0, 2.0, 3.0], [10.0, 14.0]
    sd, lo, hi, dof = C.pooled_sd_ci([a, b, [5.0]])  # a group of one adds nothing
    assert dof == 3 and sd == pytest.approx(np.sqrt((2 * 1.0 + 1 * 8.0) / 3))
    assert lo == pytest.approx(sd * np.sqrt(3 / sps.chi2.ppf(0.975, 3)))
    assert hi == pytest.approx(sd * np.sqrt(3 / sps.chi2.ppf(0.025, 3)))
    assert math.isnan(C.pooled_sd_ci([[1.0], [2.0]])[0])


def test_landscape_over_networks_gaps_to_the_percentile_and_pooled_seed_sd():
    expected = pd.DataFrame([{"method": "gan", "setting": "conv", "network": n, "sparsity": 0.9, "seed": s,
                              "expected_acc": base + 0.01 * s}
                             for n, base in ((0, 0.70), (1, 0.60), (2, 0.65)) for s in range(3)])
    lands = pd.DataFrame({"setting": "conv", "network": [0, 1, 2], "sparsity": 0.9,
                          "p85": [0.70, 0.70, 0.60]})
    out = C.landscape_over_networks(expected, lands).set_index("statistic")
    gaps = [100 * (0.71 - 0.70), 100 * (0.61 - 0.70), 100 * (0.66 - 0.60)]  # +1, −9, +6 points
    land = out.loc["networks_landscape"]
    assert (land["value"], land["ci_low"], land["ci_high"]) == pytest.approx(mean_ci(gaps))
    assert land["n"] == 3 and land["other"] == "p85" and land["network"] == "all"
    sd = out.loc["networks_seed_sd"]
    assert sd["value"] == pytest.approx(1.0) and sd["n"] == 6  # every network: SD 1 point over 3 seeds
    assert C.landscape_over_networks(expected[expected["network"] == 0], lands).empty  # one network
