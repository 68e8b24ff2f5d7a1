"""Tidy tables and the stuck/recovered rule."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from prunegan import results, study


def _rows():
    # original 0.95; three runs: recovered, stuck with a collapse, stuck without a collapse
    base = {"strategy": "random", "min_channels_per_layer": 0, "temperature": None, "original_acc": 0.95,
            "macs": 10, "dense_macs": 100, "params": 20, "dense_params": 100}
    return [
        {**base, "trial": 0, "seed": 0, "sparsity": 0.5, "pruned_acc": 0.30, "retrained_acc": 0.94,
         "n_collapsed": 0, "mask": {"a": [1, 0], "b": [1, 1, 0]}},
        {**base, "trial": 1, "seed": 1, "sparsity": 0.9, "pruned_acc": 0.10, "retrained_acc": 0.10,
         "n_collapsed": 1, "mask": {"a": [0, 0], "b": [1, 0, 0]}},
        {**base, "trial": 2, "seed": 2, "sparsity": 0.9, "pruned_acc": 0.20, "retrained_acc": 0.21,
         "n_collapsed": 0, "mask": {"a": [1, 0], "b": [0, 0, 1]}},
    ]


def test_rows_to_frame_adds_ratios_and_collapse_flag():
    df = results.rows_to_frame(_rows())
    assert df["collapsed"].tolist() == [False, True, False]
    assert df["macs_kept"].tolist() == [0.1] * 3 and df["params_kept"].tolist() == [0.2] * 3


def test_layer_table_has_one_row_per_run_and_layer():
    table = results.layer_table(results.rows_to_frame(_rows()))
    assert len(table) == 6
    first = table[(table["trial"] == 1) & (table["layer"] == "a")].iloc[0]
    assert first["kept"] == 0 and first["collapsed"] and first["layer_sparsity"] == 1.0 and first["depth"] == 0
    b = table[(table["trial"] == 0) & (table["layer"] == "b")].iloc[0]
    assert b["size"] == 3 and b["layer_sparsity"] == pytest.approx(1 / 3)


def test_classify_recovery_and_low_sparsity_is_not_stuck():
    df = results.rows_to_frame(_rows())
    assert results.classify_recovery(df).tolist() == ["recovered", "stuck", "stuck"]
    unpruned = df.assign(pruned_acc=0.95, retrained_acc=0.95)  # no gain, but nothing was lost
    assert (results.classify_recovery(unpruned) == "recovered").all()


def test_collapse_explains_stuck_counts():
    answer = study.collapse_explains_stuck(results.rows_to_frame(_rows()))
    assert answer == {"runs": 3, "stuck": 2, "collapsed": 1, "stuck_and_collapsed": 1,
                      "stuck_without_collapse": 1, "collapsed_but_recovered": 0, "share_of_stuck_collapsed": 0.5}


def test_collapse_table_and_first_collapse():
    df = results.rows_to_frame(_rows())
    table = study.collapse_table(df)
    at90 = table[table["sparsity"] == 0.9].iloc[0]
    assert at90["runs"] == 2 and at90["collapse_rate"] == 0.5 and at90["stuck_rate"] == 1.0
    assert study.first_collapse(df) == 0.9
    assert study.first_collapse(df[~df["collapsed"]]) is None


def test_unique_runs_drops_the_same_run_reached_twice():
    df = results.rows_to_frame(_rows() + _rows()[1:2])
    assert len(study.unique_runs(df)) == 3


def test_mean_ci_brackets_the_mean():
    mean, low, high = results.mean_ci([0.9, 0.92, 0.94, 0.96])
    assert mean == pytest.approx(0.93) and low < mean < high and high - low < 0.1
    assert math.isnan(results.mean_ci([0.5])[1])


def test_load_collects_cached_rows(tmp_path):
    run = tmp_path / "sweep_abc" / "rows"
    run.mkdir(parents=True)
    for i, row in enumerate(_rows()):
        (run / f"{i:03d}.json").write_text(pd.Series(row).to_json())
    df = results.load("sweep", root=tmp_path)
    assert len(df) == 3 and set(df["run"]) == {"sweep_abc"}


def test_smoke_settings_shrink_the_run():
    base = study.baseline_config(smoke=True)
    assert base.n_train == 400 and base.train.epochs == 1
    config = study.sweep_config(base, strategy="l1", smoke=True)
    assert config.sparsities == study.SMOKE_SPARSITIES and config.retrain.epochs == 1
    assert study.smoke_trials(20, True) == 3 and study.smoke_trials(20, False) == 20


def test_feasible_sparsities_stop_where_the_minimum_needs_more_channels():
    assert study.feasible_sparsities("lenet5", 0)[-1] == 0.95
    assert study.feasible_sparsities("lenet5", 1)[-1] == 0.9  # 2 of 22 channels kept, one per layer
    assert study.feasible_sparsities("lenet5", 2)[-1] == 0.8  # round(0.85 * 22) = 19 leaves 3 < 4


def test_collapse_verdict_follows_the_counts():
    answer = study.collapse_explains_stuck(results.rows_to_frame(_rows()))
    assert study.collapse_verdict(answer).startswith("No")
    clean = {**answer, "stuck_without_collapse": 0, "collapsed_but_recovered": 0}
    assert study.collapse_verdict(clean).startswith("Yes")
    assert study.collapse_verdict({**clean, "collapsed_but_recovered": 2}).startswith("Partly")
    assert study.collapse_verdict({**clean, "stuck": 0}).startswith("No run")
