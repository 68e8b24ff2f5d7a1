"""Part 1's glued numbers (chapters 2-5) from small hand-built runs whose right answer is known, and
chapter 5's list of runs. A run is *stuck* when retraining gained less than 0.02 over the pruned
accuracy and stayed more than 0.05 below the original (prunegan.analysis.collapse)."""
from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from prunegan.chapters import part1
from prunegan.runs.sweep import SPARSITIES

ORIGINAL = 0.95


def run(sparsity: float, retrained: float, pruned: float, *, trial: int = 0, n_collapsed: int = 0,
        strategy: str = "random", min_channels: int = 0) -> dict:
    """One tidy row with the columns the headlines read."""
    return {"strategy": strategy, "min_channels_per_layer": min_channels, "sparsity": sparsity,
            "trial": trial, "original_acc": ORIGINAL, "pruned_acc": pruned, "retrained_acc": retrained,
            "n_collapsed": n_collapsed, "collapsed": n_collapsed > 0}


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


# ------------------------------------------------------------------------------- matching sparsity
def test_rows_at_matches_a_sparsity_within_a_tolerance_and_names_the_present_ones_when_absent():
    df = frame(run(0.5, 0.9, 0.8), run(0.9000000001, 0.2, 0.1), run(0.85, 0.3, 0.2))
    assert list(part1.rows_at(df, 0.9)["retrained_acc"]) == [0.2]  # a float-sum sparsity still matches
    assert list(part1.rows_at(df, 0.85)["retrained_acc"]) == [0.3]  # its neighbour 0.05 away does not
    with pytest.raises(ValueError, match=r"no run at sparsity 0\.9; the runs have sparsities \[0\.5\]"):
        part1.rows_at(frame(run(0.5, 0.9, 0.8)), 0.9)
    with pytest.raises(ValueError, match="no run at sparsity 0.901"):
        part1.rows_at(df, 0.901)  # outside the tolerance


# ------------------------------------------------------------------------------------ chapter 2
def test_l1_sweep_headlines_read_the_run_at_the_sparsity_and_the_first_collapse():
    df = frame(run(0.0, 0.95, 0.95, strategy="l1"), run(0.5, 0.93, 0.6, strategy="l1"),
               run(0.9, 0.11, 0.1, n_collapsed=1, strategy="l1"),
               run(0.95, 0.1, 0.1, n_collapsed=2, strategy="l1"))
    assert part1.l1_sweep_headlines(df) == {"l1_retrained_acc_90": 0.11, "l1_pruned_acc_90": 0.1,
                                            "l1_collapsed_90": 1, "l1_first_collapse": 0.9}
    # another sparsity names its own scraps; the first collapse does not depend on it
    assert part1.l1_sweep_headlines(df, sparsity=0.5) == {
        "l1_retrained_acc_50": 0.93, "l1_pruned_acc_50": 0.6, "l1_collapsed_50": 0, "l1_first_collapse": 0.9}
    shifted = df.assign(sparsity=[0.0, 0.5, 0.9000000001, 0.95])
    assert part1.l1_sweep_headlines(shifted)["l1_pruned_acc_90"] == 0.1
    with pytest.raises(ValueError, match="no run at sparsity 0.8"):
        part1.l1_sweep_headlines(df, sparsity=0.8)


def test_l1_first_collapse_is_the_smallest_collapsed_sparsity_or_none():
    rows = [run(s, 0.9, 0.5, strategy="l1") for s in (0.5, 0.8, 0.9)]
    assert part1.l1_sweep_headlines(frame(*rows))["l1_first_collapse"] is None  # none collapses
    rows[1] = run(0.8, 0.1, 0.1, n_collapsed=1, strategy="l1")
    rows[2] = run(0.9, 0.1, 0.1, n_collapsed=1, strategy="l1")
    assert part1.l1_sweep_headlines(frame(*rows))["l1_first_collapse"] == 0.8
    rows[0] = run(0.5, 0.1, 0.1, n_collapsed=1, strategy="l1")
    assert part1.l1_sweep_headlines(frame(*rows))["l1_first_collapse"] == 0.5


def test_l1_headlines_take_the_lowest_trial_when_a_sparsity_has_several_runs():
    df = frame(run(0.9, 0.7, 0.2, trial=1, strategy="l1"), run(0.9, 0.3, 0.1, trial=0, strategy="l1"))
    assert part1.l1_sweep_headlines(df)["l1_retrained_acc_90"] == 0.3


# ------------------------------------------------------------------------------------ chapter 3
def test_random_sweep_headlines_average_the_trials_at_the_sparsity():
    df = frame(run(0.5, 0.9, 0.7, trial=0), run(0.5, 0.8, 0.7, trial=1),
               run(0.9, 0.3, 0.1, trial=0, n_collapsed=1), run(0.9000000001, 0.5, 0.2, trial=1))
    out = part1.random_sweep_headlines(df)
    assert set(out) == {"random_retrained_acc_90", "random_collapse_rate"}
    assert out["random_retrained_acc_90"] == pytest.approx(0.4)  # (0.3 + 0.5) / 2; 0.5's rows left out
    assert out["random_collapse_rate"] == pytest.approx(0.25)  # 1 of the 4 runs
    with pytest.raises(ValueError, match="no run at sparsity 0.95"):
        part1.random_sweep_headlines(df, sparsity=0.95)


# ------------------------------------------------------------------------------------ chapter 4
def trials_90() -> pd.DataFrame:
    return frame(run(0.9, 0.10, 0.10, trial=0, n_collapsed=1),  # stuck, collapsed
                 run(0.9, 0.12, 0.11, trial=1, n_collapsed=1),  # stuck, collapsed
                 run(0.9, 0.80, 0.50, trial=2),  # recovered
                 run(0.9, 0.60, 0.59, trial=3))  # stuck without collapse (gained 0.01)


def test_trials_headlines_count_collapse_and_stuck_runs():
    out = part1.trials_headlines(trials_90(), sparsity=0.9)
    assert out.keys() == {"trials_n", "trials_sparsity", "trials_collapse_rate", "trials_retrained_mean",
                          "trials_retrained_mean_no_collapse", "trials_stuck", "trials_stuck_and_collapsed"}
    assert out["trials_n"] == 4 and out["trials_sparsity"] == 0.9
    assert out["trials_collapse_rate"] == pytest.approx(0.5)
    assert out["trials_retrained_mean"] == pytest.approx(0.405)
    assert out["trials_retrained_mean_no_collapse"] == pytest.approx(0.7)
    assert out["trials_stuck"] == 3 and out["trials_stuck_and_collapsed"] == 2
    # rows at another sparsity are not trials of this one
    more = pd.concat([trials_90(), frame(run(0.5, 0.9, 0.9, trial=0, n_collapsed=1))], ignore_index=True)
    assert part1.trials_headlines(more, sparsity=0.9) == out
    with pytest.raises(ValueError, match="no run at sparsity 0.8"):
        part1.trials_headlines(trials_90(), sparsity=0.8)


def test_trials_stuck_threshold_both_sides_and_no_mean_when_every_run_collapsed():
    below = trials_90()
    below.loc[3, "pruned_acc"] = 0.60 - 0.019  # gained 0.019 < 0.02: stuck
    above = trials_90()
    above.loc[3, "pruned_acc"] = 0.60 - 0.021  # gained 0.021: recovered
    assert part1.trials_headlines(below, sparsity=0.9)["trials_stuck"] == 3
    assert part1.trials_headlines(above, sparsity=0.9)["trials_stuck"] == 2
    collapsed = trials_90().assign(n_collapsed=1, collapsed=True)
    out = part1.trials_headlines(collapsed, sparsity=0.9)
    assert out["trials_retrained_mean_no_collapse"] is None and out["trials_collapse_rate"] == 1.0


# ------------------------------------------------------------------------------------ chapter 5
def layer_runs() -> pd.DataFrame:
    """L1 and random with minimum 0 and 1. Minimum 0: 6 runs, 3 stuck (2 collapsed, 1 not), 1 collapsed
    run recovered; minimum 1: 5 runs, 1 stuck."""
    return frame(
        run(0.5, 0.93, 0.80, strategy="l1"),
        run(0.9, 0.10, 0.10, n_collapsed=1, strategy="l1"),  # stuck, collapsed
        run(0.5, 0.93, 0.80, strategy="l1", min_channels=1),
        run(0.9000000001, 0.70, 0.30, strategy="l1", min_channels=1),  # recovered
        run(0.5, 0.92, 0.70),
        run(0.9, 0.10, 0.10, trial=0, n_collapsed=1),  # stuck, collapsed
        run(0.9, 0.90, 0.10, trial=1, n_collapsed=1),  # collapsed but recovered
        run(0.9, 0.51, 0.50, trial=2),  # stuck without collapse
        run(0.5, 0.92, 0.70, min_channels=1),
        run(0.9, 0.60, 0.59, trial=0, min_channels=1),  # stuck
        run(0.9, 0.80, 0.30, trial=1, min_channels=1))  # recovered


def test_layer_sparsity_headlines_from_known_runs():
    out = part1.layer_sparsity_headlines(layer_runs())
    assert out["collapse_verdict"].startswith("**No**")  # a run was stuck without collapse
    assert {k: out[k] for k in ("stuck_min0", "stuck_collapsed_min0", "stuck_without_collapse_min0",
                                "collapsed_recovered_min0", "runs_min0", "stuck_min1", "runs_min1")} == {
        "stuck_min0": 3, "stuck_collapsed_min0": 2, "stuck_without_collapse_min0": 1,
        "collapsed_recovered_min0": 1, "runs_min0": 6, "stuck_min1": 1, "runs_min1": 5}
    assert out["random90_runs"] == 3  # the random runs at 90 % with minimum 0
    assert out["random90_collapse_rate_min0"] == pytest.approx(2 / 3)
    assert out["random90_acc_min0"] == pytest.approx((0.10 + 0.90 + 0.51) / 3)
    assert out["random90_acc_min1"] == pytest.approx(0.70)
    assert out["l1_90_acc_min1"] == 0.70  # its sparsity 0.9000000001 is 0.9
    assert list(out) == ["collapse_verdict", "stuck_min0", "stuck_collapsed_min0",
                         "stuck_without_collapse_min0", "collapsed_recovered_min0", "runs_min0", "stuck_min1",
                         "runs_min1", "random90_runs",
                         "random90_collapse_rate_min0", "random90_acc_min0", "random90_acc_min1",
                         "l1_90_acc_min1"]


def test_layer_sparsity_stuck_threshold_both_sides_and_collapsed_recovered():
    df = layer_runs()
    df.loc[10, "pruned_acc"] = 0.80 - 0.019  # the recovered minimum-1 run now gains 0.019: stuck
    assert part1.layer_sparsity_headlines(df)["stuck_min1"] == 2
    df.loc[10, "pruned_acc"] = 0.80 - 0.021
    assert part1.layer_sparsity_headlines(df)["stuck_min1"] == 1
    df.loc[6, "retrained_acc"] = 0.11  # the collapsed run that recovered is now stuck
    out = part1.layer_sparsity_headlines(df)
    assert out["collapsed_recovered_min0"] == 0 and out["stuck_collapsed_min0"] == 3


def test_layer_sparsity_headlines_name_what_is_missing():
    df = layer_runs()
    with pytest.raises(ValueError, match=r"no run with min_channels_per_layer \[1\]; the runs have \[0\]"):
        part1.layer_sparsity_headlines(df[df["min_channels_per_layer"] == 0])
    with pytest.raises(ValueError, match="no random run at sparsity 0.9 with min_channels_per_layer 1"):
        part1.layer_sparsity_headlines(df.drop(index=[9, 10]))
    with pytest.raises(ValueError, match="no l1 run at sparsity 0.9 with min_channels_per_layer 1"):
        part1.layer_sparsity_headlines(df.drop(index=[3]))
    with pytest.raises(ValueError, match="no run at sparsity 0.8"):
        part1.layer_sparsity_headlines(df, sparsity=0.8)


def test_layer_sparsity_configs_list_chapter_5s_runs():
    base = part1.baseline_config()
    configs = part1.layer_sparsity_configs(base, retrain_epochs=3, trials=5, trials_90=20)
    got = [(c.method.strategy, c.method.min_channels_per_layer, c.sparsities, c.trials) for c in configs]
    assert got == [("l1", 0, part1.feasible_sparsities("lenet5", 0), 1),
                   ("l1", 1, part1.feasible_sparsities("lenet5", 1), 1),
                   ("random", 0, part1.feasible_sparsities("lenet5", 0), 5), ("random", 0, (0.9,), 20),
                   ("random", 1, part1.feasible_sparsities("lenet5", 1), 5), ("random", 1, (0.9,), 20)]
    assert configs[0].sparsities == SPARSITIES and max(configs[1].sparsities) == 0.9
    assert all(c.baseline == base and c.retrain.epochs == 3 for c in configs)
    # the trials at 90 % with minimum 0 are what chapter 4 runs (sweep.trials(config, 0.9, 20)): one cache
    chapter4 = part1.sweep_config(base, strategy="random", retrain_epochs=3)
    assert configs[3] == replace(chapter4, sparsities=(0.9,), trials=20)
    smoke = part1.layer_sparsity_configs(part1.baseline_config(smoke=True), trials=5, trials_90=20,
                                         smoke=True)
    assert [(c.sparsities, c.trials) for c in smoke] == [
        (part1.SMOKE_SPARSITIES, 1), (part1.SMOKE_SPARSITIES, 1), (part1.SMOKE_SPARSITIES, 3), ((0.9,), 3),
        (part1.SMOKE_SPARSITIES, 3), ((0.9,), 3)]
    assert all(c.retrain.epochs == 1 for c in smoke)
