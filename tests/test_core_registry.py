"""prunegan.core.registry: names → objects, unknown names answered with the valid ones."""
from __future__ import annotations

import pytest

from prunegan.core.registry import Registry


def test_register_get_names_contains():
    reg: Registry = Registry("colour")

    @reg.register("red")
    def red():
        return "r"

    reg.register("blue")(len)
    assert red() == "r"  # the decorator returns the object unchanged
    assert reg.get("red") is red and reg.get("blue") is len
    assert reg.names() == ["blue", "red"]  # sorted
    assert "red" in reg and "green" not in reg and 3 not in reg


@pytest.mark.parametrize("bad", ["green", "Red", "", None, 3, ["red"]])
def test_unknown_name_lists_the_valid_ones(bad):
    reg: Registry = Registry("colour")
    reg.register("red")(1)
    reg.register("blue")(2)
    with pytest.raises(ValueError) as err:
        reg.get(bad)
    assert str(err.value) == f"unknown colour {bad!r}; valid: blue, red"


def test_duplicate_name_is_refused_and_the_first_kept():
    reg: Registry = Registry("model")
    reg.register("a")(1)
    with pytest.raises(ValueError, match="model 'a' is already registered"):
        reg.register("a")(2)
    assert reg.get("a") == 1
