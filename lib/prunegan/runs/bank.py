"""The mask bank: many masks made by the standard methods, each retrained, and the *good* ones kept.

For every baseline network of a :class:`BankConfig` (the same architecture trained from different
seeds, so that a generator has to learn from channel features rather than memorise channel indices)
and every sparsity of its grid, the bank draws masks with ``noisy-l1`` at several temperatures and
with ``random``, each with and without ``min_channels_per_layer``. Every distinct mask is pruned,
retrained with the same budget by the one runner (:func:`prunegan.runs.runner.run`), whose cache is
shared with every other experiment: reruns recompute nothing, an interrupted build resumes, and a
larger grid or more networks only evaluate the new masks.

Identical masks are evaluated once. Retraining is deterministic for a given mask and budget, so a
draw that repeats an earlier mask shares its numbers and is flagged ``duplicate``; at high sparsity
the conv-only LeNet-5 mask space is tiny (see :func:`prunegan.core.counts.mask_space`) and duplicates
are common.

Sparsity is the fraction of prunable channels removed: ``n_pruned = round(sparsity · n_prunable)``
(:mod:`prunegan.core.counts`).

Every mask's *label* (:attr:`Bank.label`) is its retrained accuracy on the baselines' validation
split, averaged over the bank's retraining seeds (``BaselineConfig.n_val``; a row without it is an
error; only a bank configured with no split at all is labelled by test accuracy): everything that
chooses with the bank (soft weights, the critic's targets, the best bank mask) reads the label;
reported numbers come from fresh retraining seeds on the test split.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from ..core import counts
from ..core.masks import ChannelMask, layer_sizes
from ..core.validate import (check_bool, check_instance, check_int, check_number, check_sequence,
                             check_sparsities)
from ..pruning.engine import DEFAULT_RETRAIN
from ..pruning.executors import Execution
from ..pruning.strategies import Method
from ..train import TrainConfig
from . import runner
from .baseline import Baseline, BaselineConfig, baseline

#: Strategies the bank can draw masks with (``noisy-l1`` and Torch-Pruning's criteria once per
#: temperature); their index enters the draw seeds (append only: an index names earlier draws).
STRATEGIES = ("noisy-l1", "random", "tp-magnitude", "tp-lamp", "tp-fpgm", "exhaustive")
#: The scored strategies that take a ``temperature`` (see :attr:`BankConfig.criteria`).
CRITERIA = ("noisy-l1", "tp-magnitude", "tp-lamp", "tp-fpgm")


@dataclass(frozen=True)
class BankConfig:
    """What the bank holds.

    - ``baselines``: trained networks to draw masks for (typically one architecture, different
      ``init_seed`` / training seeds); each gets its own cached run.
    - ``sparsities``: the grid; ``draws`` masks per (sparsity, method, temperature, minimum).
    - ``temperatures``: Gumbel-noise temperatures of ``noisy-l1`` (0 is plain L1).
    - ``min_channels``: values of ``min_channels_per_layer`` to draw with (``(0, 1)``: with and
      without forbidding layer collapse). Combinations impossible at a sparsity (fewer kept channels
      than layers × minimum) are skipped.
    - ``include_linear``: prune hidden Linear units too (see :func:`prunegan.core.masks.prunable_layers`).
    - ``retrain``: the one retraining budget of every mask (its seed is the same for all masks, so
      a mask's result is deterministic and duplicates need no second run).
    - ``retrain_seeds``: every mask is retrained with seeds ``retrain.seed + r`` for
      ``r < retrain_seeds`` and its ``retrained_acc`` is the mean over them (``retrained_accs`` holds
      each, ``retrained_acc_sd`` their standard deviation): one seed's noise (1-3 points at 80-90 %)
      is as large as the differences between good masks.
    - ``seed``: base of the draw seeds (see :func:`draw_seed`).
    - ``criteria``: the scored strategies drawn at every temperature: ``noisy-l1`` and/or
      Torch-Pruning's ``tp-magnitude``, ``tp-lamp``, ``tp-fpgm`` made noisy the same way.
    - ``min_distinct``: after the methods' draws, a (network, sparsity) with fewer distinct masks
      than this is topped up with more ``random`` draws with one channel per layer (as many as it
      takes, up to the number of collapse-free masks there).
    - ``exhaustive_limit``: where a (network, sparsity) has at most this many collapse-free masks,
      every one of them is added (method ``exhaustive``): the whole landscape (0: never).
    """

    baselines: tuple[BaselineConfig, ...] = field(default_factory=lambda: (BaselineConfig(),))
    sparsities: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)
    temperatures: tuple[float, ...] = (0.5, 1.0, 2.0)
    draws: int = 2
    min_channels: tuple[int, ...] = (0, 1)
    include_linear: bool = False
    retrain: TrainConfig = DEFAULT_RETRAIN
    seed: int = 0
    retrain_seeds: int = 1
    criteria: tuple[str, ...] = ("noisy-l1",)
    min_distinct: int = 0
    exhaustive_limit: int = 0

    def __post_init__(self) -> None:
        check_int("BankConfig.retrain_seeds", self.retrain_seeds, 1)
        check_int("BankConfig.min_distinct", self.min_distinct, 0)
        check_int("BankConfig.exhaustive_limit", self.exhaustive_limit, 0)
        crit = check_sequence("BankConfig.criteria",
                              (self.criteria,) if isinstance(self.criteria, str) else self.criteria)
        bad = [c for c in crit if c not in CRITERIA]
        if bad or len(set(crit)) != len(crit):
            raise ValueError(f"BankConfig.criteria must be distinct names from {CRITERIA}, "
                             f"got {self.criteria!r}")
        object.__setattr__(self, "criteria", crit)
        baselines = check_sequence("BankConfig.baselines", self.baselines)
        for b in baselines:
            check_instance("BankConfig.baselines entry", b, BaselineConfig)
        if len(set(baselines)) != len(baselines):
            raise ValueError("BankConfig.baselines holds the same baseline twice")
        object.__setattr__(self, "baselines", baselines)
        object.__setattr__(self, "sparsities",
                           tuple(sorted(set(check_sparsities("BankConfig.sparsities", self.sparsities)))))
        temps = check_sequence("BankConfig.temperatures", self.temperatures)
        object.__setattr__(self, "temperatures", tuple(check_number("BankConfig.temperatures entry", t, 0)
                                                       for t in temps))
        mins = check_sequence("BankConfig.min_channels", self.min_channels)
        object.__setattr__(self, "min_channels", tuple(check_int("BankConfig.min_channels", m, 0)
                                                       for m in mins))
        check_int("BankConfig.draws", self.draws, 1)
        check_int("BankConfig.seed", self.seed, 0)
        check_bool("BankConfig.include_linear", self.include_linear)
        check_instance("BankConfig.retrain", self.retrain, TrainConfig)

    def methods(self) -> list[Method]:
        """The methods drawn at every sparsity: each of ``criteria`` at each temperature, then
        ``random``, each with every per-layer minimum."""
        il = self.include_linear
        return ([Method(c, {"temperature": t}, min_channels_per_layer=m, include_linear=il)
                 for c in self.criteria for t in self.temperatures
                 for m in self.min_channels]
                + [Method("random", min_channels_per_layer=m, include_linear=il) for m in self.min_channels])


def draw_seed(seed: int, init_seed: int, sparsity: float, strategy: str, temperature: float | None,
              min_channels: int, draw: int) -> int:
    """The pruning seed of one draw: a hash (numpy ``SeedSequence``) of everything that names it, so
    draws of different sparsities or methods are independent and adding a grid point changes no
    other draw."""
    entropy = [seed, init_seed, round(sparsity * 10_000), STRATEGIES.index(strategy),
               -1 if temperature is None else round(temperature * 1000), min_channels, draw]
    return int(np.random.SeedSequence([e + 2 for e in entropy]).generate_state(1)[0])


@dataclass
class Bank:
    """A built bank: its config, the trained baselines (index = ``baseline`` column) and one row per
    draw (``frame``; see :func:`build`)."""

    config: BankConfig
    baselines: list[Baseline]
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def label(self) -> str:
        """The column that chooses: ``"val_acc"`` (mean validation accuracy over the retraining seeds).
        Only a bank that has no validation accuracy at all — no baseline configured with a split
        (every ``BaselineConfig.n_val == 0``) and no row with ``val_acc`` — is labelled by test accuracy
        (``"retrained_acc"``), as its config declares. Raises ``ValueError`` when a split exists but some
        rows lack ``val_acc`` (never a silent switch to test)."""
        f = self.frame
        val = f["val_acc"] if "val_acc" in f else pd.Series(np.nan, index=f.index, dtype=float)
        splits = [b.n_val for b in self.config.baselines]
        if not any(splits) and val.isna().all():
            return "retrained_acc"
        missing = f[val.isna()]
        if len(missing):
            nets = sorted({int(n) for n in missing["baseline"]}) if "baseline" in missing else "?"
            raise ValueError(
                f"{len(missing)} of {len(f)} bank rows have no validation accuracy (val_acc; networks "
                f"{nets}, validation images per baseline: {splits}): they were computed without a "
                "validation split (rows cached before it existed, or a baseline with n_val=0). Rebuild "
                "the bank with BaselineConfig.n_val > 0 for every baseline; the bank never falls back to "
                "test accuracy.")
        return "val_acc"

    def unique(self) -> pd.DataFrame:
        """One row per distinct (baseline, mask), with ``n_draws`` (how often it was drawn) and
        ``methods`` (the sorted method labels that drew it)."""
        if self.frame.empty:
            return self.frame.copy()
        f = self.frame
        agg = f.groupby(["baseline", "key"]).agg(
            n_draws=("key", "size"), methods=("label", lambda s: ", ".join(sorted(set(s)))))
        first = f[~f["duplicate"]].set_index(["baseline", "key"])
        return first.join(agg).reset_index()

    def weighted(self, temperature: float = 0.01) -> pd.DataFrame:
        """:meth:`unique` with a soft ``weight`` per distinct mask: within each (baseline, sparsity),
        ``exp((label − best label) / temperature)`` normalised to sum to 1 (:attr:`label`;
        ``temperature`` in accuracy units: 0.01 = the weight falls by e per point below the best)."""
        temperature = check_number("temperature", temperature, 0, low_open=True)
        u = self.unique()
        if u.empty:
            raise ValueError("the mask bank is empty: "
                             "build it with prunegan.runs.bank.build(BankConfig(...))")
        gap = u[self.label] - u.groupby(["baseline", "sparsity"])[self.label].transform("max")
        w = np.exp(gap / temperature)
        return u.assign(weight=w / w.groupby([u["baseline"], u["sparsity"]]).transform("sum"))

    def best(self, sparsity: float, *, baseline: int = 0) -> pd.Series:
        """The row of the distinct mask with the highest :attr:`label` at ``sparsity`` on
        ``baseline`` (its mask: ``ChannelMask.from_dict(row["mask"])``)."""
        if self.frame.empty:
            raise ValueError("the mask bank is empty: "
                             "build it with prunegan.runs.bank.build(BankConfig(...))")
        u = self.unique()
        u = u[(u["baseline"] == baseline) & np.isclose(u["sparsity"], sparsity)]
        if u.empty:
            raise ValueError(f"the mask bank has no mask at sparsity {sparsity!r} for baseline {baseline} "
                             f"(bank sparsities: {list(self.config.sparsities)})")
        return u.loc[u[self.label].idxmax()]

    def best_mask(self, sparsity: float, *, baseline: int = 0) -> ChannelMask:
        return ChannelMask.from_dict(self.best(sparsity, baseline=baseline)["mask"])


def build_one(config: BankConfig, index: int, *,
              execution: Execution = Execution()) -> tuple[Baseline, pd.DataFrame]:
    """The trained baseline ``index`` of ``config`` and its bank rows (one per draw; infeasible
    (sparsity, minimum) pairs skipped). Identical masks are evaluated once (:mod:`~prunegan.runs.runner`);
    ``execution``: where (:func:`prunegan.runs.runner.run`)."""
    base = baseline(config.baselines[index], progress=execution.progress)
    rows = runner.run(base, jobs(config, index, base), execution=execution)
    return base, mean_over_seeds(rows)


def jobs(config: BankConfig, index: int, base: Baseline) -> list[runner.Job]:
    """The runner's jobs of baseline ``index`` (trained: ``base``): every draw of every method at every
    sparsity and the bank's own masks, each once per retraining seed."""
    base_config = config.baselines[index]
    sizes = layer_sizes(base.model, include_linear=config.include_linear)
    out: list[runner.Job] = []

    def add(mask: ChannelMask, labels: dict) -> None:
        draw_index = len(out) // config.retrain_seeds
        for r in range(config.retrain_seeds):
            retrain = replace(config.retrain, seed=config.retrain.seed + r)
            out.append(runner.Job(mask, retrain, {**labels, "draw_index": draw_index}))

    common = {"baseline": index, "init_seed": base_config.init_seed, "model": base_config.model}
    for sparsity in config.sparsities:
        seen: set[str] = set()
        for method in config.methods():
            if not counts.is_feasible(sizes, sparsity, method.min_channels_per_layer):
                continue
            for draw in range(config.draws):
                seed = draw_seed(config.seed, base_config.init_seed, sparsity, method.strategy,
                                 method.option_dict.get("temperature"), method.min_channels_per_layer, draw)
                mask = method.prune(base.model, sparsity, seed=seed)
                seen.add(mask.key())
                add(mask, {**method.labels(), **common, "sparsity": sparsity, "draw": draw, "seed": seed})
        for mask, labels in _extra_masks(config, base, sizes, sparsity, seen):
            add(mask, {**labels, **common, "sparsity": sparsity})
    return out


#: Columns of the masks the bank adds itself (:func:`_extra_masks`): the whole landscape.
EXHAUSTIVE = {"method": "exhaustive", "label": "every collapse-free mask", "strategy": "exhaustive",
              "min_channels_per_layer": 1, "temperature": None}


def _extra_masks(config: BankConfig, base: Baseline, sizes: dict[str, int], sparsity: float, seen: set[str]):
    """``(mask, labels)`` of the masks added after the methods' draws at one (network, sparsity):
    every collapse-free mask when there are at most ``exhaustive_limit`` of them, else ``random``
    draws with one channel per layer until ``min_distinct`` distinct masks are there (``seen``:
    keys drawn so far, updated)."""
    if not counts.is_feasible(sizes, sparsity, 1):
        return
    space = counts.mask_space(sizes, sparsity, 1)
    if space <= config.exhaustive_limit:
        for j, bits in enumerate(counts.all_masks(sizes, sparsity, 1, limit=config.exhaustive_limit)):
            mask = ChannelMask.from_vector(torch.tensor(bits), sizes)
            seen.add(mask.key())
            yield mask, {**EXHAUSTIVE, "draw": j, "seed": None}
        return
    method = Method("random", min_channels_per_layer=1, include_linear=config.include_linear)
    draw = config.draws
    while len(seen) < min(config.min_distinct, space):
        seed = draw_seed(config.seed, base.config.init_seed, sparsity, "random", None, 1, draw)
        mask = method.prune(base.model, sparsity, seed=seed)
        if mask.key() not in seen:
            seen.add(mask.key())
            yield mask, {**method.labels(), "draw": draw, "seed": seed}
        draw += 1


def mean_over_seeds(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per draw (``draw_index``) from one row per (draw, retraining seed): ``retrained_acc``
    (test) and ``val_acc`` (validation; NaN without a split) are means over the seeds,
    ``retrained_accs`` the list, ``retrained_acc_sd`` / ``val_acc_sd`` the sample standard deviations
    (NaN for one seed), ``n_seeds`` their number; ``seconds`` is summed."""
    if rows.empty:
        return rows
    grouped = rows.groupby("draw_index", sort=False)
    out = grouped.head(1).set_index("draw_index")
    out["retrained_accs"] = grouped["retrained_acc"].agg(list)
    out["retrained_acc"] = grouped["retrained_acc"].mean()
    out["retrained_acc_sd"] = grouped["retrained_acc"].std(ddof=1)
    val = (rows["retrained_val_acc"].astype(float) if "retrained_val_acc" in rows
           else pd.Series(np.nan, rows.index))
    vgrouped = val.groupby(rows["draw_index"], sort=False)
    out["val_acc"] = vgrouped.mean()
    out["val_acc_sd"] = vgrouped.std(ddof=1)
    out["n_seeds"] = grouped.size()
    out["seconds"] = grouped["seconds"].sum()
    return out.reset_index(drop=True)


def build(config: BankConfig, *, execution: Execution = Execution()) -> Bank:
    """Build (or load from the cache) the bank of ``config``: one row per draw with the labels
    ``baseline`` (index into ``config.baselines``), ``init_seed``, ``model``, the method's columns
    (``method``, ``label``, ``strategy``, ``temperature``, ``min_channels_per_layer``), ``sparsity``,
    ``draw``, ``seed``, ``duplicate`` (the mask was drawn before at this grid point order), and the
    columns of :func:`prunegan.runs.runner.result_row` (accuracies, kept channels per layer,
    collapsed layers, MACs, parameters, the mask and its ``key``). ``execution``: where the masks are
    evaluated (:class:`~prunegan.pruning.executors.Execution`, :func:`prunegan.runs.runner.run`)."""
    baselines, frames = [], []
    for i in range(len(config.baselines)):
        base, frame = build_one(config, i, execution=execution)
        baselines.append(base)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    frame["duplicate"] = frame.duplicated(["baseline", "key"])
    return Bank(config, baselines, frame)
