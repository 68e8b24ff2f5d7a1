"""Method comparisons: masks of several :class:`~prunegan.pruning.strategies.Method` objects (and,
optionally, the best mask of a bank) on one trained network, each retrained with paired seeds
(jobs for :func:`prunegan.runs.runner.run`).

Mask ``i`` of every method at a sparsity is retrained with seed ``retrain.seed + i``, so masks of
different methods with the same ``i`` form a pair. Deterministic methods (L1, the best bank mask)
give one mask, retrained ``samples`` times; random ones (random, GAN samples) mask ``i`` drawn with
seed ``seed + i``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .. import models
from ..core import counts
from ..core.masks import layer_sizes
from ..core.validate import check_bool, check_instance, check_int, check_sequence, check_sparsities
from ..pruning.engine import DEFAULT_RETRAIN
from ..pruning.strategies import Method
from ..train import TrainConfig
from . import runner
from .bank import Bank
from .baseline import BaselineConfig, baseline

#: The methods compared by default: the GAN (free and with one channel per layer), L1, random, random-min1.
DEFAULT_METHODS: tuple[Method, ...] = (
    Method("gan", label="GAN"), Method("gan", min_channels_per_layer=1, label="GAN, min 1/layer"),
    Method("l1", label="L1"), Method("random", label="random"),
    Method("random", min_channels_per_layer=1, label="random, min 1/layer"))
#: Name and label of the best mask of the bank, re-measured.
BEST_BANK = {"method": "best-bank", "label": "best bank mask", "strategy": "bank", "min_channels_per_layer": None,
             "temperature": None}
#: Strategies whose masks are the same for every seed: one mask, retrained ``samples`` times.
DETERMINISTIC = ("l1",)


@dataclass(frozen=True)
class CompareConfig:
    """Compare ``methods`` (and the best bank mask if ``best_bank``) on the trained ``baseline`` at
    each of ``sparsities``, ``samples`` masks each; ``include_linear`` applies to every method."""

    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    sparsities: tuple[float, ...] = (0.5, 0.7, 0.8, 0.9, 0.95)
    samples: int = 5
    methods: tuple[Method, ...] = DEFAULT_METHODS
    best_bank: bool = True
    retrain: TrainConfig = DEFAULT_RETRAIN
    include_linear: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        check_instance("CompareConfig.baseline", self.baseline, BaselineConfig)
        object.__setattr__(self, "sparsities", check_sparsities("CompareConfig.sparsities", self.sparsities))
        methods = check_sequence("CompareConfig.methods", self.methods)
        for m in methods:
            check_instance("CompareConfig.methods entry", m, Method, "prunegan.pruning.strategies.Method")
        check_bool("CompareConfig.include_linear", self.include_linear)
        object.__setattr__(self, "methods", tuple(replace(m, include_linear=self.include_linear) for m in methods))
        names = [m.name for m in self.methods]
        if len(set(names)) != len(names):
            raise ValueError(f"CompareConfig.methods has two methods of the same name: {names}")
        check_int("CompareConfig.samples", self.samples, 1)
        check_int("CompareConfig.seed", self.seed, 0)
        check_bool("CompareConfig.best_bank", self.best_bank)
        check_instance("CompareConfig.retrain", self.retrain, TrainConfig)

    @property
    def needs_generator(self) -> bool:
        return any(m.strategy == "gan" for m in self.methods)


def bank_index(bank: Bank | None, config: CompareConfig) -> int | None:
    """Index of ``config``'s network among the bank's baselines (same pruned layers), or ``None``."""
    if bank is None or bank.config.include_linear != config.include_linear:
        return None
    return next((i for i, b in enumerate(bank.config.baselines) if b == config.baseline), None)


def skipped(config: CompareConfig, bank: Bank | None = None) -> pd.DataFrame:
    """The (method, sparsity) pairs :func:`compare` leaves out, and why."""
    sizes = layer_sizes(models.build(config.baseline.model), include_linear=config.include_linear)
    rows = []
    for s in config.sparsities:
        for m in config.methods:
            reason = counts.infeasibility(sizes, s, m.min_channels_per_layer)
            if reason:
                rows.append({"method": m.name, "sparsity": s, "reason": reason})
        if config.best_bank:
            reason = None
            if bank_index(bank, config) is None:
                reason = "the bank holds no mask of this network"
            elif not np.isclose(bank.config.sparsities, s).any():
                reason = "the bank holds no mask at this sparsity"
            if reason:
                rows.append({"method": BEST_BANK["method"], "sparsity": s, "reason": reason})
    return pd.DataFrame(rows, columns=["method", "sparsity", "reason"])


def jobs(config: CompareConfig, model, *, generator: Any = None, bank: Bank | None = None) -> list[runner.Job]:
    """One job per (method, sparsity, sample) that is not :func:`skipped`."""
    if config.needs_generator and generator is None:
        raise ValueError("comparing the GAN needs generator=<prunegan.gan.Generator>, got None")
    gone = {(r.method, r.sparsity) for r in skipped(config, bank).itertuples()}
    common = {"model": config.baseline.model, "include_linear": config.include_linear}
    out = []
    for s in config.sparsities:
        for m in config.methods:
            if (m.name, s) in gone:
                continue
            runtime = {"generator": generator} if m.strategy == "gan" else {}
            fixed = m.prune(model, s, seed=config.seed, **runtime) if m.strategy in DETERMINISTIC else None
            for i in range(config.samples):
                mask = fixed or m.prune(model, s, seed=config.seed + i, **runtime)
                seed = None if fixed else config.seed + i
                out.append(runner.Job(mask, replace(config.retrain, seed=config.retrain.seed + i),
                                      {**m.labels(), **common, "sparsity": s, "trial": i, "seed": seed}))
        if config.best_bank and (BEST_BANK["method"], s) not in gone:
            mask = bank.best_mask(s, baseline=bank_index(bank, config))
            for i in range(config.samples):
                out.append(runner.Job(mask, replace(config.retrain, seed=config.retrain.seed + i),
                                      {**BEST_BANK, **common, "sparsity": s, "trial": i, "seed": None}))
    return out


def compare(config: CompareConfig, *, generator: Any = None, bank: Bank | None = None,
            progress: bool = True, workers: int | None = None, executor: str = "local",
            ray_address: str | None = None) -> pd.DataFrame:
    """Run (or load from the cache) the comparison: one row per (method, sparsity, sample) with the
    columns of :func:`prunegan.runs.runner.result_row` plus the method's columns, ``sparsity``,
    ``trial``, ``seed`` (the pruning seed; ``None`` for deterministic masks), ``model``.
    ``workers``, ``executor``, ``ray_address``: where the masks are evaluated (:func:`prunegan.runs.runner.run`)."""
    base = baseline(config.baseline, progress=progress)
    return runner.run(base, jobs(config, base.model, generator=generator, bank=bank), workers=workers,
                      progress=progress, executor=executor, ray_address=ray_address)
