"""chapters.part2.tables (and report.ablation): chapter 6's small tables, formatted numbers and the sentences
after each section."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prunegan.analysis import comparison
from prunegan.chapters import format as fmt
from prunegan.chapters.part2 import choices, report, tables


def _cells():
    rows = []
    for setting in ("conv", "conv+linear"):
        for s in (0.8, 0.9):
            for net, shift in ((0, 0.0), (1, 0.02)):
                for method, label, m in (("gan", "GAN", 0.90), ("gan-mode", "mode", 0.91),
                                         ("uniform-collapse-free", "uniform", 0.88),
                                         ("best-criterion", "best", 0.92), ("random-min1", "random", 0.80),
                                         ("l1-min1", "L1, min 1/layer", 0.85)):
                    rows.append({"setting": setting, "sparsity": s, "network": net, "method": method,
                                 "label": label, "mean": m + shift})
    return pd.DataFrame(rows)


def test_numbers_are_formatted_for_a_reader():
    assert fmt.acc(0.91234) == "0.912" and fmt.acc(float("nan")) == "–"
    assert fmt.pts(-0.34) == "−0.3" and fmt.pts(1.25) == "+1.2" and fmt.pts(None) == "–"
    assert fmt.pts_ci(-1.0, -2.5, 0.5) == "−1.0 [−2.5, +0.5]"
    table = fmt.markdown_table(pd.DataFrame({"a": ["0.900"], "b": ["x"]}))
    assert table.splitlines()[0].replace(" ", "") == "|a|b|"  # no index column


def test_key_comparison_pivots_to_the_gan_and_its_baselines():
    t = tables.key_comparison(_cells())
    assert list(t.columns) == ["setting", "sparsity", "GAN", "GAN's mode", "untrained generator",
                               "best criterion", "random-min1"]
    assert len(t.columns) <= 7 and len(t) == 4
    assert t.iloc[0].tolist() == ["conv", "80 %", "0.910", "0.920", "0.890", "0.930", "0.810"]
    rest = tables.other_methods(_cells())
    assert rest["method"].tolist() == ["L1, min 1/layer"] and rest.iloc[0]["conv 90 %"] == "0.860"
    with pytest.raises(ValueError, match="none of the methods"):
        tables.key_comparison(_cells(), {"nope": "Nope"})


def _stats():
    rows = []
    for other, v in (("best-criterion", -2.0), ("uniform-collapse-free", 1.0), ("random-min1", 10.0)):
        for n, d in ((0, -1.0), (1, 1.0), (2, 0.0)):
            rows.append({"statistic": "paired", "method": "gan", "other": other, "setting": "conv",
                         "network": n, "sparsity": 0.9, "n": 4, "value": v + d, "ci_low": v + d - 1,
                         "ci_high": v + d + 1})
    per = pd.DataFrame(rows)
    return pd.concat([per, comparison.over_networks(per)], ignore_index=True)


def test_comparison_text_quotes_the_pooled_margins_with_their_ci():
    stats = _stats()
    text = tables.comparison_text(stats)
    best = stats[(stats["statistic"] == "networks_paired") & (stats["other"] == "best-criterion")].iloc[0]
    assert f"conv 90 %: {fmt.pts_ci(best['value'], best['ci_low'], best['ci_high'])}" in text
    assert text.count(". ") == 1 and text.endswith(".")  # two sentences
    assert "random-min1: conv 90 %: +10.0" in text


def _keep(within_noise: float):
    rng = np.random.default_rng(0)
    rows = []
    for layer, n, p in (("conv1", 6, 0.2), ("conv2", 16, 0.9)):
        for c in range(n):
            rows.append({"layer": layer, "channel": c, "sparsity": 0.9,
                         "keep_prob": p + within_noise * rng.standard_normal()})
    return pd.DataFrame(rows)


def test_keep_spread_calls_a_map_flat_only_when_within_layer_spread_is_small():
    flat = choices.keep_spread(_keep(0.0)).iloc[0]
    assert flat["within"] == 0.0 and flat["between"] == pytest.approx(0.35) and flat["flat"]
    just_below = choices.keep_spread(_keep(0.0), flat_share=0.5).iloc[0]
    assert just_below["flat"]
    ranked = choices.keep_spread(_keep(0.2)).iloc[0]
    assert ranked["within"] > choices.FLAT_SHARE * ranked["between"] and not ranked["flat"]
    assert "is flat within layers" in choices.keep_text(choices.keep_spread(_keep(0.0)))
    assert "not flat within layers" in choices.keep_text(choices.keep_spread(_keep(0.2)))
    # the rule on both sides of its threshold: within / between = 0.2 exactly is flat, a bit above is not
    spread = choices.keep_spread(_keep(0.05)).iloc[0]
    ratio = spread["within"] / spread["between"]
    assert choices.keep_spread(_keep(0.05), flat_share=ratio + 1e-9).iloc[0]["flat"]
    assert not choices.keep_spread(_keep(0.05), flat_share=ratio - 1e-9).iloc[0]["flat"]
    with pytest.raises(ValueError, match="flat_share must be in"):
        choices.keep_spread(_keep(0.0), flat_share=1.5)


def _overview():
    rows = []
    for k, chosen in ((0, (0.0, 0.0)), (1, (0.1, 0.0))):
        for e, c, a in ((0.1, 0.0, 1.5), (0.3, 1.0, -0.5)):
            rows.append({"fold": k, "entropy_weight": e, "critic_weight": c, "networks": 7, "advantage": a,
                         "ci_low": a - 1.0 if k else a - 2.0, "ci_high": a + 1.0,
                         "clears": bool(k) and a > 0, "chosen": (e, c) == chosen})
    return pd.DataFrame(rows)


def test_design_tables_and_text_read_the_overview():
    ov = _overview()
    pivot = choices.design_pivot(ov)
    assert list(pivot.columns) == ["entropy", "critic", "fold 0", "fold 1"]
    assert pivot.iloc[0].tolist() == ["0.1", "0", "+1.5", "+1.5 ✓"]
    detail = choices.design_detail(ov)
    assert detail.iloc[3].tolist() == [1, "0.3", "1", "−0.5", "[−1.5, +0.5]", "no", ""]
    text = choices.design_text(ov, (0.1, 0.0))
    assert text.startswith("In 1 of 2 folds") and "entropy weight 0.1 and critic weight 0" in text


def test_ablation_row_is_the_variant_actually_fitted():
    rows = []
    for method in ("gan", "gan-from-scratch", "uniform-collapse-free"):
        for n in (0, 1, 2):
            rows.append({"statistic": "paired", "method": method, "other": "random-min1", "setting": "conv",
                         "network": n, "sparsity": 0.9, "n": 4, "value": 2.0 + n, "ci_low": 1.0 + n,
                         "ci_high": 3.0 + n})
    per = pd.DataFrame(rows)
    stats = pd.concat([per, comparison.over_networks(per)], ignore_index=True)
    ab = report.ablation(stats)
    assert report.ABLATION["gan-from-scratch"] in ab.index
    assert report.ABLATION["gan-likelihood"] not in ab.index  # not measured: no all-"–" row
    assert (ab != "–").any(axis=1).all()


def test_fold_feature_and_criterion_tables_read_each_folds_own_features():
    from types import SimpleNamespace

    def fold(k, features, means, signal):
        return SimpleNamespace(
            k=k, cfg=SimpleNamespace(held_out=(k,)), chosen=(0.0, 1.0 if k else 0.0),
            features=("depth", *features),
            signal_summary=pd.DataFrame({"feature": ["l1_z_layer", "taylor_z_layer"], "mean": means,
                                         "signal": signal}),
            best=pd.DataFrame({"setting": ["conv"], "sparsity": [0.9], "best": [True],
                               "ties": ["l1-min1 = tp-lamp-min1" if k else "l1-min1"]}))
    folds = [fold(0, ("taylor_z_layer",), [0.1, 0.5], [False, True]),
             fold(1, (), [0.3, 0.1], [True, False])]
    ft = choices.fold_table(folds)
    assert ft.to_dict("records")[0] == {"fold": 0, "held out": "0", "design": "entropy 0, critic 0",
                                        "channel features read": 1}
    assert ft.iloc[1]["channel features read"] == 0
    feats = choices.feature_table(folds)
    assert feats["feature"].tolist() == ["taylor_z_layer", "l1_z_layer"]  # mean 0.3 before 0.2
    assert feats.iloc[0].tolist() == ["taylor_z_layer", "+0.300", "1/2", "1/2"]
    assert feats.iloc[1]["read by the generator"] == "0/2"
    assert "1 of 2 candidates are read" in choices.feature_text(folds)
    best = choices.best_criterion_table(folds)
    assert best.to_dict("records") == [{"fold": 0, "conv 90 %": "l1-min1"},
                                       {"fold": 1, "conv 90 %": "l1-min1 = tp-lamp-min1"}]


def test_mask_space_display_writes_counts_as_integers():
    from prunegan.chapters.part2 import overview

    table = pd.DataFrame({"model": ["lenet5", "lenet5"], "setting": ["conv", "conv+linear"],
                          "sparsity": [0.9, 0.8], "n_channels": [22, 226], "n_kept": [2, 45],
                          "n_masks_no_collapse": [96.0, 4.72e47],
                          "log10_masks_no_collapse": [np.log10(96), np.log10(4.72e47)]})
    out = overview.mask_space_display(table)
    assert out["collapse-free masks"].tolist() == ["96", "4.7 × 10⁴⁷"]
    assert out.iloc[0]["sparsity"] == "90 %" and out.iloc[0]["channels"] == "22"


def _fits(df: pd.DataFrame) -> bool:
    """The page column rule of the HTML check (:mod:`prunegan.book.html_checks`) on a formatted table."""
    from prunegan.book import html_checks as hc

    rows = [list(map(str, df.columns))] + [list(map(str, r)) for r in df.itertuples(index=False)]
    return hc.table_width_px(rows) <= hc.COLUMN_PX


def test_critic_table_pools_networks_with_a_t_ci_and_fits_the_page():
    from prunegan.analysis.stats import mean_ci

    rows = [{"setting": "conv", "network": n, "sparsity": 0.9, "spearman": v,
             "spearman_collapse_free": v - 0.1}
            for n, v in enumerate([0.2, 0.4, 0.6])]
    rows.append({"setting": "conv+linear", "network": 0, "sparsity": 0.9, "spearman": -0.5,
                 "spearman_collapse_free": np.nan})
    t = choices.critic_table(pd.DataFrame(rows))
    m, lo, hi = mean_ci([0.2, 0.4, 0.6])
    assert t.iloc[0]["rank corr., all masks"] == f"{m:.2f} [{lo:.2f}, {hi:.2f}]".replace("-", "−")
    assert t.iloc[0]["networks"] == 3 and t.iloc[0]["sparsity"] == "90 %"
    assert t.iloc[1]["rank corr., all masks"] == "−0.50"  # one network: no interval
    assert t.iloc[1]["rank corr., collapse-free"] == "–"
    assert _fits(t)


def test_allocation_table_sums_keep_probabilities_per_layer():
    keep = pd.DataFrame([{"sparsity": s, "layer": la, "channel": c, "keep_prob": p, "l1": w}
                         for s in (0.8, 0.9)
                         for la, ps in (("conv1", [0.5, 0.5]), ("fc1", [0.9, 0.4, 0.2]))
                         for c, (p, w) in enumerate(zip(ps, [3.0, 2.0, 1.0]))])
    agreement = pd.DataFrame({"sparsity": [0.8, 0.9], "layer": ["fc1", "fc1"], "spearman": [1.0, -0.25]})
    t = choices.allocation_table(keep, agreement)
    assert list(t.columns) == ["layer", "channels", "kept at 80 %", "ρ with |w| at 80 %", "kept at 90 %",
                               "ρ with |w| at 90 %"]
    assert t.iloc[1].tolist() == ["fc1", 3, "1.5", "1.00", "1.5", "−0.25"]
    assert t.iloc[0]["ρ with |w| at 80 %"] == "–"  # equal probabilities: no rank correlation
    assert _fits(t)


def test_collapse_table_sums_masks_and_says_when_a_count_was_not_exact():
    c = pd.DataFrame({"setting": ["conv", "conv", "conv+linear"], "masks": [20, 20, 20],
                      "collapsed": [0, 1, 0], "exact_count": [True, True, False]})
    t = choices.collapse_table(c)
    assert t.to_dict("records") == [
        {"setting": "conv", "masks sampled": 40, "with a collapsed layer": 1,
         "exact channel count": "every mask"},
        {"setting": "conv+linear", "masks sampled": 20, "with a collapsed layer": 0,
         "exact channel count": "not every mask"}]


def test_cost_and_distinct_tables_keep_the_key_methods_in_order():
    cells = _cells().assign(macs_kept=0.1234, params_kept=0.5, n=4,
                            distinct=lambda d: np.where(d["network"] == 0, 4, 3))
    t = tables.cost_table(cells)
    assert t["method"].tolist()[:5] == list(tables.KEY_METHODS.values())
    assert len(t) == 4 * len(tables.KEY_METHODS)  # l1-min1 is not a key method
    assert t.iloc[0][["accuracy", "MACs kept", "parameters kept"]].tolist() == ["0.910", "12.3 %", "50.0 %"]
    d = tables.distinct_table(cells[~((cells["method"] == "l1-min1") & (cells["setting"] == "conv"))])
    assert list(d.columns) == ["method", "conv 80 %", "conv 90 %", "conv+linear 80 %", "conv+linear 90 %"]
    assert d.iloc[0].tolist() == ["gan", "3.5 / 4", "3.5 / 4", "3.5 / 4", "3.5 / 4"]
    assert d[d["method"] == "l1-min1"].iloc[0]["conv 80 %"] == "–"
    assert _fits(t) and _fits(d)


def test_landscape_and_transfer_tables():
    reported = pd.DataFrame({"setting": "conv", "network": [0, 1], "sparsity": 0.9, "masks": 96,
                             "p50": [0.7, 0.71], "p85": [0.75, 0.76], "p100": [0.8, 0.81]})
    expected = pd.DataFrame({"network": [0, 0, 0, 1], "method": ["gan", "gan", "gan-mode", "gan"],
                             "expected_acc": [0.76, 0.78, 0.79, 0.74],
                             "percentile": [90.0, 94.0, 93.0, 60.0]})
    t = tables.landscape_table(reported, expected)
    assert t.iloc[0].tolist() == [0, "0.700", "0.750", "0.800", "0.770", "92", "0.790", "93"]
    assert t.iloc[1]["mode acc"] == "–"
    tc = pd.DataFrame({"label": ["GAN", "GAN", "L1"], "sparsity": [0.8, 0.9, 0.8], "mean": [0.9, 0.8, 0.85],
                       "ci_low": [0.88, 0.78, 0.84], "ci_high": [0.92, 0.82, 0.86]})
    tt = tables.transfer_table(tc)
    assert tt.to_dict("records") == [{"method": "GAN", "80 %": "0.900 [0.880, 0.920]",
                                      "90 %": "0.800 [0.780, 0.820]"},
                                     {"method": "L1", "80 %": "0.850 [0.840, 0.860]", "90 %": "–"}]
    assert _fits(t) and _fits(tt)


def test_ablation_and_compute_displays_move_long_text_out_of_the_table():
    ab = pd.DataFrame({"beats random-min1": ["1/4", "0/4"], "at least L1-min1": ["3/4", "–"]},
                      index=["GAN (chosen design)", "uniform collapse-free (untrained generator)"])
    t, legend = tables.ablation_display(ab)
    assert list(t.columns) == ["variant", "T1", "T2"] and t.iloc[1].tolist()[2] == "–"
    assert legend.splitlines() == ["- **T1**: beats random-min1", "- **T2**: at least L1-min1"]
    compute = pd.DataFrame({"method": ["gan", "gan-mode", "random-min1", "best-bank"],
                            "retrain_s_per_mask": [0.37, 0.38, 0.31, 0.35],
                            "propose_s_per_mask": [0.22, 0.11, 0.0009, 5e-7],
                            "retrain_equivalents_per_mask": [1.611, 1.297, 1.003, 1.0],
                            "one_off": ["bank + GAN", "bank + GAN", "none", "bank"]})
    ct, one_off = tables.compute_display(compute)
    assert ct.iloc[2].tolist() == ["random-min1", "0.310", "< 0.001", "1.00"]
    assert one_off.splitlines() == ["- `gan`, `gan-mode`: bank + GAN", "- `best-bank`: bank"]
    assert tables.compute_display(compute.assign(one_off="none"))[1] == "- none"
    assert _fits(t) and _fits(ct)


def test_markdown_table_escapes_a_pipe_so_it_does_not_split_a_column():
    md = fmt.markdown_table(pd.DataFrame({"ρ with |w|": ["a|b"], "x": ["1"]}))
    header, _, row = md.splitlines()
    assert "\\|w\\|" in header and "a\\|b" in row
    assert len([c for c in row.split(" | ")]) == 2  # two columns, not three


def test_lono_table_reports_the_mean_and_ci_over_networks():
    from prunegan.analysis.stats import mean_ci

    lono = pd.DataFrame({"feature": "a+b", "network": [2, 3, 4], "spearman": [-0.05, 0.55, 0.3],
                         "n_layers": 2, "n_channels": 22})
    t, text = choices.lono_table(lono)
    assert t.iloc[0].tolist() == [2, "−0.05", 2, 22]
    m, lo, hi = mean_ci([-0.05, 0.55, 0.3])
    assert text.startswith(f"Mean over the 3 networks: {fmt.pts(m, 2)} [{fmt.pts(lo, 2)}, ")
    assert choices.lono_table(pd.DataFrame())[1].startswith("No channel feature")
    assert _fits(t)


def test_markdown_table_keeps_formatted_numbers_as_written_and_right_aligns_them():
    md = fmt.markdown_table(pd.DataFrame({"name": ["a", "b"], "acc": ["0.880", "–"],
                                             "ci": ["[0.1]", "x"]}))
    lines = md.splitlines()
    assert "0.880" in lines[2] and "0.88 " not in lines[2]
    delim = [c.strip() for c in lines[1].strip("|").split("|")]
    assert delim[0].startswith(":") and delim[1].endswith(":") and not delim[1].startswith(":")
    assert not delim[2].endswith(":")  # not every cell is a number: left-aligned


def test_best_criterion_columns_follow_setting_then_sparsity():
    from types import SimpleNamespace

    best = pd.DataFrame({"setting": ["conv", "conv+linear", "conv"], "sparsity": [0.9, 0.8, 0.8],
                         "best": [True, True, True], "ties": ["a", "b", "c"]})
    t = choices.best_criterion_table([SimpleNamespace(k=0, best=best)])
    assert list(t.columns) == ["fold", "conv 80 %", "conv 90 %", "conv+linear 80 %"]
    assert t.iloc[0].tolist() == [0, "c", "a", "b"]
