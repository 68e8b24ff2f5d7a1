"""Part 2's protocol: paired seeds, disjointness from the bank's seeds, proposers, critic selection."""
from __future__ import annotations

import pytest
import torch

from prunegan import models
from prunegan.core.masks import ChannelMask
from prunegan.pruning.strategies import Method
from prunegan.runs import protocol
from prunegan.train import TrainConfig


def test_jobs_pair_mask_i_with_retrain_seed_i_and_skip_infeasible_methods():
    net = models.build("lenet5", seed=0)
    cfg = protocol.ProtocolConfig(samples=3, retrain=TrainConfig(epochs=1, seed=100), seed=50)
    fixed = Method("l1").prune(net, 0.95, seed=0)
    entries = [protocol.entry(Method("random", (), 1), 50),
               protocol.Entry({"method": "fixed"}, protocol.fixed_proposer(fixed))]
    jobs = protocol.jobs(net, 0.95, entries, cfg, include_linear=False, labels={"network": 7})
    assert [j.labels["method"] for j in jobs] == ["fixed"] * 3  # random-min1 is infeasible at 95 %
    assert [j.retrain.seed for j in jobs] == [100, 101, 102] and all(j.mask == fixed for j in jobs)
    jobs = protocol.jobs(net, 0.8, entries, cfg, include_linear=False)
    rand = [j for j in jobs if j.labels["method"] == "random-min1"]
    assert [j.mask for j in rand] == [Method("random", (), 1).prune(net, 0.8, seed=50 + i) for i in range(3)]
    assert all(j.labels["propose_seconds"] >= 0 and j.labels["trial"] == i for i, j in enumerate(rand))


def test_protocol_seeds_must_be_disjoint_from_the_bank_seeds():
    cfg = protocol.ProtocolConfig(samples=20, retrain=TrainConfig(epochs=1, seed=1))
    with pytest.raises(ValueError, match=r"seeds \[1, 2\] were used to build the bank"):
        protocol.check_disjoint(cfg, TrainConfig(epochs=1, seed=0), 3)
    protocol.check_disjoint(protocol.ProtocolConfig(), TrainConfig(epochs=1, seed=0), 3)
    with pytest.raises(ValueError, match="samples"):
        protocol.ProtocolConfig(samples=0)


class PreferChannelZero:
    """A stand-in critic: predicts the kept share of conv1's first channel (so best_of is known)."""

    def best_of(self, feats, masks, sparsity):
        return int(torch.argmax(masks[:, 0]))


def test_critic_proposer_keeps_the_critic_favourite_of_k_candidates():
    net = models.build("lenet5", seed=0)
    m = Method("random", (), 1)
    propose = protocol.critic_proposer(protocol.method_candidates(m), PreferChannelZero(),
                                       lambda model: None, 8, 10)
    chosen = propose(net, 0.9, 1)
    cands = [m.prune(net, 0.9, seed=10 + 8 + j) for j in range(8)]
    assert chosen in cands
    if any(bool(c["conv1"][0]) for c in cands):
        assert bool(chosen["conv1"][0])
    assert isinstance(chosen, ChannelMask)


def test_per_trial_proposer_takes_mask_i_from_instance_i():
    net = models.build("lenet5", seed=0)
    made = []

    def make(i):  # instance i: random-min1 drawn from its own seed family 100 * i
        made.append(i)
        return protocol.method_proposer(Method("random", (), 1), 100 * i)

    propose = protocol.per_trial_proposer(make)
    masks = [propose(net, 0.8, i) for i in range(4)]
    assert made == [0, 1, 2, 3]
    assert masks == [Method("random", (), 1).prune(net, 0.8, seed=100 * i + i) for i in range(4)]
    cfg = protocol.ProtocolConfig(samples=4, retrain=TrainConfig(epochs=1, seed=100), seed=0)
    jobs = protocol.jobs(net, 0.8, [protocol.Entry({"method": "learned"}, propose, 1)], cfg,
                         include_linear=False)
    assert [j.mask for j in jobs] == masks and [j.retrain.seed for j in jobs] == [100, 101, 102, 103]
