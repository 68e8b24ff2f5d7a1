"""Sparsity sweeps and trials: prune the baseline with one :class:`~prunegan.pruning.strategies.Method`
at each sparsity of a grid, ``trials`` times, and retrain (jobs for :func:`prunegan.runs.runner.run`)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from .. import models
from ..core import counts
from ..core.masks import layer_sizes
from ..core.validate import check_instance, check_int, check_sparsities
from ..pruning.engine import DEFAULT_RETRAIN
from ..pruning.executors import Execution
from ..pruning.strategies import Method
from ..train import TrainConfig
from . import runner
from .baseline import BaselineConfig, baseline

#: The study's sparsity grid: 0 to 95 % in steps of 5 %.
SPARSITIES: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(20))


@dataclass(frozen=True)
class SweepConfig:
    """Prune the baseline with ``method`` at each of ``sparsities``, ``trials`` times, and retrain.

    Trial ``t`` prunes with seed ``seed + t`` (so within a trial the random scores are shared and the
    masks of growing sparsity are nested) and retrains with seed ``retrain.seed + t``."""

    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    method: Method = field(default_factory=lambda: Method("l1"))
    sparsities: tuple[float, ...] = SPARSITIES
    trials: int = 1
    retrain: TrainConfig = DEFAULT_RETRAIN
    seed: int = 0

    def __post_init__(self) -> None:
        check_instance("SweepConfig.baseline", self.baseline, BaselineConfig)
        check_instance("SweepConfig.method", self.method, Method, "prunegan.pruning.strategies.Method")
        check_instance("SweepConfig.retrain", self.retrain, TrainConfig)
        check_int("SweepConfig.trials", self.trials, 1)
        check_int("SweepConfig.seed", self.seed, 0)
        object.__setattr__(self, "sparsities", check_sparsities("SweepConfig.sparsities", self.sparsities))
        # Fail now, not half-way through the sweep, if a sparsity is impossible with the per-layer minimum.
        sizes = layer_sizes(models.build(self.baseline.model), include_linear=self.method.include_linear)
        for s in self.sparsities:
            counts.check_feasible(sizes, s, self.method.min_channels_per_layer)

    def jobs(self, model) -> list[runner.Job]:
        """One job per (trial, sparsity), trial-major."""
        out = []
        for t in range(self.trials):
            retrain = replace(self.retrain, seed=self.retrain.seed + t)
            for s in self.sparsities:
                mask = self.method.prune(model, s, seed=self.seed + t)
                out.append(runner.Job(mask, retrain,
                                      {**self.method.labels(), "trial": t, "seed": self.seed + t,
                                                      "sparsity": s}))
        return out


def sweep(config: SweepConfig, *, execution: Execution = Execution()) -> pd.DataFrame:
    """Run (or load from the cache) a sweep; one row per (trial, sparsity), see
    :func:`prunegan.runs.runner.result_row`. ``execution``: where the masks are evaluated and whether
    progress bars show (:class:`~prunegan.pruning.executors.Execution`)."""
    base = baseline(config.baseline, progress=execution.progress)
    return runner.run(base, config.jobs(base.model), execution=execution)


def trials(config: SweepConfig, sparsity: float, n: int, *,
           execution: Execution = Execution()) -> pd.DataFrame:
    """``n`` trials of ``config``'s method at one ``sparsity`` (trial ``t`` is the same run as trial
    ``t`` of a sweep with the same config)."""
    return sweep(replace(config, sparsities=(sparsity,), trials=n), execution=execution)
