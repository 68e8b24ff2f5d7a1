"""Chapter 6 (Part 2): configs from the notebook's parameters, headline numbers to glue, and the
verdict on the GAN's targets as Markdown (generated from the measured numbers, nothing hand-typed)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analysis.masks import collapse_rate, mask_space_table
from ..core.validate import check_int
from ..gan.config import GanConfig
from ..runs.bank import BankConfig, GoodRule
from ..runs.compare import CompareConfig, DEFAULT_METHODS
from ..train import TrainConfig
from .part1 import baseline_config

#: Methods compared on the transfer network (no bank there).
TRANSFER_METHODS = DEFAULT_METHODS


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
    check_int("bank_seeds", bank_seeds, 1)
    bases = tuple(baseline_config(model=model, data=data, epochs=epochs, seed=s, smoke=smoke)
                  for s in range(bank_seeds))
    retrain = TrainConfig(epochs=retrain_epochs)
    good = GoodRule(margin=good_margin, top_fraction=good_top_fraction)

    def bank_cfg(include_linear, grid):
        return BankConfig(baselines=bases, sparsities=tuple(grid), temperatures=tuple(temperatures), draws=draws,
                          include_linear=include_linear, retrain=retrain)

    gan_cfg = GanConfig(good=good, steps=gan_steps, seed=gan_seed)
    compare_cfg = CompareConfig(baseline=bases[0], sparsities=tuple(sparsities), samples=samples, retrain=retrain)
    transfer_base = baseline_config(model=transfer_model, data=data, epochs=epochs, seed=0, smoke=smoke)
    transfer = CompareConfig(baseline=transfer_base, sparsities=tuple(transfer_sparsities), samples=samples,
                             retrain=retrain, methods=TRANSFER_METHODS, best_bank=False)
    compare_l = CompareConfig(baseline=bases[0], sparsities=tuple(linear_sparsities), samples=samples,
                              retrain=retrain, include_linear=True)
    return Configs(bank_cfg(False, bank_sparsities), gan_cfg, compare_cfg, transfer,
                   bank_cfg(True, linear_sparsities), gan_cfg, compare_l)


def mask_space_overview(cfg: Configs) -> pd.DataFrame:
    """Size of the mask space in the three settings of notebook 06 (conv-only LeNet-5, conv + hidden
    Linear LeNet-5, the transfer network), at the comparison's sparsities."""
    parts = [("conv only", cfg.compare.baseline.model, False, cfg.compare.sparsities),
             ("conv + hidden linear", cfg.compare_linear.baseline.model, True, cfg.compare_linear.sparsities),
             ("conv only", cfg.transfer.baseline.model, False, cfg.transfer.sparsities)]
    frames = [mask_space_table(model, sp, include_linear=il).assign(model=model, setting=setting)
              for setting, model, il, sp in parts]
    out = pd.concat(frames, ignore_index=True)
    for col in ("n_masks", "n_masks_no_collapse"):
        out[f"log10_{col[2:]}"] = out[col].map(lambda v: math.log10(v) if v else float("-inf"))
    return out[["model", "setting", "sparsity", "n_channels", "n_pruned", "n_kept", "n_masks", "n_masks_no_collapse",
                "log10_masks", "log10_masks_no_collapse"]]


def _pct(s: float) -> str:
    return f"{round(s * 100):d}"


def headline(summary: pd.DataFrame, *, prefix: str = "", sparsities=(0.8, 0.9)) -> dict[str, float]:
    """Plain floats to glue: ``{prefix}{method}_acc_{pct}`` (mean retrained accuracy), its CI
    bounds ``…_lo`` / ``…_hi``, ``{prefix}{method}_collapse_rate_{pct}``, ``…_diversity_{pct}``,
    ``…_macs_kept_{pct}``, ``…_params_kept_{pct}`` for every method and sparsity in ``sparsities``
    present in ``summary`` (``-`` in method names becomes ``_``), and the GAN's gaps to the others."""
    out = {}
    for r in summary.itertuples():
        if not any(np.isclose(r.sparsity, s) for s in sparsities):
            continue
        name, pct = r.method.replace("-", "_"), _pct(r.sparsity)
        out[f"{prefix}{name}_acc_{pct}"] = float(r.mean)
        out[f"{prefix}{name}_acc_{pct}_lo"] = float(r.ci_low)
        out[f"{prefix}{name}_acc_{pct}_hi"] = float(r.ci_high)
        for col in ("collapse_rate", "diversity", "macs_kept", "params_kept"):
            out[f"{prefix}{name}_{col}_{pct}"] = float(getattr(r, col))
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
    the prefixes)."""
    out = {}
    for prefix, frame in (("", summary), ("transfer_", transfer), ("linear_", linear)):
        if frame is None or frame.empty:
            continue
        out.update(headline(frame, prefix=prefix, sparsities=sparsities))
        rate = collapse_rate(frame, "gan")
        if math.isfinite(rate):
            out[f"{prefix}gan_collapse_rate_upto_90"] = rate
    return out


def verdict(summary: pd.DataFrame, *, sparsities=(0.8, 0.9), margin: float = 0.01, label: str = "") -> str:
    """The GAN's targets checked on the measured numbers, as a Markdown bullet list (one line per
    target or sparsity; ``label`` prefixes each line, e.g. ``"Transfer: "``)."""
    lines = []
    rate = collapse_rate(summary, "gan")
    if not math.isnan(rate):
        lines.append(f"{label}GAN masks with a collapsed layer at sparsities up to 90 %: {rate:.1%} "
                     f"(target 0 %: **{'met' if rate == 0 else 'not met'}**).")
    for s in sparsities:
        at = summary[np.isclose(summary["sparsity"], s)].set_index("method")
        if "gan" not in at.index:
            continue
        g = at.loc["gan"]
        text = (f"{label}At {s:.0%}: GAN {g['mean']:.3f} (95 % CI {g['ci_low']:.3f}–{g['ci_high']:.3f}, "
                f"{g['distinct']} distinct masks)")
        for other in ("random-min1", "best-bank", "l1", "random"):
            if other in at.index:
                o = at.loc[other]
                text += f"; {o['label']} {o['mean']:.3f} ({o['ci_low']:.3f}–{o['ci_high']:.3f})"
        lines.append(text + ".")
        if "random-min1" in at.index:
            d = g["mean"] - at.loc["random-min1", "mean"]
            lines.append(f"{label}At {s:.0%}, GAN better on average than random with one channel per layer: "
                         f"**{'yes' if d > 0 else 'no'}** ({d * 100:+.1f} points).")
        if "best-bank" in at.index:
            d = g["mean"] - at.loc["best-bank", "mean"]
            lines.append(f"{label}At {s:.0%}, GAN within {margin * 100:g} point of the best bank mask: "
                         f"**{'yes' if d >= -margin else 'no'}** ({d * 100:+.1f} points).")
    return "\n".join(f"- {line}" for line in lines)
