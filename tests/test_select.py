"""prunegan.pruning.select: the one global selection, scores → ChannelMask."""
from __future__ import annotations

import itertools

import pytest
import torch

from prunegan.core import counts
from prunegan.core.masks import ChannelMask
from prunegan.pruning.select import select


def test_select_ties_go_to_the_first_channel():
    scores = {"a": torch.zeros(3), "b": torch.zeros(4)}
    mask = select(scores, 3 / 7)
    assert mask.to_vector().tolist() == [False, False, False, True, True, True, True]


def test_select_uses_scores_globally():
    scores = {"a": torch.tensor([5.0, 1.0, 3.0]), "b": torch.tensor([2.0, 4.0])}
    assert select(scores, 0.4).to_dict() == {"a": [1, 0, 1], "b": [0, 1]}
    assert select(scores, 0.6).to_dict() == {"a": [1, 0, 0], "b": [0, 1]}
    assert select(scores, 0.6, min_channels_per_layer=1).to_dict() == {"a": [1, 0, 0], "b": [0, 1]}
    low_b = {"a": torch.tensor([5.0, 1.0, 3.0]), "b": torch.tensor([0.5, 0.2])}
    assert select(low_b, 0.4).to_dict() == {"a": [1, 1, 1], "b": [0, 0]}
    assert select(low_b, 0.4, min_channels_per_layer=1).to_dict() == {"a": [1, 0, 1], "b": [1, 0]}


def test_select_returns_a_channel_mask_of_the_score_layers():
    scores = {"x": torch.arange(4.0), "y": torch.arange(3.0, 0.0, -1.0)}
    mask = select(scores, 0.0)
    assert isinstance(mask, ChannelMask) and mask.sizes == {"x": 4, "y": 3} and mask.n_pruned == 0


def test_select_matches_brute_force_best_mask():
    # The selected mask keeps the largest total score among all masks with the right count and minimum
    # (scores are distinct, so that mask is unique).
    gen = torch.Generator().manual_seed(0)
    sizes = {"a": 3, "b": 2, "c": 4}
    for trial in range(5):
        scores = {k: torch.rand(n, generator=gen) for k, n in sizes.items()}
        flat = torch.cat(list(scores.values())).tolist()
        for sparsity in (0.2, 0.5, 0.7):
            for m in (0, 1):
                keep = counts.n_kept(9, sparsity)
                best = max((bits for bits in itertools.product((0, 1), repeat=9)
                            if sum(bits) == keep and min(sum(bits[0:3]), sum(bits[3:5]),
                                                         sum(bits[5:9])) >= m),
                           key=lambda bits: sum(f for f, b in zip(flat, bits) if b))
                got = select(scores, sparsity, min_channels_per_layer=m).to_vector().int().tolist()
                assert got == list(best), (trial, sparsity, m)


def test_select_infeasible_sparsity_raises_the_counts_reason():
    scores = {"a": torch.ones(3), "b": torch.ones(2)}
    with pytest.raises(ValueError) as err:
        select(scores, 0.9, min_channels_per_layer=1)
    assert str(err.value) == counts.infeasibility({"a": 3, "b": 2}, 0.9, 1)
    with pytest.raises(ValueError, match=r"min_channels_per_layer=3 exceeds the size of layers \{'b': 2\}"):
        select(scores, 0.0, min_channels_per_layer=3)


@pytest.mark.parametrize("bad", [1.0, -0.5, "0.5", None])
def test_select_bad_sparsity_raises(bad):
    with pytest.raises(ValueError, match="sparsity") as err:
        select({"a": torch.ones(3)}, bad)
    assert repr(bad) in str(err.value)


@pytest.mark.parametrize("bad", [-1, 0.5, "1", None, True])
def test_select_bad_minimum_raises(bad):
    with pytest.raises(ValueError, match="min_channels_per_layer") as err:
        select({"a": torch.ones(3)}, 0.5, min_channels_per_layer=bad)
    assert repr(bad) in str(err.value)
