"""Part 2's evaluation protocol: masks of several *proposers* on one held-out network at one sparsity,
each retrained with paired seeds (jobs for :func:`prunegan.runs.runner.run`).

A proposer gives mask ``i`` of a method: a :class:`~prunegan.pruning.strategies.Method` drawn with
seed ``seed + i`` (:func:`method_proposer`), one fixed mask (L1, the best bank mask;
:func:`fixed_proposer`), or the best of ``k`` candidates of a method ranked by an accuracy critic
(:func:`critic_proposer`). Mask ``i`` of every proposer is retrained with seed ``retrain.seed + i``,
so masks with the same ``i`` form a pair; :func:`check_disjoint` makes sure those seeds are not
among the seeds the bank was built (and its best mask selected) with. Every row carries
``propose_seconds``: the time taken to propose the mask (the compute of a method beyond retraining).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from ..core import counts
from ..core.masks import ChannelMask, layer_sizes
from ..core.validate import check_int, check_instance
from ..pruning.strategies import Method
from ..train import TrainConfig
from . import runner

#: ``(model, sparsity, i) -> mask i`` of a method.
Proposer = Callable[[nn.Module, float, int], ChannelMask]


@dataclass(frozen=True)
class ProtocolConfig:
    """``samples`` masks per (method, network, sparsity); mask ``i`` is drawn with seed ``seed + i``
    and retrained with ``retrain`` at seed ``retrain.seed + i``; critic-ranked methods pick the best
    of ``critic_candidates``."""

    samples: int = 20
    retrain: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1, seed=1000))
    seed: int = 1000
    critic_candidates: int = 16

    def __post_init__(self) -> None:
        check_int("ProtocolConfig.samples", self.samples, 1)
        check_int("ProtocolConfig.seed", self.seed, 0)
        check_int("ProtocolConfig.critic_candidates", self.critic_candidates, 1)
        check_instance("ProtocolConfig.retrain", self.retrain, TrainConfig)

    def retrain_seeds(self) -> range:
        return range(self.retrain.seed, self.retrain.seed + self.samples)


def check_disjoint(config: ProtocolConfig, bank_retrain: TrainConfig, bank_retrain_seeds: int) -> None:
    """Raise ``ValueError`` if the protocol's retraining seeds overlap the bank's
    (``bank_retrain.seed … + bank_retrain_seeds − 1``): a mask selected with a seed must not be
    measured with it."""
    bank = set(range(bank_retrain.seed, bank_retrain.seed + bank_retrain_seeds))
    shared = sorted(bank & set(config.retrain_seeds()))
    if shared:
        raise ValueError(f"the protocol's retraining seeds {shared} were used to build the bank "
                         f"(bank seeds {sorted(bank)}); set ProtocolConfig.retrain seed above them")


def method_proposer(method: Method, seed: int, **runtime: Any) -> Proposer:
    """Mask ``i``: ``method.prune(model, sparsity, seed=seed + i, **runtime)``."""
    return lambda model, sparsity, i: method.prune(model, sparsity, seed=seed + i, **runtime)


def per_trial_proposer(make: Callable[[int], Proposer]) -> Proposer:
    """Mask ``i`` from the proposer ``make(i)``: pair ``i`` of a learned method uses its seed-``i``
    instance (generator, critic), so a paired CI covers the method's own randomness."""
    return lambda model, sparsity, i: make(i)(model, sparsity, i)


def fixed_proposer(mask: ChannelMask) -> Proposer:
    """The same mask for every ``i`` (retrained with each seed)."""
    return lambda model, sparsity, i: mask


#: ``(model, sparsity, first_seed, k) -> k`` candidate masks (seeds ``first_seed … + k − 1``).
Candidates = Callable[[nn.Module, float, int, int], list[ChannelMask]]


def method_candidates(method: Method, **runtime: Any) -> Candidates:
    """Candidates of ``method``: ``method.prune(model, sparsity, seed=first_seed + j, **runtime)``."""
    return lambda model, sparsity, first, k: [method.prune(model, sparsity, seed=first + j, **runtime)
                                              for j in range(k)]


def critic_proposer(candidates: Candidates, critic, features, k: int, seed: int) -> Proposer:
    """Mask ``i``: the best of ``k`` candidates (seeds ``seed + i·k + j``, ``j < k``) by the critic's
    predicted accuracy; ``features(model)`` gives the critic's channel features."""
    k = check_int("k (critic candidates)", k, 1)

    def propose(model, sparsity, i):
        cands = candidates(model, sparsity, seed + i * k, k)
        vecs = torch.stack([c.to_vector().to(torch.float32) for c in cands])
        return cands[critic.best_of(features(model), vecs, sparsity)]
    return propose


@dataclass(frozen=True)
class Entry:
    """One method of a comparison: its row ``labels`` (``method``, ``label``, …) and its proposer;
    ``min_channels_per_layer`` decides where it is feasible."""

    labels: Mapping[str, Any]
    propose: Proposer
    min_channels_per_layer: int = 0


def entry(method: Method, seed: int, **runtime: Any) -> Entry:
    """An :class:`Entry` for a method drawn with seeds ``seed + i``."""
    return Entry(method.labels(), method_proposer(method, seed, **runtime), method.min_channels_per_layer)


def jobs(model: nn.Module, sparsity: float, entries: list[Entry], config: ProtocolConfig, *,
         include_linear: bool, labels: Mapping[str, Any] | None = None) -> list[runner.Job]:
    """``config.samples`` jobs per entry feasible at ``sparsity`` on ``model``; rows carry the
    entry's labels, ``labels``, ``sparsity``, ``trial`` (= ``i``) and ``propose_seconds``."""
    sizes = layer_sizes(model, include_linear=include_linear)
    out = []
    for e in entries:
        if not counts.is_feasible(sizes, sparsity, e.min_channels_per_layer):
            continue
        for i in range(config.samples):
            start = time.perf_counter()
            mask = e.propose(model, sparsity, i)
            seconds = time.perf_counter() - start
            retrain = replace(config.retrain, seed=config.retrain.seed + i)
            out.append(runner.Job(mask, retrain, {**e.labels, **(labels or {}), "sparsity": sparsity,
                                                  "trial": i, "propose_seconds": seconds}))
    return out
