"""Issue 8's generator over exact structured masks and the accuracy critic, on synthetic targets."""
from __future__ import annotations

import pytest
import torch

from prunegan import models
from prunegan.core.masks import prunable_layers
from prunegan.gan import channel_features, structured
from prunegan.gan.critic import AccuracyCritic, Labelled
from prunegan.pruning.scorers import l1_norms
from prunegan.pruning.select import select


def _top_l1_mask(net, sparsity):
    """Keeps the largest-|w| channel of every layer first: the 'good' structure of the synthetic bank."""
    norms = l1_norms(prunable_layers(net))
    return select({k: v + 100 * (v == v.max()).float() for k, v in norms.items()}, sparsity)


def test_an_untrained_generator_is_uniform_over_collapse_free_masks():
    feats = channel_features(models.build("lenet5", seed=0))
    net = structured.StructuredNet(feats.x.shape[1])
    dist = structured.distribution(net, feats, 0.9)
    marg = dist.marginals()
    assert torch.allclose(marg[:6], torch.full((6,), 1 / 6, dtype=torch.float64))
    assert torch.allclose(marg[6:], torch.full((16,), 1 / 16, dtype=torch.float64))
    with pytest.raises(ValueError, match="k=1 of 22"):
        structured.distribution(net, feats, 0.95)  # 1 channel kept for 2 layers: impossible


def test_training_learns_the_good_structure_and_never_collapses():
    nets = [models.build("lenet5", seed=s) for s in range(3)]
    examples = []
    for net in nets:
        feats = channel_features(net)
        good = _top_l1_mask(net, 0.9).to_vector().float()[None]
        examples.append(structured.Examples(feats, 0.9, good, torch.ones(1)))
    gen, history = structured.fit(examples, structured.StructuredGanConfig(steps=150, batch_size=16))
    assert len(history) == 150 and all(k in history[0] for k in ("d_gap", "d_real", "d_fake", "reward"))
    held_out = models.build("lenet5", seed=9)
    feats = channel_features(held_out)
    dist = structured.distribution(gen, feats, 0.9)
    samples = dist.sample(200, torch.Generator().manual_seed(0))
    assert (samples[:, :6].sum(1) == 1).all() and (samples[:, 6:].sum(1) == 1).all()  # never collapsed
    target = _top_l1_mask(held_out, 0.9).to_vector()
    hit = (samples == target).all(1).float().mean()
    assert hit > 5 / 96  # far above the uniform 1/96 of an untrained generator
    marg = dist.marginals()
    assert bool((marg[target] > 1 / 6 + 0.05).all())  # the target channels are favoured in both layers


def test_critic_ranks_held_out_masks_by_a_learnable_accuracy():
    net = models.build("lenet5", seed=0)
    feats = channel_features(net)
    norms = torch.cat(list(l1_norms(prunable_layers(net)).values()))
    g = torch.Generator().manual_seed(0)

    def labelled(n):
        masks = torch.stack([torch.randperm(22, generator=g)[:8] for _ in range(n)])
        m = torch.zeros(n, 22).scatter_(1, masks, 1.0)
        return Labelled(feats, 0.64, m, (m * norms).sum(1) / norms.sum())  # accuracy grows with kept |w|

    critic = AccuracyCritic(feats.x.shape[1], hidden=32)
    critic.fit([labelled(300)], steps=300)
    assert critic.spearman(labelled(100)) > 0.6
    with pytest.raises(ValueError, match="at least one"):
        critic.fit([])


def test_config_rejects_bad_values():
    for kw in ({"steps": 0}, {"lr_generator": 0}, {"critic_weight": -1}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            structured.StructuredGanConfig(**kw)
    with pytest.raises(ValueError, match="at least one"):
        structured.fit([])
