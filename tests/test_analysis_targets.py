"""prunegan.analysis.targets: targets as data, judged on the named CI bound (never on the mean),
every comparison on both sides of its threshold, the row's own threshold, NaN bounds, bad targets."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from prunegan.analysis import targets as T
from prunegan.analysis.targets import Target


def _row(value, ci_low, ci_high, *, statistic="paired", method="gan", other="random-min1", setting="conv",
         network=3, sparsity=0.9, threshold=np.nan):
    return {"statistic": statistic, "method": method, "other": other, "setting": setting, "network": network,
            "sparsity": sparsity, "value": value, "ci_low": ci_low, "ci_high": ci_high,
            "threshold": threshold}


def _table(*rows):
    return pd.DataFrame(list(rows))


def _met(target, *rows) -> list[bool]:
    return T.check([target], _table(*rows))["met"].tolist()


# ------------------------------------------------------------------------------------ each rule
@pytest.mark.parametrize("comparison, bound, judged, threshold, met", [
    # strictly above: the lower bound must exceed the threshold; equal is not enough
    (">", "ci_low", 0.01, 0.0, True), (">", "ci_low", 0.0, 0.0, False), (">", "ci_low", -0.01, 0.0, False),
    # at least
    (">=", "ci_low", -0.99, -1.0, True), (">=", "ci_low", -1.0, -1.0, True),
    (">=", "ci_low", -1.01, -1.0, False),
    # at most: the upper bound
    ("<=", "ci_high", 1.49, 1.5, True), ("<=", "ci_high", 1.5, 1.5, True),
    ("<=", "ci_high", 1.51, 1.5, False),
    # strictly below
    ("<", "ci_high", 1.49, 1.5, True), ("<", "ci_high", 1.5, 1.5, False), ("<", "ci_high", 1.51, 1.5, False),
    # the point estimate, where a target asks for it explicitly
    (">", "value", 0.5, 0.0, True), (">", "value", -0.5, 0.0, False),
])
def test_every_comparison_on_both_sides_of_its_threshold(comparison, bound, judged, threshold, met):
    row = {"value": 0.0, "ci_low": -10.0, "ci_high": 10.0}
    row[bound] = judged
    if bound == "value":
        row.update(ci_low=judged - 1, ci_high=judged + 1)
    t = Target("t", "paired", "gan", "random-min1", bound=bound, comparison=comparison, threshold=threshold)
    c = T.check([t], _table(_row(**row)))
    assert c["met"].tolist() == [met]
    r = c.iloc[0]
    assert (r["threshold"], r["bound"], r["comparison"]) == (threshold, bound, comparison)


def test_a_mean_that_passes_with_a_ci_low_that_fails_is_not_met_and_the_threshold_flips_it():
    row = _row(2.0, -0.5, 4.5)  # mean +2 points, CI [-0.5, 4.5]
    beats = Target("beats", "paired", "gan", "random-min1", threshold=0.0)
    assert _met(beats, row) == [False]  # the mean is above 0, the CI's low end is not
    assert _met(Target("beats", "paired", "gan", "random-min1", threshold=-1.0), row) == [True]
    # ">" is strict
    assert _met(Target("beats", "paired", "gan", "random-min1", threshold=-0.5), row) == [False]
    assert _met(Target("beats", "paired", "gan", "random-min1", bound="value", threshold=0.0), row) == [True]
    # "at most" judges the upper bound: a mean below the threshold with a CI above it is not met
    sd = _row(1.0, 0.7, 2.0, statistic="seed_sd", other=None)
    at_most = Target("sd", "seed_sd", "gan", bound="ci_high", comparison="<=", threshold=1.5)
    assert _met(at_most, sd) == [False]
    assert _met(Target("sd", "seed_sd", "gan", bound="ci_high", comparison="<=", threshold=2.0), sd) == [True]


def test_threshold_none_takes_each_rows_own_threshold():
    rows = [_row(0.80, 0.78, 0.82, statistic="landscape", other="p85", network=3, threshold=0.77),
            _row(0.80, 0.78, 0.82, statistic="landscape", other="p85", network=4, threshold=0.79),
            _row(0.80, 0.78, 0.82, statistic="landscape", other="p85", network=5, threshold=0.78)]
    t = Target("p85", "landscape", "gan", "p85", comparison=">=", threshold=None)
    c = T.check([t], _table(*rows))
    assert c["met"].tolist() == [True, False, True] and c["threshold"].tolist() == [0.77, 0.79, 0.78]
    assert t.describe() == ("expected accuracy on the landscape, low end of the 95 % CI ≥ the landscape's "
                            "percentile")
    # a fixed threshold overrides the column
    assert _met(Target("p85", "landscape", "gan", "p85", comparison=">=", threshold=0.5), *rows) == [True] * 3
    with pytest.raises(ValueError, match="'p85' takes each row's threshold.*no 'threshold' column"):
        T.check([t], _table(*rows).drop(columns="threshold"))


def test_a_nan_bound_or_threshold_is_not_met():
    one_value = _row(1.0, float("nan"), float("nan"))  # one pair: no CI
    for t in (Target("t", "paired", "gan", "random-min1", comparison=">", threshold=-100.0),
              Target("t", "paired", "gan", "random-min1", bound="ci_high", comparison="<=", threshold=100.0),
              Target("t", "paired", "gan", "random-min1", comparison=">=", threshold=-math.inf)):
        assert _met(t, one_value) == [False]
    # the point estimate is there, so a target on it is judged
    on_value = Target("t", "paired", "gan", "random-min1", bound="value", threshold=0.0)
    assert _met(on_value, one_value) == [True]
    no_threshold = _row(0.8, 0.7, 0.9, statistic="landscape", other="p85", threshold=float("nan"))
    own = Target("t", "landscape", "gan", "p85", comparison=">=", threshold=None)
    assert _met(own, no_threshold) == [False]


# ------------------------------------------------------------------------------------ which rows
def test_a_target_checks_only_its_statistic_method_other_settings_and_sparsities():
    rows = [_row(5, 4, 6), _row(5, 4, 6, other="l1-min1"), _row(5, 4, 6, method="gan+critic"),
            _row(5, 4, 6, setting="conv+linear"), _row(5, 4, 6, setting="transfer"),
            _row(5, 4, 6, sparsity=0.8), _row(5, 4, 6, sparsity=0.9 + 1e-12, network=4),
            _row(5, 4, 6, statistic="seed_sd", other=None)]
    stats = _table(*rows)
    c = T.check([Target("t", "paired", "gan", "random-min1")], stats)  # default settings: conv, conv+linear
    assert sorted(zip(c["setting"], c["network"], c["sparsity"].round(6))) == [
        ("conv", 3, 0.8), ("conv", 3, 0.9), ("conv", 4, 0.9), ("conv+linear", 3, 0.9)]
    one = Target("t", "paired", "gan", "random-min1", settings="conv+linear", sparsities=(0.9,))
    c = T.check([one], stats)
    assert c["setting"].tolist() == ["conv+linear"]  # a string is one setting, not its characters
    c = T.check([Target("t", "paired", "gan", "random-min1", settings=("conv",), sparsities=(0.9,))], stats)
    assert c["network"].tolist() == [3, 4]  # 0.9 + 1e-12 is 0.9
    c = T.check([Target("t", "paired", "gan")], stats)  # no other: every other method
    assert set(c["other"]) == {"random-min1", "l1-min1"} and len(c) == 5
    c = T.check([Target("t", "paired", "gan", "random-min1", settings=("transfer",))], stats)
    assert len(c) == 1 and c["setting"].iloc[0] == "transfer"
    none = T.check([Target("t", "paired", "nope")], stats)
    assert none.empty and list(none.columns) == T.CHECK_COLUMNS


def test_check_rows_carry_the_judged_numbers():
    c = T.check([Target("beats", "paired", "gan", "random-min1")], _table(_row(2.0, 0.5, 3.5)))
    r = c.iloc[0]
    assert list(c.columns) == T.CHECK_COLUMNS
    assert (r["target"], r["method"], r["other"]) == ("beats", "gan", "random-min1")
    assert (r["setting"], r["network"]) == ("conv", 3)
    assert (r["value"], r["ci_low"], r["ci_high"], r["threshold"], r["met"]) == (2.0, 0.5, 3.5, 0.0, True)


# ------------------------------------------------------------------------------------ bad targets
@pytest.mark.parametrize("kw, needle", [
    ({"statistic": "mean"}, "statistic must be one of .*got 'mean'"),
    ({"comparison": "=>"}, "comparison must be one of .*got '=>'"),
    ({"comparison": "=="}, "comparison must be .*got '=='"),
    ({"bound": "ci_mid"}, "bound must be 'ci_low', 'ci_high' or 'value', got 'ci_mid'"),
])
def test_bad_targets_raise_naming_the_value(kw, needle):
    args = {"name": "bad one", "statistic": "paired", "method": "gan", **kw}
    with pytest.raises(ValueError, match=f"Target 'bad one': {needle}"):
        Target(**args)


def test_check_rejects_what_is_not_a_target():
    with pytest.raises(ValueError, match="targets must be Target objects, got dict"):
        T.check([{"name": "t"}], _table(_row(1, 0, 2)))


def test_describe_names_the_bound_comparison_and_threshold():
    assert Target("t", "paired", "gan", threshold=-1.0).describe() == \
        "paired difference (points), low end of the 95 % CI over pairs > −1"
    assert Target("t", "networks_paired", "gan").describe() == \
        "paired difference (points), low end of the 95 % CI over networks > 0"
    assert Target("t", "seed_sd", "gan", bound="ci_high", comparison="<=", threshold=1.5).describe() == \
        "SD across seeds (points), high end of the 95 % CI ≤ 1.5"
    assert Target("t", "paired", "gan", bound="value").describe() == "paired difference (points), value > 0"


# ------------------------------------------------------------------------------------ summary, agreement
def test_summary_counts_cells_per_target_in_order():
    stats = _table(_row(2, 1, 3, network=3), _row(2, -1, 5, network=4), _row(1, 0.5, 1.5, other="l1-min1"))
    ts = [Target("beats l1", "paired", "gan", "l1-min1"),
          Target("beats random", "paired", "gan", "random-min1"),
          Target("transfer", "paired", "gan", "random-min1", settings=("transfer",))]
    s = T.summary(T.check(ts, stats), ts)
    assert s["target"].tolist() == ["beats l1", "beats random", "transfer"]
    assert s["met"].tolist() == [1, 1, 0] and s["cells"].tolist() == [1, 2, 0]
    assert s["status"].tolist() == ["met", "not met", "not checked"]
    assert s["rule"].tolist() == [t.describe() for t in ts]


def test_agreement_flags_a_target_whose_status_differs_between_replicates():
    ts = [Target("a", "paired", "gan", "l1-min1"), Target("b", "paired", "gan", "random-min1")]
    first = T.summary(T.check(ts, _table(_row(2, 1, 3, other="l1-min1"), _row(2, 1, 3))), ts)
    second = T.summary(T.check(ts, _table(_row(2, 1, 3, other="l1-min1"), _row(2, -1, 3))), ts)
    a = T.agreement(first, second).set_index("target")
    assert a.loc["a", "same"] and not a.loc["b", "same"]
    assert (a.loc["b", "status_0"], a.loc["b", "status_1"]) == ("met", "not met")
    # a target present in one replicate only is not "the same"
    only = T.agreement(first, second[second["target"] == "a"]).set_index("target")
    assert only.loc["a", "same"] and not only.loc["b", "same"]
