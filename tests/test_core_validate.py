"""prunegan.core.validate: every check returns the good value and raises ValueError naming the bad
value and what is allowed."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from prunegan.core import validate as v

# ------------------------------------------------------------------------------------------ check_int


@pytest.mark.parametrize("value, minimum", [(0, 0), (5, 0), (1, 1), (-3, -5), (np.int64(7), 2)])
def test_check_int_passes_good_values_as_int(value, minimum):
    out = v.check_int("n", value, minimum)
    assert out == value and type(out) is int


@pytest.mark.parametrize("value, minimum", [(-1, 0), (0, 1), (2, 3), (1.0, 0), (1.5, 0), ("3", 0),
                                            (None, 0), (True, 0), (False, 0), (np.float64(2.0), 0)])
def test_check_int_bad_values_name_value_and_minimum(value, minimum):
    with pytest.raises(ValueError) as err:
        v.check_int("Config.trials", value, minimum)
    message = str(err.value)
    assert message.startswith("Config.trials must be an integer")
    assert f">= {minimum}" in message and message.endswith(f"got {value!r}")


def test_check_int_allow_none():
    assert v.check_int("n", None, 1, allow_none=True) is None
    assert v.check_int("n", 4, 1, allow_none=True) == 4
    with pytest.raises(ValueError, match=r"n must be an integer >= 1 or None, got 0"):
        v.check_int("n", 0, 1, allow_none=True)
    with pytest.raises(ValueError, match=r"n must be an integer >= 0, got None"):
        v.check_int("n", None)  # None only passes when allowed


# --------------------------------------------------------------------------------------- check_number

@pytest.mark.parametrize("value, kw", [
    (0, {}), (-1e9, {}), (math.inf, {}), (0, dict(low=0)), (0.5, dict(low=0, high=1)),
    (1, dict(low=0, high=1)),
    (1e-9, dict(low=0, low_open=True)), (np.float32(0.25), dict(low=0, high=1)),
    (Fraction(1, 3), dict(low=0)),
])
def test_check_number_passes_good_values_as_float(value, kw):
    out = v.check_number("x", value, **kw)
    assert out == pytest.approx(float(value)) and type(out) is float


@pytest.mark.parametrize("value, kw, allowed", [
    (-0.1, dict(low=0), ">= 0"),
    (1.5, dict(low=0, high=1), ">= 0 and <= 1"),
    (-1, dict(low=0, high=1), ">= 0 and <= 1"),
    (0, dict(low=0, low_open=True), "> 0"),
    (0.0, dict(low=0, high=2, low_open=True), "> 0 and <= 2"),
    (3, dict(high=2), "<= 2"),
    (math.nan, {}, "a number"),
    (math.nan, dict(low=0), ">= 0"),
    ("0.5", dict(low=0), ">= 0"),
    (None, {}, "a number"),
    (True, dict(low=0), ">= 0"),
    ([1.0], {}, "a number"),
])
def test_check_number_bad_values_name_value_and_range(value, kw, allowed):
    with pytest.raises(ValueError) as err:
        v.check_number("TrainConfig.lr", value, **kw)
    message = str(err.value)
    assert message.startswith("TrainConfig.lr must be a number")
    assert allowed in message and message.endswith(f"got {value!r}")


def test_check_number_without_bounds_says_only_number():
    with pytest.raises(ValueError) as err:
        v.check_number("x", "a")
    assert str(err.value) == "x must be a number, got 'a'"


# ------------------------------------------------------------------------------ bool, sequence, instance

def test_check_bool():
    assert v.check_bool("flag", True) is True and v.check_bool("flag", False) is False
    for bad in (0, 1, "True", None):
        with pytest.raises(ValueError) as err:
            v.check_bool("Method.include_linear", bad)
        assert str(err.value) == f"Method.include_linear must be True or False, got {bad!r}"


@pytest.mark.parametrize("value, expected", [([1, 2], (1, 2)), ((0.1,), (0.1,)), (range(3), (0, 1, 2)),
                                             (iter("ab"), ("a", "b")), ({"k": 1}, ("k",))])
def test_check_sequence_gives_a_tuple(value, expected):
    assert v.check_sequence("xs", value) == expected


@pytest.mark.parametrize("bad", ["abc", b"ab", 3, 0.5, None])
def test_check_sequence_refuses_strings_and_scalars(bad):
    with pytest.raises(ValueError) as err:
        v.check_sequence("SweepConfig.sparsities", bad)
    assert str(err.value) == f"SweepConfig.sparsities must be a sequence, got {bad!r}"


@pytest.mark.parametrize("empty", [[], (), range(0)])
def test_check_sequence_refuses_empty(empty):
    with pytest.raises(ValueError, match=r"SweepConfig.sparsities is empty; give at least one value"):
        v.check_sequence("SweepConfig.sparsities", empty)


def test_check_instance():
    assert v.check_instance("cfg", 3, int) == 3
    with pytest.raises(ValueError, match=r"^cfg must be a int, got '3'$"):
        v.check_instance("cfg", "3", int)
    with pytest.raises(ValueError, match=r"^cfg must be a TrainConfig, got None$"):
        v.check_instance("cfg", None, dict, "TrainConfig")


# ----------------------------------------------------------------------------------------- sparsities

@pytest.mark.parametrize("good", [0, 0.0, 0.5, 0.999, np.float64(0.25), np.float32(0.5), Fraction(1, 2)])
def test_check_sparsity_returns_a_float(good):
    out = v.check_sparsity(good)
    assert type(out) is float and out == float(good)


@pytest.mark.parametrize("bad", [-0.1, 1, 1.0, 1.5, math.inf, -math.inf])
def test_check_sparsity_out_of_range_names_value_and_range(bad):
    with pytest.raises(ValueError) as err:
        v.check_sparsity(bad)
    assert str(err.value) == f"sparsity must be in [0, 1) (the fraction of channels removed), got {bad!r}"


@pytest.mark.parametrize("bad", ["0.5", None, True, False, math.nan, [0.5], 1j])
def test_check_sparsity_not_a_number_names_value_and_range(bad):
    with pytest.raises(ValueError) as err:
        v.check_sparsity(bad, "GanConfig.sparsity")
    assert str(err.value) == f"GanConfig.sparsity must be a number in [0, 1), got {bad!r}"


def test_check_sparsities():
    assert v.check_sparsities("s", [0, 0.5, np.float32(0.25)]) == (0.0, 0.5, 0.25)
    assert all(type(x) is float for x in v.check_sparsities("s", (0, 0.5)))
    with pytest.raises(ValueError, match=r"^s entry must be in \[0, 1\) .*got 1\.2$"):
        v.check_sparsities("s", [0.1, 1.2])
    with pytest.raises(ValueError, match="s is empty"):
        v.check_sparsities("s", [])
    with pytest.raises(ValueError, match="s must be a sequence, got 0.5"):
        v.check_sparsities("s", 0.5)
