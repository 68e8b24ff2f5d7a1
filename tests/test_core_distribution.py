"""The exact structured mask distribution: normalised, exact marginals, exact sampling, constraints."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from prunegan.core.distribution import StructuredMasks


def _all_masks(n, k):
    for kept in itertools.combinations(range(n), k):
        m = torch.zeros(n)
        m[list(kept)] = 1
        yield m


def _random_dist(sizes, k, seed=0, m=1):
    g = torch.Generator().manual_seed(seed)
    log_w = torch.randn(sum(sizes), generator=g, dtype=torch.float64)
    theta = [torch.randn(s + 1, generator=g, dtype=torch.float64) for s in sizes]
    return StructuredMasks(sizes, k, log_w, theta, min_per_layer=m)


@pytest.mark.parametrize("sizes, k, m", [([2, 3], 3, 1), ([3, 1, 4], 4, 1), ([6, 16], 2, 1), ([6, 16], 4, 0),
                                         ([4, 4], 5, 2), ([5], 2, 1)])
def test_probabilities_of_all_masks_sum_to_one(sizes, k, m):
    d = _random_dist(sizes, k, m=m)
    masks = torch.stack(list(_all_masks(sum(sizes), k)))
    p = d.log_prob(masks).exp()
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-10)
    counts = torch.stack([part.sum(1) for part in torch.split(masks, sizes, 1)], 1)
    assert (p[(counts < m).any(1)] == 0).all()  # nothing outside the support
    # marginals = Σ over masks of P(mask) · mask, exactly
    assert torch.allclose(d.marginals(), p @ masks.double(), atol=1e-10)


def test_zero_parameters_give_the_uniform_distribution_over_collapse_free_masks():
    d = StructuredMasks([6, 16], 2)
    assert d.log_prob(torch.cat([torch.tensor([1.0] + [0] * 5),
                                 torch.tensor([1.0] + [0] * 15)])[None]).exp().item() \
        == pytest.approx(1 / 96)  # 6 · 16 collapse-free masks keep 2 of LeNet-5's 22 conv channels


def test_sampling_frequencies_match_the_exact_marginals_and_probabilities():
    sizes, k = [2, 3, 2], 4
    d = _random_dist(sizes, k, seed=3)
    samples = d.sample(20000, torch.Generator().manual_seed(0))
    assert (samples.sum(1) == k).all()
    assert all((part.sum(1) >= 1).all() for part in torch.split(samples, sizes, 1))
    freq = samples.double().mean(0)
    assert torch.allclose(freq, d.marginals(), atol=0.015)
    keys, counts = torch.unique(samples.long(), dim=0, return_counts=True)
    exact = d.log_prob(keys).exp()
    assert torch.allclose(counts.double() / len(samples), exact, atol=0.012)


def test_sampling_is_seeded():
    d = _random_dist([6, 16], 5)
    a = d.sample(10, torch.Generator().manual_seed(1))
    assert torch.equal(a, d.sample(10, torch.Generator().manual_seed(1)))
    assert not torch.equal(a, d.sample(10, torch.Generator().manual_seed(2)))


def test_gradients_flow_to_weights_and_count_logits():
    sizes = [3, 4]
    lw = torch.zeros(7, dtype=torch.float64, requires_grad=True)
    theta = [torch.zeros(s + 1, dtype=torch.float64, requires_grad=True) for s in sizes]
    d = StructuredMasks(sizes, 3, lw, theta)
    mask = torch.tensor([[1.0, 1, 0, 1, 0, 0, 0]])
    d.log_prob(mask).sum().backward()
    # raising P(k_0 = 2) raises this mask's probability
    assert lw.grad.abs().sum() > 0 and theta[0].grad[2] > 0


def test_infeasible_constraints_raise_clear_errors():
    with pytest.raises(ValueError, match="k=1 of 22 channels with at least 1 in each of 2 layers"):
        StructuredMasks([6, 16], 1)
    with pytest.raises(ValueError, match="k=23"):
        StructuredMasks([6, 16], 23)
    with pytest.raises(ValueError, match="log_w"):
        StructuredMasks([2, 2], 2, torch.zeros(3))
    with pytest.raises(ValueError, match="count_logits"):
        StructuredMasks([2, 2], 2, None, [torch.zeros(3)])


def test_large_layers_stay_finite():
    d = _random_dist([6, 16, 120, 84], 23)
    assert math.isfinite(float(d.log_partition()))
    marg = d.marginals()
    assert float(marg.sum()) == pytest.approx(23, abs=1e-6) and ((marg >= 0) & (marg <= 1 + 1e-9)).all()
    s = d.sample(5, torch.Generator().manual_seed(0))
    assert (s.sum(1) == 23).all() and all((p.sum(1) >= 1).all() for p in torch.split(s, [6, 16, 120, 84], 1))


# ------------------------------------------------------------------------------------------- the mode
def _support(d):
    masks = torch.stack(list(_all_masks(d.n, d.k)))
    return masks, d.log_prob(masks)


@pytest.mark.parametrize("sizes, k, m", [([2, 3], 3, 1), ([3, 1, 4], 4, 1), ([3, 1, 4], 4, 0), ([6, 5], 4, 0),
                                         ([6, 5], 4, 1), ([4, 4], 5, 2), ([5], 2, 1), ([2, 2, 3], 3, 1)])
@pytest.mark.parametrize("seed", range(4))
def test_mode_is_the_argmax_of_log_prob_over_every_mask_of_the_support(sizes, k, m, seed):
    d = _random_dist(sizes, k, seed=seed, m=m)
    masks, lp = _support(d)
    mode = d.mode()
    assert mode.dtype == torch.bool and mode.shape == (d.n,) and int(mode.sum()) == k
    best = int(torch.argmax(lp))
    assert torch.equal(mode, masks[best].bool())  # random weights: the argmax is unique
    assert float(d.log_prob(mode[None])[0]) == pytest.approx(float(lp.max()), abs=1e-12)
    assert d.mode_counts() == [int(p.sum()) for p in torch.split(mode, sizes)]
    samples = d.sample(200, torch.Generator().manual_seed(seed))
    assert (d.log_prob(samples) <= d.log_prob(mode[None])[0] + 1e-12).all()


def _weak_middle_layer(m):
    """Layer 1's channels have far lower weights than the others: its best count is 0 unless the
    per-layer minimum forces some."""
    log_w = torch.tensor([2.0, 1.5, 1.0, -9.0, -9.5, 0.5, 0.2, 0.1], dtype=torch.float64)
    return StructuredMasks([3, 2, 3], 4, log_w, min_per_layer=m)


@pytest.mark.parametrize("m, counts", [(0, [3, 0, 1]), (1, [2, 1, 1]), (2, [2, 2, 0])])
def test_mode_honours_the_per_layer_minimum_on_both_sides_of_it(m, counts):
    if m == 2:  # 3 layers x 2 > 4 kept: infeasible, a clear error
        with pytest.raises(ValueError, match="no mask keeps"):
            _weak_middle_layer(m)
        return
    d = _weak_middle_layer(m)
    assert d.mode_counts() == counts
    masks, lp = _support(d)
    assert torch.equal(d.mode(), masks[int(torch.argmax(lp))].bool())
    if m == 1:  # the minimum binds: layer 1 keeps exactly its one best channel (index 3, not 4)
        assert d.mode()[3] and not d.mode()[4]


def test_mode_includes_the_count_factors():
    # equal channel weights, layer 0's count factor favours keeping exactly 1 of its 3 channels
    theta = [torch.tensor([0.0, 5.0, 0.0, 0.0], dtype=torch.float64), torch.zeros(4, dtype=torch.float64)]
    d = StructuredMasks([3, 3], 3, torch.zeros(6, dtype=torch.float64), theta, min_per_layer=0)
    assert d.mode_counts() == [1, 2]
    masks, lp = _support(d)
    assert float(d.log_prob(d.mode()[None])[0]) == pytest.approx(float(lp.max()), abs=1e-12)


@pytest.mark.parametrize("sizes, k, m, kept, kept_tied", [([2, 3], 3, 1, [0, 1, 2], [0, 2, 3]),
                                                          ([3, 2], 3, 1, [0, 1, 3], [2, 3, 4]),
                                                          ([3, 2], 4, 0, [0, 1, 2, 3], [0, 2, 3, 4])])
def test_mode_breaks_ties_towards_lower_indices(sizes, k, m, kept, kept_tied):
    # uniform: every mask ties; the mode keeps the most channels in earlier layers, lowest indices first
    d = StructuredMasks(sizes, k, min_per_layer=m)
    assert d.mode().nonzero().flatten().tolist() == kept
    # two equal weights in one layer: the lower index is kept
    log_w = torch.zeros(sum(sizes), dtype=torch.float64)
    log_w[1] = log_w[0] = -1.0
    d = StructuredMasks(sizes, k, log_w, min_per_layer=m)
    assert d.mode().nonzero().flatten().tolist() == kept_tied
    assert float(d.log_prob(d.mode()[None])[0]) == pytest.approx(float(_support(d)[1].max()), abs=1e-12)
