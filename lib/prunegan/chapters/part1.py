"""Chapters 1-5 (Part 1): configs from the plain values of a notebook's parameters cell
(``smoke=True`` shrinks everything for a fast test run), and the collapse verdict."""
from __future__ import annotations

from .. import models
from ..core import counts
from ..core.masks import layer_sizes
from ..pruning.strategies import Method
from ..runs.baseline import BaselineConfig
from ..runs.sweep import SPARSITIES, SweepConfig
from ..train import TrainConfig

#: Smoke runs: a 400/200-image subset, one epoch, three sparsities, at most three trials.
SMOKE_DATA = {"n_train": 400, "n_test": 200}
SMOKE_SPARSITIES = (0.0, 0.5, 0.9)
SMOKE_TRIALS = 3


def baseline_config(*, model: str = "lenet5", data: str = "mnist-5k", epochs: int = 10, seed: int = 0,
                    smoke: bool = False) -> BaselineConfig:
    """The trained network of the study (``seed`` draws the initial weights and the training order)."""
    extra = SMOKE_DATA if smoke else {}
    return BaselineConfig(model=model, data=data, init_seed=seed,
                          train=TrainConfig(epochs=1 if smoke else epochs, seed=seed), **extra)


def sweep_config(base: BaselineConfig, *, strategy: str, retrain_epochs: int = 3,
                 sparsities: tuple[float, ...] = SPARSITIES, trials: int = 1, min_channels_per_layer: int = 0,
                 seed: int = 0, smoke: bool = False, **options) -> SweepConfig:
    """A sweep of ``strategy`` (with scorer ``options``) on ``base``; smoke runs use 3 sparsities,
    at most :data:`SMOKE_TRIALS` trials and one retraining epoch."""
    if smoke:
        sparsities = tuple(s for s in sparsities if s in SMOKE_SPARSITIES) or SMOKE_SPARSITIES
    method = Method(strategy, options, min_channels_per_layer=min_channels_per_layer)
    return SweepConfig(baseline=base, method=method,
                       sparsities=tuple(sparsities), trials=smoke_trials(trials, smoke),
                       retrain=TrainConfig(epochs=1 if smoke else retrain_epochs, seed=seed), seed=seed)


def feasible_sparsities(model: str, min_channels_per_layer: int,
                        sparsities: tuple[float, ...] = SPARSITIES) -> tuple[float, ...]:
    """The sparsities of ``sparsities`` that leave at least ``min_channels_per_layer`` channels in
    every conv layer of ``model`` (LeNet-5 with a minimum of 1 keeps 2 of 22: at most 90 %)."""
    return counts.feasible_sparsities(layer_sizes(models.build(model)), min_channels_per_layer, sparsities)


def smoke_trials(trials: int, smoke: bool) -> int:
    """Number of trials to run: at most :data:`SMOKE_TRIALS` in a smoke run."""
    return min(trials, SMOKE_TRIALS) if smoke else trials


def collapse_verdict(answer: dict[str, float]) -> str:
    """One Markdown sentence answering "does layer collapse explain every stuck run?" from the counts
    of :func:`prunegan.analysis.collapse.collapse_explains_stuck`."""
    if answer["stuck"] == 0:
        return "No run was stuck, so there is nothing for collapse to explain."
    if answer["stuck_without_collapse"] == 0 and answer["collapsed_but_recovered"] == 0:
        return ("**Yes**: every stuck run had a collapsed layer, and every run with a collapsed layer was "
                "stuck.")
    if answer["stuck_without_collapse"] == 0:
        return ("**Partly**: every stuck run had a collapsed layer, but some runs with a collapsed layer "
                "still recovered.")
    return "**No**: some runs were stuck without any collapsed layer."
