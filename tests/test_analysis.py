"""Statistics (one CI method), tidy tables, the stuck/recovered rule, mask spaces, keep maps."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from prunegan import models
from prunegan.analysis import collapse, masks, stats, tables
from prunegan.runs.runner import rows_to_frame


# ---------------------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("confidence", [0.5, 0.8, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("values",
                         [[0.9, 0.92, 0.94, 0.96], [0.1, 0.5, 0.2, 0.9, 0.3, 0.35, 0.8], [1.0, 3.0]])
def test_mean_ci_is_the_student_t_interval(values, confidence):
    mean, low, high = stats.mean_ci(values, confidence)
    ref_low, ref_high = sps.t.interval(confidence, len(values) - 1, loc=np.mean(values),
                                       scale=sps.sem(values))
    assert mean == pytest.approx(np.mean(values))
    assert low == pytest.approx(ref_low, rel=1e-12) and high == pytest.approx(ref_high, rel=1e-12)


def test_mean_ci_edge_cases_and_bad_input():
    mean, low, high = stats.mean_ci([0.5])
    assert mean == 0.5 and math.isnan(low) and math.isnan(high)
    assert stats.errorbar([0.5]) == (0.5, 0.5)
    assert stats.errorbar([1.0, 3.0]) == pytest.approx(stats.mean_ci([1.0, 3.0])[1:])
    with pytest.raises(ValueError, match="at least one value"):
        stats.mean_ci([])
    for bad in (0, 1.5, "0.95"):
        with pytest.raises(ValueError, match="confidence"):
            stats.mean_ci([1.0, 2.0], bad)


def test_group_stats_and_paired_difference():
    df = pd.DataFrame({"m": ["a", "a", "a", "b", "b"], "v": [1.0, 2.0, 4.0, 5.0, 7.0]})
    g = stats.group_stats(df, ["m"], "v").set_index("m")
    assert g.loc["a", "n"] == 3 and g.loc["a", "mean"] == pytest.approx(7 / 3)
    assert (g.loc["b", "ci_low"], g.loc["b", "ci_high"]) == pytest.approx(stats.mean_ci([5.0, 7.0])[1:])
    a, b = [0.9, 0.8, 0.85, 0.7], [0.8, 0.8, 0.8, 0.6]
    d = stats.paired_difference(a, b)
    ref = sps.t.interval(0.95, 3, loc=np.mean(np.subtract(a, b)), scale=sps.sem(np.subtract(a, b)))
    assert d["n"] == 4 and d["mean"] == pytest.approx(0.0625)
    assert (d["ci_low"], d["ci_high"]) == pytest.approx(ref)
    # pairing matters: the unpaired interval of the same numbers is wider here
    assert d["ci_high"] - d["ci_low"] < stats.mean_ci(a)[2] - stats.mean_ci(a)[1]
    with pytest.raises(ValueError, match="same length"):
        stats.paired_difference([1.0, 2.0], [1.0])


# ---------------------------------------------------------------------------------------- tables / collapse
def _rows():
    # original 0.95; three runs: recovered, stuck with a collapse, stuck without a collapse
    base = {"method": "random", "label": "random", "strategy": "random", "min_channels_per_layer": 0,
            "temperature": None, "original_acc": 0.95, "macs": 10, "dense_macs": 100, "params": 20,
            "dense_params": 100}
    return [
        {**base, "trial": 0, "seed": 0, "sparsity": 0.5, "pruned_acc": 0.30, "retrained_acc": 0.94,
         "n_collapsed": 0, "mask": {"a": [1, 0], "b": [1, 1, 0]}},
        {**base, "trial": 1, "seed": 1, "sparsity": 0.9, "pruned_acc": 0.10, "retrained_acc": 0.10,
         "n_collapsed": 1, "mask": {"a": [0, 0], "b": [1, 0, 0]}},
        {**base, "trial": 2, "seed": 2, "sparsity": 0.9, "pruned_acc": 0.20, "retrained_acc": 0.21,
         "n_collapsed": 0, "mask": {"a": [1, 0], "b": [0, 0, 1]}},
    ]


def test_rows_to_frame_adds_ratios_and_collapse_flag():
    df = rows_to_frame(_rows())
    assert df["collapsed"].tolist() == [False, True, False]
    assert df["macs_kept"].tolist() == [0.1] * 3 and df["params_kept"].tolist() == [0.2] * 3


def test_layer_table_has_one_row_per_run_and_layer():
    table = tables.layer_table(rows_to_frame(_rows()))
    assert len(table) == 6
    first = table[(table["trial"] == 1) & (table["layer"] == "a")].iloc[0]
    assert first["kept"] == 0 and first["collapsed"]
    assert first["layer_sparsity"] == 1.0 and first["depth"] == 0
    b = table[(table["trial"] == 0) & (table["layer"] == "b")].iloc[0]
    assert b["size"] == 3 and b["layer_sparsity"] == pytest.approx(1 / 3)


def test_classify_recovery_and_low_sparsity_is_not_stuck():
    df = rows_to_frame(_rows())
    assert collapse.classify_recovery(df).tolist() == ["recovered", "stuck", "stuck"]
    unpruned = df.assign(pruned_acc=0.95, retrained_acc=0.95)  # no gain, but nothing was lost
    assert (collapse.classify_recovery(unpruned) == "recovered").all()


def test_collapse_explains_stuck_counts():
    answer = collapse.collapse_explains_stuck(rows_to_frame(_rows()))
    assert answer == {"runs": 3, "stuck": 2, "collapsed": 1, "stuck_and_collapsed": 1,
                      "stuck_without_collapse": 1, "collapsed_but_recovered": 0,
                      "share_of_stuck_collapsed": 0.5}


def test_collapse_table_and_first_collapse():
    df = rows_to_frame(_rows())
    table = collapse.collapse_table(df)
    at90 = table[table["sparsity"] == 0.9].iloc[0]
    assert at90["runs"] == 2 and at90["collapse_rate"] == 0.5 and at90["stuck_rate"] == 1.0
    assert collapse.first_collapse(df) == 0.9
    assert collapse.first_collapse(df[~df["collapsed"]]) is None


def test_unique_runs_drops_the_same_run_reached_twice():
    df = rows_to_frame(_rows() + _rows()[1:2])
    assert len(collapse.unique_runs(df)) == 3


# ---------------------------------------------------------------------------------- mask spaces and maps
def test_mask_space_table_of_lenet5():
    table = masks.mask_space_table("lenet5", [0.8, 0.9]).set_index("sparsity")
    assert table.loc[0.9, "n_masks"] == math.comb(22, 2) == 231  # keep 2 of 22 channels
    assert table.loc[0.9, "n_masks_no_collapse"] == 6 * 16  # one channel in each layer
    assert table.loc[0.8, "n_masks"] == math.comb(22, 4) == 7315  # round(0.8 * 22) = 18 pruned, 4 kept
    lin = masks.mask_space_table("lenet5", [0.8, 0.9], include_linear=True)
    assert (lin["n_channels"] == 22 + 120 + 84).all() and (lin["n_masks"] > 10 ** 30).all()


class _FixedMap:
    """A stand-in generator whose keep-probability of a channel is given by ``rule(l1)``."""

    include_linear = False

    def __init__(self, rule):
        self.rule = rule

    def keep_probabilities(self, model, sparsity, *, include_linear):
        from prunegan.core.masks import prunable_layers
        from prunegan.pruning.scorers import l1_norms

        return {k: self.rule(v) for k, v in l1_norms(prunable_layers(model)).items()}


@pytest.mark.parametrize("rule, expected", [(lambda v: v / v.max(), 1.0), (lambda v: 1 - v / v.max(), -1.0)])
def test_keep_map_and_l1_agreement_on_constructed_maps(rule, expected):
    net = models.build("lenet5", seed=0)
    keep = masks.keep_map(_FixedMap(rule), net, (0.5, 0.9))
    assert len(keep) == 2 * 22
    top = keep[keep["l1_position"] == 0]  # position 0 is the largest mean |w| of each layer
    assert (top.groupby(["sparsity", "layer"])["l1"].max().values
            == keep.groupby(["sparsity", "layer"])["l1"].max().values).all()
    agree = masks.l1_agreement(keep)
    assert len(agree) == 4 and agree["spearman"].tolist() == pytest.approx([expected] * 4)


def test_l1_agreement_leaves_out_constant_layers():
    keep = pd.DataFrame({"sparsity": 0.5, "layer": ["a"] * 3 + ["b"] * 3,
                         "keep_prob": [0.5] * 3 + [0.1, 0.2, 0.3],
                         "l1": [1.0, 2.0, 3.0, 3.0, 2.0, 1.0]})
    agree = masks.l1_agreement(keep)
    assert agree["layer"].tolist() == ["b"] and agree["spearman"].iloc[0] == pytest.approx(-1.0)
