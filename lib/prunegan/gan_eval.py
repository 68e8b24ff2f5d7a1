"""Notebook 06's experiments: GAN masks against L1, random, random with one channel per layer and
the best bank mask, all retrained with the same budget; transfer to a network the GAN never saw.

Every (method, sparsity, sample) is one tidy row of :func:`prunegan.experiments.result_row`, cached
per method in ``results/compare_<hash>/rows/`` (a retrained generator only recomputes the GAN's
rows). :func:`summarize` turns rows into mean and 95 % CI of the retrained accuracy, collapse rate,
diversity (mean pairwise Hamming distance between the masks of a method), MACs and parameters.
"""
from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from . import strategies
from .bank import Bank, BankConfig, GoodRule, mask_space_table
from .cache import Run
from .engine import evaluate_masks
from .experiments import BaselineConfig, baseline, result_row
from .gan import GanConfig, Generator
from .masks import ChannelMask, layer_sizes, prunable_layers
from .results import mean_ci, rows_to_frame
from .study import baseline_config
from .train import TrainConfig

#: Methods compared, in plotting order.
METHODS = ("gan", "gan-min1", "l1", "random", "random-min1", "best-bank")
LABELS = {"gan": "GAN", "gan-min1": "GAN, min 1/layer", "l1": "L1", "random": "random",
          "random-min1": "random, min 1/layer", "best-bank": "best bank mask"}
ALL_METHODS = METHODS


@dataclass(frozen=True)
class CompareConfig:
    """Compare ``methods`` on the trained ``baseline`` at each of ``sparsities``.

    Each method gives ``samples`` masks per sparsity (GAN: samples with seeds ``seed + i``; random:
    seeds ``seed + i``; L1 and the best bank mask: one mask), and mask ``i`` is retrained with seed
    ``retrain.seed + i``, so deterministic methods still get ``samples`` retraining runs.
    ``gan-min1`` is the GAN sampled with ``min_channels_per_layer=1``. A method that is impossible
    at a sparsity (one channel per layer when fewer channels are kept than there are layers; a
    sparsity the bank does not hold) is skipped there (see :func:`skipped`)."""

    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    sparsities: tuple[float, ...] = (0.5, 0.7, 0.8, 0.9, 0.95)
    samples: int = 5
    methods: tuple[str, ...] = METHODS
    retrain: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))
    include_linear: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.baseline, BaselineConfig):
            raise ValueError(f"CompareConfig.baseline must be a BaselineConfig, got {self.baseline!r}")
        if isinstance(self.sparsities, (str, bytes)) or not hasattr(self.sparsities, "__iter__") \
                or not len(tuple(self.sparsities)):
            raise ValueError(f"CompareConfig.sparsities must be a non-empty sequence, got {self.sparsities!r}")
        object.__setattr__(self, "sparsities", tuple(strategies.check_sparsity(s) for s in self.sparsities))
        methods = (self.methods,) if isinstance(self.methods, str) else tuple(self.methods)
        bad = [m for m in methods if m not in ALL_METHODS]
        if bad or not methods:
            raise ValueError(f"unknown comparison method(s) {bad or methods!r}; valid: {', '.join(ALL_METHODS)}")
        object.__setattr__(self, "methods", methods)
        for name, low in (("samples", 1), ("seed", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise ValueError(f"CompareConfig.{name} must be an integer >= {low}, got {v!r}")


def _possible(sizes: dict[str, int], sparsity: float, min_channels: int) -> bool:
    n = sum(sizes.values())
    return n - round(sparsity * n) >= min_channels * len(sizes)


def _bank_index(bank: Bank, config: CompareConfig) -> int | None:
    for i, b in enumerate(bank.config.baselines):
        if b == config.baseline and bank.config.include_linear == config.include_linear:
            return i
    return None


def skipped(config: CompareConfig, bank: Bank | None = None) -> pd.DataFrame:
    """The (method, sparsity) pairs :func:`compare` leaves out, and why."""
    from . import models

    sizes = layer_sizes(models.build(config.baseline.model), include_linear=config.include_linear)
    rows = []
    for method, s in itertools.product(config.methods, config.sparsities):
        reason = None
        if method.endswith("min1") and not _possible(sizes, s, 1):
            n = sum(sizes.values())
            reason = (f"only {n - round(s * n)} channel(s) kept for {len(sizes)} layers: "
                      f"one per layer is impossible")
        elif method == "best-bank" and (bank is None or _bank_index(bank, config) is None):
            reason = "the bank holds no mask of this network"
        elif method == "best-bank" and not np.isclose(bank.config.sparsities, s).any():
            reason = "the bank holds no mask at this sparsity"
        if reason:
            rows.append({"strategy": method, "sparsity": s, "reason": reason})
    return pd.DataFrame(rows, columns=["strategy", "sparsity", "reason"])


def _masks(method: str, base, config: CompareConfig, sparsity: float, generator: Generator | None,
           bank: Bank | None) -> list[tuple[ChannelMask, int | None]]:
    """The ``samples`` (mask, seed) pairs of ``method`` at ``sparsity``."""
    n, il = config.samples, config.include_linear
    if method in ("gan", "gan-min1"):
        min_ch = 1 if method == "gan-min1" else 0
        masks = generator.sample(base.model, sparsity, n, seed=config.seed, min_channels_per_layer=min_ch,
                                 include_linear=il)
        return [(m, config.seed + i) for i, m in enumerate(masks)]
    if method == "l1":
        return [(strategies.prune(base.model, "l1", sparsity, seed=0, include_linear=il), None)] * n
    if method in ("random", "random-min1"):
        min_ch = 1 if method == "random-min1" else 0
        return [(strategies.prune(base.model, "random", sparsity, seed=config.seed + i,
                                  min_channels_per_layer=min_ch, include_linear=il), config.seed + i)
                for i in range(n)]
    if method == "best-bank":
        return [(bank.best_mask(sparsity, baseline=_bank_index(bank, config)), None)] * n
    raise ValueError(f"unknown comparison method {method!r}; valid: {', '.join(ALL_METHODS)}")


def compare(config: CompareConfig, *, generator: Generator | None = None, bank: Bank | None = None,
            progress: bool = True, workers: int | None = None) -> pd.DataFrame:
    """Run (or load from the cache) the comparison; one row per (method, sparsity, sample) with the
    columns of :func:`prunegan.experiments.result_row` plus ``strategy``, ``sparsity``, ``trial``,
    ``seed`` and ``model``. Uncached rows are evaluated by :func:`prunegan.engine.evaluate_masks`
    (``workers`` processes on the CPU; the numbers do not depend on it), each cached when done."""
    if any(m.startswith("gan") for m in config.methods) and not isinstance(generator, Generator):
        raise ValueError(f"comparing the GAN needs generator=<prunegan.gan.Generator>, got {generator!r}")
    base = baseline(config.baseline, progress=progress)
    gone = {(r.strategy, r.sparsity) for r in skipped(config, bank).itertuples()}
    rows, pending = {}, []
    for method in config.methods:
        key = {"baseline": config.baseline, "retrain": config.retrain, "include_linear": config.include_linear,
               "seed": config.seed, "method": method}
        if method.startswith("gan"):
            key["generator"] = generator.fingerprint()
        if method == "best-bank":
            key["bank"] = {"config": bank.config, "index": _bank_index(bank, config)}
        run = Run("compare", key)
        for sparsity in config.sparsities:
            if (method, sparsity) in gone:
                continue
            masks = None
            for trial in range(config.samples):
                name = f"rows/{sparsity:.4f}_{trial:03d}.json"
                rows[(method, sparsity, trial)] = row = run.read_json(name)
                if row is None:
                    masks = masks or _masks(method, base, config, sparsity, generator, bank)
                    mask, seed = masks[trial]
                    labels = {"strategy": method, "sparsity": sparsity, "trial": trial, "seed": seed,
                              "model": config.baseline.model, "include_linear": config.include_linear}
                    pending.append(((method, sparsity, trial), run, name, mask, labels))

    def store(i: int, result: dict) -> None:
        key, run, name, mask, labels = pending[i]
        rows[key] = result_row(base, mask, result, **labels)
        run.write_json(name, rows[key])

    if pending:
        retrains = [replace(config.retrain, seed=config.retrain.seed + p[0][2]) for p in pending]
        evaluate_masks(base.model, [p[3] for p in pending], base.data, retrains, workers=workers,
                       progress=progress, on_result=store)
    return rows_to_frame(list(rows.values()))


def _mean_pairwise_hamming(mask_dicts: list[dict]) -> float:
    vecs = [np.concatenate([np.asarray(v, bool) for v in m.values()]) for m in mask_dicts]
    if len(vecs) < 2:
        return float("nan")
    return float(np.mean([(a != b).sum() for a, b in itertools.combinations(vecs, 2)]))


def summarize(df: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per (strategy, sparsity): ``n`` runs, retrained accuracy ``mean`` with its ``confidence``
    interval ``ci_low`` / ``ci_high``, mean pruned accuracy, ``collapse_rate``, ``distinct`` masks,
    ``diversity`` (mean pairwise Hamming distance between the masks, in channels), ``hamming_to_l1``
    (mean distance to the L1 mask at that sparsity, when L1 was run), and mean MACs / parameters
    (absolute and as a fraction of the dense network)."""
    if df.empty:
        return pd.DataFrame()
    l1 = {s: g["mask"].iloc[0] for s, g in df[df["strategy"] == "l1"].groupby("sparsity")}
    rows = []
    for (method, s), g in df.groupby(["strategy", "sparsity"], sort=False):
        mean, lo, hi = mean_ci(g["retrained_acc"], confidence)
        ref = l1.get(s)
        rows.append({
            "strategy": method, "label": LABELS.get(method, method), "sparsity": s, "n": len(g),
            "mean": mean, "ci_low": lo, "ci_high": hi, "pruned_acc": float(g["pruned_acc"].mean()),
            "collapse_rate": float(g["collapsed"].mean()),
            "distinct": len({ChannelMask.from_dict(m).key() for m in g["mask"]}),
            "diversity": _mean_pairwise_hamming(list(g["mask"])),
            "hamming_to_l1": float(np.mean([ChannelMask.from_dict(m).hamming(ChannelMask.from_dict(ref))
                                            for m in g["mask"]])) if ref is not None else float("nan"),
            "macs": float(g["macs"].mean()), "params": float(g["params"].mean()),
            "macs_kept": float(g["macs_kept"].mean()), "params_kept": float(g["params_kept"].mean()),
            "n_channels": int(g["n_channels"].iloc[0])})
    out = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(ALL_METHODS)}
    return out.sort_values(["sparsity", "strategy"], key=lambda c: c.map(order) if c.name == "strategy" else c,
                           ignore_index=True)


def _pct(s: float) -> str:
    return f"{round(s * 100):d}"


def headline(summary: pd.DataFrame, *, prefix: str = "", sparsities=(0.8, 0.9)) -> dict[str, float]:
    """Plain floats to glue: ``{prefix}{method}_acc_{pct}`` (mean retrained accuracy), its CI
    bounds ``…_lo`` / ``…_hi``, ``{prefix}{method}_collapse_rate_{pct}``, ``{prefix}{method}_diversity_{pct}``
    for every method and sparsity in ``sparsities`` present in ``summary`` (``-`` in method names
    becomes ``_``), and the GAN's gaps to random-min1 and the best bank mask."""
    out = {}
    for r in summary.itertuples():
        if not any(np.isclose(r.sparsity, s) for s in sparsities):
            continue
        name, pct = r.strategy.replace("-", "_"), _pct(r.sparsity)
        out[f"{prefix}{name}_acc_{pct}"] = float(r.mean)
        out[f"{prefix}{name}_acc_{pct}_lo"] = float(r.ci_low)
        out[f"{prefix}{name}_acc_{pct}_hi"] = float(r.ci_high)
        out[f"{prefix}{name}_collapse_rate_{pct}"] = float(r.collapse_rate)
        out[f"{prefix}{name}_diversity_{pct}"] = float(r.diversity)
        out[f"{prefix}{name}_macs_kept_{pct}"] = float(r.macs_kept)
        out[f"{prefix}{name}_params_kept_{pct}"] = float(r.params_kept)
    out = {k: v for k, v in out.items() if math.isfinite(v)}
    for s in sparsities:
        pct = _pct(s)
        gan = out.get(f"{prefix}gan_acc_{pct}")
        for other in ("random_min1", "best_bank", "l1", "random"):
            val = out.get(f"{prefix}{other}_acc_{pct}")
            if gan is not None and val is not None:
                out[f"{prefix}gan_minus_{other}_{pct}"] = gan - val
    return out


def headlines(summary: pd.DataFrame, transfer: pd.DataFrame, linear: pd.DataFrame, *,
              sparsities=(0.8, 0.9)) -> dict[str, float]:
    """Every number notebook 06 glues: :func:`headline` of the conv-only comparison (no prefix),
    the transfer (``transfer_``) and the conv + Linear setting (``linear_``), plus the GAN's
    collapse rate over all sparsities up to 90 % (``gan_collapse_rate_upto_90`` and the same with
    the prefixes) and the sparsities the numbers are at."""
    out = {}
    for prefix, frame in (("", summary), ("transfer_", transfer), ("linear_", linear)):
        if frame is None or frame.empty:
            continue
        out.update(headline(frame, prefix=prefix, sparsities=sparsities))
        rate = gan_collapse_rate(frame)
        if math.isfinite(rate):
            out[f"{prefix}gan_collapse_rate_upto_90"] = rate
    return out


def mask_space_overview(cfg: "Configs") -> pd.DataFrame:
    """Size of the mask space in the three settings of notebook 06 (conv-only LeNet-5, conv + hidden
    Linear LeNet-5, the transfer network), at the comparison's sparsities."""
    parts = [("conv only", cfg.compare.baseline.model, False, cfg.compare.sparsities),
             ("conv + hidden linear", cfg.compare_linear.baseline.model, True, cfg.compare_linear.sparsities),
             ("conv only", cfg.transfer.baseline.model, False, cfg.transfer.sparsities)]
    frames = [mask_space_table(model, sp, include_linear=il).assign(model=model, setting=setting)
              for setting, model, il, sp in parts]
    out = pd.concat(frames, ignore_index=True)
    out["log10_masks"] = out["n_masks"].map(lambda v: math.log10(v) if v else float("-inf"))
    out["log10_masks_no_collapse"] = out["n_masks_no_collapse"].map(lambda v: math.log10(v) if v else float("-inf"))
    return out[["model", "setting", "sparsity", "n_channels", "n_pruned", "n_kept", "n_masks", "n_masks_no_collapse",
                "log10_masks", "log10_masks_no_collapse"]]


def gan_collapse_rate(summary: pd.DataFrame, max_sparsity: float = 0.9, method: str = "gan") -> float:
    """Share of the GAN's masks with a collapsed layer over all sparsities up to ``max_sparsity``."""
    g = summary[(summary["strategy"] == method) & (summary["sparsity"] <= max_sparsity + 1e-9)]
    return float((g["collapse_rate"] * g["n"]).sum() / g["n"].sum()) if len(g) else float("nan")


def verdict(summary: pd.DataFrame, *, sparsities=(0.8, 0.9), margin: float = 0.01, label: str = "") -> str:
    """The issue's targets, checked on the measured numbers, as plain sentences (nothing hand-typed)."""
    lines = []
    rate = gan_collapse_rate(summary)
    if not math.isnan(rate):
        lines.append(f"{label}GAN masks with a collapsed layer at sparsities up to 90 %: {rate:.1%} "
                     f"(target 0 %: {'met' if rate == 0 else 'not met'}).")
    for s in sparsities:
        at = summary[np.isclose(summary["sparsity"], s)].set_index("strategy")
        if "gan" not in at.index:
            continue
        g = at.loc["gan"]
        text = (f"{label}At {s:.0%}: GAN {g['mean']:.3f} (95 % CI {g['ci_low']:.3f}–{g['ci_high']:.3f}), "
                f"{g['distinct']} distinct masks")
        for other in ("random-min1", "best-bank", "l1", "random"):
            if other in at.index:
                o = at.loc[other]
                text += f"; {LABELS[other]} {o['mean']:.3f} ({o['ci_low']:.3f}–{o['ci_high']:.3f})"
        lines.append(text + ".")
        if "random-min1" in at.index:
            d = g["mean"] - at.loc["random-min1", "mean"]
            lines.append(f"  GAN better on average than random with one channel per layer: "
                         f"{'yes' if d > 0 else 'no'} ({d * 100:+.1f} points).")
        if "best-bank" in at.index:
            d = g["mean"] - at.loc["best-bank", "mean"]
            lines.append(f"  GAN within {margin * 100:g} point of the best bank mask: "
                         f"{'yes' if d >= -margin else 'no'} ({d * 100:+.1f} points).")
    return "\n".join(lines)


def keep_map(generator: Generator, model: torch.nn.Module, sparsities, *, include_linear: bool | None = None,
             n_noise: int = 32, seed: int = 0) -> pd.DataFrame:
    """Tidy probabilistic map: one row per (sparsity, layer, channel) with ``keep_prob``, the
    channel's mean |w| (``l1``) and its rank in the layer (``l1_rank``, 0 = largest)."""
    il = generator.include_linear if include_linear is None else include_linear
    l1 = strategies.l1_norms(prunable_layers(model, include_linear=il))
    rows = []
    for s in sparsities:
        probs = generator.keep_probabilities(model, s, include_linear=il, n_noise=n_noise, seed=seed)
        for layer, p in probs.items():
            order = torch.argsort(torch.argsort(l1[layer], descending=True, stable=True), stable=True)
            for c in range(len(p)):
                rows.append({"sparsity": float(s), "layer": layer, "channel": c, "keep_prob": float(p[c]),
                             "l1": float(l1[layer][c]), "l1_rank": int(order[c])})
    return pd.DataFrame(rows)


def l1_agreement(keep: pd.DataFrame) -> pd.DataFrame:
    """Per sparsity: Spearman correlation between the GAN's keep-probability and mean |w| within
    each layer, averaged over layers (1 = the map orders channels exactly like L1 does)."""
    rows = []
    for (s, layer), g in keep.groupby(["sparsity", "layer"], sort=False):
        if len(g) > 1 and g["keep_prob"].std() > 0:
            rows.append({"sparsity": s, "layer": layer,
                         "spearman": float(g["keep_prob"].rank().corr(g["l1"].rank()))})
    return pd.DataFrame(rows, columns=["sparsity", "layer", "spearman"])


# ----------------------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class Configs:
    """Every config of notebook 06, built from its parameters by :func:`configs`."""

    bank: BankConfig
    gan: GanConfig
    compare: CompareConfig
    transfer: CompareConfig
    bank_linear: BankConfig
    gan_linear: GanConfig
    compare_linear: CompareConfig


#: Smoke runs: everything tiny (the shared 400/200-image subset, one retraining epoch).
SMOKE = {"bank_seeds": 2, "sparsities": (0.8, 0.9), "transfer_sparsities": (0.9,), "temperatures": (1.0,),
         "draws": 1, "samples": 2, "gan_steps": 40, "epochs": 1}


def configs(*, smoke: bool = False, data: str = "mnist-5k", model: str = "lenet5", epochs: int = 10,
            bank_seeds: int = 3, bank_sparsities=(0.5, 0.7, 0.8, 0.9), temperatures=(0.5, 1.0, 2.0),
            draws: int = 1, good_margin: float = 0.02, good_top_fraction: float = 1.0,
            retrain_epochs: int = 1, gan_steps: int = 600, gan_seed: int = 0, samples: int = 5,
            sparsities=(0.5, 0.7, 0.8, 0.9, 0.95), transfer_model: str = "lenet5-caffe",
            transfer_sparsities=(0.8, 0.9), linear_sparsities=(0.8, 0.9)) -> Configs:
    """Notebook 06's configs from plain parameter values. The bank holds ``bank_seeds`` networks
    (init/training seeds ``0 … bank_seeds-1``; seed 0 is the study's baseline of notebook 01) and
    the comparison runs on seed 0; ``smoke=True`` shrinks everything (see :data:`SMOKE`)."""
    if smoke:
        bank_seeds, draws, samples, gan_steps = SMOKE["bank_seeds"], SMOKE["draws"], SMOKE["samples"], SMOKE["gan_steps"]
        temperatures, epochs = SMOKE["temperatures"], SMOKE["epochs"]
        sparsities = bank_sparsities = linear_sparsities = SMOKE["sparsities"]
        transfer_sparsities, retrain_epochs = SMOKE["transfer_sparsities"], 1
    if isinstance(bank_seeds, bool) or not isinstance(bank_seeds, numbers.Integral) or bank_seeds < 1:
        raise ValueError(f"bank_seeds must be an integer >= 1, got {bank_seeds!r}")
    bases = tuple(baseline_config(model=model, data=data, epochs=epochs, seed=s, smoke=smoke)
                  for s in range(bank_seeds))
    retrain = TrainConfig(epochs=retrain_epochs)
    good = GoodRule(margin=good_margin, top_fraction=good_top_fraction)

    def bank_cfg(include_linear, grid):
        return BankConfig(baselines=bases, sparsities=tuple(grid), temperatures=tuple(temperatures), draws=draws,
                          include_linear=include_linear, retrain=retrain)

    gan_cfg = GanConfig(good=good, steps=gan_steps, seed=gan_seed)
    bank = bank_cfg(False, bank_sparsities)
    compare_cfg = CompareConfig(baseline=bases[0], sparsities=tuple(sparsities), samples=samples, retrain=retrain)
    transfer_base = baseline_config(model=transfer_model, data=data, epochs=epochs, seed=0, smoke=smoke)
    transfer = CompareConfig(baseline=transfer_base, sparsities=tuple(transfer_sparsities), samples=samples,
                             retrain=retrain, methods=("gan", "gan-min1", "l1", "random", "random-min1"))
    bank_l = bank_cfg(True, linear_sparsities)
    compare_l = CompareConfig(baseline=bases[0], sparsities=tuple(linear_sparsities), samples=samples,
                              retrain=retrain, include_linear=True)
    return Configs(bank, gan_cfg, compare_cfg, transfer, bank_l, gan_cfg, compare_l)
