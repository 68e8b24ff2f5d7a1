"""prunegan.core.counts: the kept-count rule, feasibility with a per-layer minimum, and the number of
masks, checked against brute force over small layers."""
from __future__ import annotations

import itertools
import math

import pytest

from prunegan.core import counts

GRID = [round(0.05 * i, 2) for i in range(20)]  # 0.0 .. 0.95
# every layout of 1-3 layers of 1-4 channels (layer order matters for nothing here, but is kept)
SMALL_LAYOUTS = [sizes for n in (1, 2, 3) for sizes in itertools.product(range(1, 5), repeat=n)]


def kept_per_layer(bits: tuple[int, ...], sizes: tuple[int, ...]) -> list[int]:
    out, start = [], 0
    for size in sizes:
        out.append(sum(bits[start:start + size]))
        start += size
    return out


def brute_force_masks(sizes: tuple[int, ...], n_keep: int, m: int) -> int:
    """Masks (tuples of 0/1 over all channels) that keep exactly ``n_keep`` channels and at least
    ``m`` in every layer, counted one by one."""
    return sum(1 for bits in itertools.product((0, 1), repeat=sum(sizes))
               if sum(bits) == n_keep and min(kept_per_layer(bits, sizes)) >= m)


# -------------------------------------------------------------------------------- n_pruned, n_kept

@pytest.mark.parametrize("n, sparsity, pruned", [
    (10, 0.25, 2),    # 2.5 → 2: Python's round (half to even), not half up
    (2, 0.25, 0),     # 0.5 → 0
    (6, 0.25, 2),     # 1.5 → 2
    (14, 0.25, 4),    # 3.5 → 4
    (22, 0.5, 11), (22, 0.9, 20), (22, 0.95, 21), (70, 0.9, 63), (5, 0.0, 0), (1, 0.999, 1),
])
def test_n_pruned_uses_python_round(n, sparsity, pruned):
    assert counts.n_pruned(n, sparsity) == pruned
    assert counts.n_kept(n, sparsity) == n - pruned


def test_n_pruned_and_n_kept_over_a_grid():
    for n in range(1, 80):
        for s in GRID + [0.333, 0.999]:
            assert counts.n_pruned(n, s) == round(s * n) and type(counts.n_pruned(n, s)) is int
            assert counts.n_kept(n, s) + counts.n_pruned(n, s) == n


@pytest.mark.parametrize("bad", [-0.1, 1.0, "0.5", None, math.nan])
def test_n_pruned_checks_the_sparsity(bad):
    with pytest.raises(ValueError, match="sparsity") as err:
        counts.n_pruned(10, bad)
    assert repr(bad) in str(err.value)
    with pytest.raises(ValueError, match="sparsity"):
        counts.n_kept(10, bad)


# ------------------------------------------------------------------------------------- feasibility

def test_infeasibility_names_the_numbers():
    # 5 channels, 0.9 → round(4.5) = 4 pruned, 1 left; min 1 in 2 layers needs 2; max 1 - 2/5 = 0.6
    reason = counts.infeasibility({"a": 3, "b": 2}, 0.9, 1)
    assert reason == ("sparsity=0.9 prunes 4 of 5 channels, leaving 1, but min_channels_per_layer=1 needs 2 "
                      "in 2 layers; the largest sparsity possible is 0.600")
    assert counts.infeasibility({"a": 3, "b": 2}, 0.6, 1) is None


def test_infeasibility_names_the_layers_smaller_than_the_minimum():
    reason = counts.infeasibility({"conv1": 6, "conv2": 16}, 0.1, 7)
    assert reason == "min_channels_per_layer=7 exceeds the size of layers {'conv1': 6}"
    # a plain list of sizes: layers are named by position
    assert "{'layer 1': 2}" in counts.infeasibility([3, 2, 4], 0.0, 3)


def test_check_feasible_raises_the_reason():
    counts.check_feasible({"conv1": 6, "conv2": 16}, 0.9, 1)  # 20 pruned, 2 left: feasible
    with pytest.raises(ValueError) as err:
        counts.check_feasible({"conv1": 6, "conv2": 16}, 0.95, 1)
    assert str(err.value) == counts.infeasibility({"conv1": 6, "conv2": 16}, 0.95, 1)
    assert "21 of 22" in str(err.value) and "0.909" in str(err.value)


@pytest.mark.parametrize("bad", [-1, 1.5, "1", None, True])
def test_bad_minimum_raises(bad):
    with pytest.raises(ValueError, match="min_channels_per_layer") as err:
        counts.is_feasible([3, 3], 0.5, bad)
    assert repr(bad) in str(err.value)


def test_is_feasible_matches_brute_force_over_small_layers():
    checked = infeasible = 0
    for sizes in SMALL_LAYOUTS:
        n = sum(sizes)
        for s in GRID:
            keep = n - round(s * n)
            for m in range(0, 4):
                exists = brute_force_masks(sizes, keep, m) > 0
                assert counts.is_feasible(sizes, s, m) == exists, (sizes, s, m)
                assert counts.is_feasible(dict(enumerate(sizes)), s, m) == exists  # mapping or list
                assert (counts.infeasibility(sizes, s, m) is None) == exists
                checked += 1
                infeasible += not exists
    assert checked > 1000 and 0 < infeasible < checked  # both outcomes occur


def test_min_zero_is_always_feasible():
    assert all(counts.is_feasible(sizes, s) for sizes in SMALL_LAYOUTS for s in GRID)


# ------------------------------------------------------------------------------- mask_space

@pytest.mark.parametrize("m", [0, 1, 2])
def test_mask_space_equals_brute_force_enumeration(m):
    nonzero = 0
    for sizes in SMALL_LAYOUTS:
        if sum(sizes) > 10:
            continue
        n = sum(sizes)
        for s in GRID:
            expected = brute_force_masks(sizes, n - round(s * n), m)
            assert counts.mask_space(sizes, s, m) == expected, (sizes, s, m)
            nonzero += expected > 0
    assert nonzero > 0


def test_mask_space_without_minimum_is_a_binomial():
    assert counts.mask_space({"conv1": 6, "conv2": 16}, 0.5) == math.comb(22, 11)
    assert counts.mask_space([20, 50], 0.9) == math.comb(70, 7)
    assert counts.mask_space([4, 4], 0.0) == 1


def test_mask_space_with_minimum_one_on_lenet():
    # 0.9 of 22 keeps 2 channels, one per layer: 6 · 16 masks; without the minimum any 2 of 22
    assert counts.mask_space({"conv1": 6, "conv2": 16}, 0.9, 1) == 6 * 16
    assert counts.mask_space({"conv1": 6, "conv2": 16}, 0.9, 0) == math.comb(22, 2)
    assert counts.mask_space({"conv1": 6, "conv2": 16}, 0.95, 1) == 0  # infeasible: no mask


# ------------------------------------------------------------------------- max and feasible sparsities

def test_max_sparsity():
    assert counts.max_sparsity({"conv1": 6, "conv2": 16}, 1) == pytest.approx(1 - 2 / 22)
    assert counts.max_sparsity([20, 50], 3) == pytest.approx(1 - 6 / 70)
    assert counts.max_sparsity([4, 4], 0) == 1.0


def test_feasible_sparsities_keeps_the_feasible_ones_in_order():
    lenet = {"conv1": 6, "conv2": 16}
    assert counts.feasible_sparsities(lenet, 0, GRID) == tuple(GRID)
    # min 1: 0.95 leaves 1 of 22 for 2 layers; 0.9 leaves 2
    assert counts.feasible_sparsities(lenet, 1, GRID) == tuple(GRID[:-1])
    # min 2 needs 4 kept: 0.85 → round(18.7) = 19 pruned, 3 kept, too few; 0.8 → 18 pruned, 4 kept
    assert counts.feasible_sparsities(lenet, 2, GRID) == tuple(s for s in GRID if s <= 0.8)
    assert counts.feasible_sparsities(lenet, 1, [0.95, 0.5, 0.9, 0.1]) == (0.5, 0.9, 0.1)
    assert counts.feasible_sparsities(lenet, 7, GRID) == ()  # conv1 has only 6 channels
    for m in range(4):
        assert counts.feasible_sparsities(lenet, m, GRID) == tuple(
            s for s in GRID if brute_force_exists_lenet(s, m))


def brute_force_exists_lenet(sparsity: float, m: int) -> bool:
    """Whether some split of LeNet's kept channels gives both layers >= m (6 and 16 channels)."""
    keep = 22 - round(sparsity * 22)
    return any(m <= k1 <= 6 and m <= keep - k1 <= 16 for k1 in range(keep + 1))


def test_all_masks_lists_every_mask_once():
    from prunegan.core import counts as c
    for sizes, s, m in (([6, 16], 0.9, 1), ([3, 4], 0.5, 0), ([2, 2, 3], 0.5, 1)):
        masks = c.all_masks(sizes, s, m)
        assert len(masks) == len({tuple(x) for x in masks}) == c.mask_space(sizes, s, m)
        assert all(sum(x) == c.n_kept(sum(sizes), s) for x in masks)
    with pytest.raises(ValueError, match="exceed limit=10"):
        c.all_masks([6, 16], 0.8, 1, limit=10)
