"""Runs of the study, cached by config hash: the trained baseline, sparsity sweeps and trials.

Every row is "prune → evaluate → retrain → evaluate" (:func:`prunegan.engine.evaluate_mask`).
A sweep stores one JSON file per (trial, sparsity) under ``results/sweep_<hash>/rows/``, so a
rerun with the same config recomputes nothing and an interrupted sweep resumes where it stopped.
"""
from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass, field, replace

import pandas as pd
import torch
from torch import nn

from . import data as data_mod
from . import models, strategies
from .cache import Run, to_plain
from .engine import CPU_THREADS, cpu_threads, evaluate_mask, evaluate_masks
from .masks import ChannelMask, count, layer_sizes
from .results import rows_to_frame
from .train import TrainConfig, evaluate, fit, resolve_device

#: The study's sparsity grid: 0 to 95 % in steps of 5 %.
SPARSITIES: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(20))


def _check_int(owner: str, name: str, value: object, minimum: int, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{owner}.{name} must be an integer >= {minimum}"
                         f"{' or None' if allow_none else ''}, got {value!r}")


@dataclass(frozen=True)
class BaselineConfig:
    """The trained network every experiment starts from: ``model`` trained on ``data`` (split by
    ``data_seed``; first ``n_train`` / ``n_test`` images only when set, for smoke runs) from
    initial weights drawn with ``init_seed``."""

    model: str = "lenet5"
    data: str = "mnist-5k"
    data_seed: int = 0
    init_seed: int = 0
    n_train: int | None = None
    n_test: int | None = None
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=10))

    def __post_init__(self) -> None:
        models.MODELS.get(self.model)
        data_mod.LOADERS.get(self.data)
        for name in ("data_seed", "init_seed"):
            _check_int("BaselineConfig", name, getattr(self, name), 0)
        for name in ("n_train", "n_test"):
            _check_int("BaselineConfig", name, getattr(self, name), 1, allow_none=True)


@dataclass
class Baseline:
    """A trained network with its data, learning curve (one row per epoch) and test accuracy."""

    config: BaselineConfig
    model: nn.Module
    data: data_mod.Dataset
    history: list[dict]
    accuracy: float
    run: Run


@functools.lru_cache(maxsize=4)
def _load_data(name: str, seed: int, n_train: int | None, n_test: int | None, device: str) -> data_mod.Dataset:
    return data_mod.load(name, seed=seed, device=device).subset(n_train, n_test)


def load_data(config: BaselineConfig) -> data_mod.Dataset:
    """The (possibly subset) data set of a baseline, on its training device; cached in memory."""
    device = str(resolve_device(config.train.device))
    return _load_data(config.data, config.data_seed, config.n_train, config.n_test, device)


def baseline(config: BaselineConfig = BaselineConfig(), *, progress: bool = True) -> Baseline:
    """Train (or load from the cache) the baseline network of ``config``."""
    run = Run("baseline", config)
    data = load_data(config)
    model = models.build(config.model, num_classes=data.num_classes, seed=config.init_seed)
    state, history = run.load_torch("model.pt"), run.read_json("history.json")
    if state is None or history is None:
        # A fixed thread count: float sums, and so the trained weights, depend on it.
        threads = CPU_THREADS if data.device.type == "cpu" else None
        with cpu_threads(threads):
            history = fit(model, data, config.train, progress=progress)
        run.save_torch("model.pt", model.state_dict())
        run.write_json("history.json", history)
    else:
        model.load_state_dict(state)
    model.to(data.device).eval()
    return Baseline(config, model, data, history, evaluate(model, data), run)


@dataclass(frozen=True)
class SweepConfig:
    """Prune the baseline with ``strategy`` at each of ``sparsities``, ``trials`` times, and retrain.

    Trial ``t`` prunes with seed ``seed + t`` (so within a trial the random scores are shared and
    the masks of growing sparsity are nested) and retrains with ``retrain.seed + t``.
    ``temperature`` is the Gumbel-noise temperature of ``noisy-l1`` (ignored otherwise)."""

    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    strategy: str = "l1"
    sparsities: tuple[float, ...] = SPARSITIES
    trials: int = 1
    retrain: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=3))
    min_channels_per_layer: int = 0
    include_linear: bool = False
    temperature: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        strategies.SCORERS.get(self.strategy)
        _check_int("SweepConfig", "trials", self.trials, 1)
        _check_int("SweepConfig", "seed", self.seed, 0)
        _check_int("SweepConfig", "min_channels_per_layer", self.min_channels_per_layer, 0)
        if isinstance(self.sparsities, (str, bytes)) or not hasattr(self.sparsities, "__iter__"):
            raise ValueError(f"SweepConfig.sparsities must be a sequence of numbers in [0, 1), got {self.sparsities!r}")
        object.__setattr__(self, "sparsities", tuple(strategies.check_sparsity(s) for s in self.sparsities))
        if not self.sparsities:
            raise ValueError("SweepConfig.sparsities is empty; give at least one sparsity in [0, 1)")
        # Fail now, not half-way through the sweep, if a sparsity is impossible with the per-layer minimum.
        sizes = layer_sizes(models.build(self.baseline.model), include_linear=self.include_linear)
        zeros = {n: torch.zeros(c) for n, c in sizes.items()}
        for s in self.sparsities:
            strategies.select(zeros, s, min_channels_per_layer=self.min_channels_per_layer)

    def options(self) -> dict:
        return {"temperature": self.temperature} if self.strategy == "noisy-l1" else {}


def result_row(base: Baseline, mask: ChannelMask, result: dict, **labels) -> dict:
    """One tidy result row: ``labels`` + the engine's ``result`` (pruned / retrained accuracy, MACs,
    parameters) + original accuracy, achieved sparsity, kept channels per layer, collapsed layers."""
    dense_macs, dense_params = count(base.model)
    return {**labels,
            "achieved_sparsity": mask.sparsity, "n_pruned": mask.n_pruned, "n_channels": mask.n_channels,
            "original_acc": base.accuracy, **result, "dense_macs": dense_macs, "dense_params": dense_params,
            "n_collapsed": len(mask.collapsed_layers()), "collapsed_layers": mask.collapsed_layers(),
            "kept": mask.kept_per_layer(), "mask": mask.to_dict()}


def mask_row(base: Baseline, mask: ChannelMask, retrain: TrainConfig, **labels) -> dict:
    """Evaluate one ``mask`` on ``base`` (prune, retrain with ``retrain``) → :func:`result_row`."""
    return result_row(base, mask, evaluate_mask(base.model, mask, base.data, retrain), **labels)


def sweep_run(config: SweepConfig) -> Run:
    """The cache folder of a sweep. Its hash leaves out ``sparsities`` and ``trials``: a row depends
    only on (the rest of the config, trial, sparsity), so sweeps and trials of the same setting share
    rows — 20 trials at 90 % reuse the first trials of a sweep, and a longer sweep extends a shorter one."""
    return Run("sweep", {**to_plain(config), "sparsities": None, "trials": None})


def sweep(config: SweepConfig, *, progress: bool = True, workers: int | None = None) -> pd.DataFrame:
    """Run (or load from the cache) a sweep; one row per (trial, sparsity), see :func:`result_row`.

    Uncached rows are evaluated by :func:`prunegan.engine.evaluate_masks` (``workers`` processes on
    the CPU, default one per core; the numbers do not depend on it), and each row is written to the
    cache as soon as it is done."""
    base = baseline(config.baseline, progress=progress)
    run = sweep_run(config)
    keys = [(t, s) for t in range(config.trials) for s in config.sparsities]
    names = {k: f"rows/{k[0]:03d}_{k[1]:.4f}.json" for k in keys}
    rows = {k: run.read_json(names[k]) for k in keys}
    todo = [k for k in keys if rows[k] is None]
    masks = [strategies.prune(base.model, config.strategy, s, seed=config.seed + t,
                              min_channels_per_layer=config.min_channels_per_layer,
                              include_linear=config.include_linear, **config.options()) for t, s in todo]

    def store(i: int, result: dict) -> None:
        trial, sparsity = todo[i]
        row = result_row(base, masks[i], result, strategy=config.strategy, trial=trial, seed=config.seed + trial,
                         sparsity=sparsity, min_channels_per_layer=config.min_channels_per_layer,
                         temperature=config.temperature if config.options() else None)
        run.write_json(names[todo[i]], row)
        rows[todo[i]] = row

    if todo:
        retrains = [replace(config.retrain, seed=config.retrain.seed + t) for t, _ in todo]
        evaluate_masks(base.model, masks, base.data, retrains, workers=workers, progress=progress, on_result=store)
    return rows_to_frame([rows[k] for k in keys])


def trials(config: SweepConfig, sparsity: float, n: int, *, progress: bool = True,
           workers: int | None = None) -> pd.DataFrame:
    """``n`` trials of ``config``'s strategy at one ``sparsity`` (the sweep machinery, one column)."""
    return sweep(replace(config, sparsities=(sparsity,), trials=n), progress=progress, workers=workers)

