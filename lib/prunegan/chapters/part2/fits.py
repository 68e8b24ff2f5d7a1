"""Did the generators learn their banks? Chapter 6's fit checks, made before anything is judged.

- :func:`fit_table`: every fitted generator of a fold (setting, design, seed): its stage, the
  discriminator's end probabilities and the divergence flag (:mod:`prunegan.gan.diagnostics`), the
  bank likelihood gain over the untrained generator (nats per mask), and the sign of its keep map's
  rank correlation with |w|.
- :func:`in_sample`: a generator's expected validation accuracy on its own training networks (exact on
  an exhaustive landscape, else the mean of :data:`IN_SAMPLE_MASKS` sampled masks, retrained) beside the
  soft-weighted bank's (what it was trained to reproduce).
- :func:`fit_statistics`: the rows the fit targets judge (``networks_fit``: in-sample − soft-weighted
  bank, points, CI over networks; ``fits_diverged``: how many generators diverged).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ...analysis import masks as mask_analysis
from ...analysis.stats import mean_ci
from ...gan import diagnostics
from ...pruning.executors import Execution
from ...pruning.strategies import Method
from ...runs import protocol, runner
from ..format import MISSING, acc, pct, pts, pts_ci
from .config import SETTINGS, VARIANTS, Configs
from .learned import expected_on_landscape, landscape_rows

#: Sampled masks per (training network, sparsity) that estimate a generator's in-sample accuracy where
#: no exhaustive landscape exists.
IN_SAMPLE_MASKS = 2


def fit_table(banks: dict, generators: dict, network: int, sparsity: float) -> pd.DataFrame:
    """One row per (setting, design, seed) of ``generators`` (setting → design name → generators):
    ``stage``, ``steps``, ``d_real`` / ``d_fake`` (the discriminator's mean probability on bank and
    generated masks at the end; NaN without an adversarial stage), ``diverged``, ``bank_gain`` (nats per
    mask over the untrained generator, on the training examples) and ``l1_rho`` (keep-probability vs mean
    |w|, Spearman within layers, averaged over layers, on training network ``network`` at ``sparsity``)."""
    rows = []
    for setting, by_design in generators.items():
        model = banks[setting].baselines[network].model
        for design, gens in by_design.items():
            for g in gens:
                rho = mask_analysis.l1_agreement(mask_analysis.keep_map(g, model, (sparsity,)))["spearman"]
                rows.append({"setting": setting, "design": design, "seed": g.config.seed,
                             **diagnostics.fit_summary(g), "bank_gain": g.fit_report.get("bank_gain", np.nan),
                             "l1_rho": float(rho.mean()) if len(rho) else np.nan})
    return pd.DataFrame(rows)


def soft_bank(bank, networks, temperature: float) -> pd.DataFrame:
    """Per (network, sparsity): the soft-weighted bank's expected validation accuracy, ``Σ weight · label``
    over the bank's distinct masks (:meth:`prunegan.runs.bank.Bank.weighted` at ``temperature``: the
    distribution the generator is fitted to reproduce). Raises ``ValueError`` naming a network not in it."""
    table = bank.weighted(temperature)
    held = sorted(set(table["baseline"]))
    missing = sorted(set(networks) - set(held))
    if missing:
        raise ValueError(f"networks {missing} are not in the bank (it holds {held})")
    table = table[table["baseline"].isin(list(networks))]
    weighted = table["weight"] * table[bank.label].astype(float)
    value = weighted.groupby([table["baseline"], table["sparsity"]]).sum()
    return pd.DataFrame({"network": value.index.get_level_values(0).astype(int),
                         "sparsity": value.index.get_level_values(1).astype(float),
                         "bank_val_acc": value.to_numpy(float)})


def sampled_jobs(model, generator, sparsities, proto: protocol.ProtocolConfig, *, include_linear: bool,
                 labels: dict | None = None) -> list:
    """The retraining jobs of ``proto.samples`` masks drawn from ``generator`` on ``model`` at each of
    ``sparsities`` (mask ``i``: seed ``proto.seed + i``, retrained with ``proto``'s budget at seed
    ``proto.retrain.seed + i``); rows carry ``labels``."""
    method = Method("gan", min_channels_per_layer=1, include_linear=include_linear, name="gan", label="gan")
    return [j for s in sparsities for j in protocol.jobs(
        model, s, [protocol.entry(method, proto.seed, generator=generator)], proto,
        include_linear=include_linear, labels=labels)]


def in_sample(banks: dict, cfg: Configs, generators: dict, networks, *, label: str,
              execution: Execution = Execution()) -> pd.DataFrame:
    """Per setting (``generators``: setting → one generator), sparsity and network of ``networks`` (the
    generator's own training networks): its expected validation accuracy ``gen_val_acc`` — exact on the
    conv landscape, else the mean of :data:`IN_SAMPLE_MASKS` sampled masks retrained with the protocol's
    budget and seeds — beside the soft-weighted bank's ``bank_val_acc``; ``label`` names the generator
    (e.g. ``"fold 0"``, ``"final"``)."""
    frames = []
    proto = replace(cfg.protocol, samples=IN_SAMPLE_MASKS)
    for setting, g in generators.items():
        b, il = banks[setting], SETTINGS[setting]
        bank_rows = soft_bank(b, networks, g.config.weight_temperature)
        landscape = set(landscape_rows(b, cfg.landscape_sparsity, networks)["baseline"])
        rows = []
        for n in networks:
            sampled = [s for s in cfg.sparsities if not (s == cfg.landscape_sparsity and n in landscape)]
            for s in set(cfg.sparsities) - set(sampled):
                rows.append({"network": n, "sparsity": s,
                             "gen_val_acc": expected_on_landscape(g, b, n, s, "val_acc"), "exact": True})
            base = b.baselines[n]
            jobs = sampled_jobs(base.model, g, sampled, proto, include_linear=il)
            if jobs:
                df = runner.run(base, jobs, execution=execution)
                for s, d in df.groupby("sparsity"):
                    rows.append({"network": n, "sparsity": float(s),
                                 "gen_val_acc": float(d["retrained_val_acc"].astype(float).mean()),
                                 "exact": False})
        got = pd.DataFrame(rows)
        got["sparsity"] = got["sparsity"].round(6)
        bank_rows["sparsity"] = bank_rows["sparsity"].round(6)
        frames.append(got.merge(bank_rows, on=["network", "sparsity"])
                      .assign(setting=setting, generator=label))
    out = pd.concat(frames, ignore_index=True)
    out["gap"] = 100 * (out["gen_val_acc"] - out["bank_val_acc"])
    return out[["generator", "setting", "sparsity", "network", "exact", "gen_val_acc", "bank_val_acc", "gap"]]


def fit_statistics(in_sample_final: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
    """Statistics-table rows (:mod:`prunegan.analysis.targets`) of the fit targets: per (setting,
    sparsity) the final generators' in-sample gap to the soft-weighted bank (points, mean and 95 % CI over
    their training networks: ``networks_fit``, method ``gan-final``), and per setting the number of the
    GAN's generators (every fold's seeds and the final one) flagged diverged (``fits_diverged``, method
    ``gan-fits``; its CI is the count itself)."""
    rows = []
    for (setting, s), g in in_sample_final.groupby(["setting", "sparsity"], sort=False):
        mean, lo, hi = mean_ci(g["gap"])
        rows.append({"statistic": "networks_fit", "method": "gan-final", "other": "soft-bank",
                     "setting": setting,
                     "network": "all", "sparsity": float(s), "n": len(g), "value": mean, "ci_low": lo,
                     "ci_high": hi})
    for setting, g in fits[fits["design"] == "gan"].groupby("setting", sort=False):
        k = float(g["diverged"].sum())
        rows.append({"statistic": "fits_diverged", "method": "gan-fits", "other": None, "setting": setting,
                     "network": "all", "sparsity": np.nan, "n": len(g), "value": k, "ci_low": k,
                     "ci_high": k})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ what the reader sees
#: Short names of the designs in the fit tables (the page column is narrow).
SHORT_DESIGNS = {"gan": "GAN", "gan-likelihood": "likelihood only", "gan-from-scratch": "GAN from scratch"}


def fit_display(fits: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, design) of a :func:`fit_table` (every fold's and the final fits): generators fitted and
    diverged (``"0/21"``), the discriminator's mean end probabilities on bank / generated masks, the mean bank
    likelihood gain (nats per mask) and in how many the keep map ranks channels with |w| (ρ > 0)."""
    rows = []
    for (setting, design), g in fits.groupby(["setting", "design"], sort=False):
        adversarial = g["d_real"].notna()
        rows.append({"setting": setting.replace("+", " + "), "design": SHORT_DESIGNS.get(design, design),
                     "diverged": f"{int(g['diverged'].sum())}/{len(g)}",
                     "D: bank / generated": (f"{acc(g['d_real'].mean())} / {acc(g['d_fake'].mean())}"
                                             if adversarial.any() else MISSING),
                     "bank gain": pts(g["bank_gain"].mean()),
                     "ρ > 0": f"{int((g['l1_rho'] > 0).sum())}/{len(g)}"})
    return pd.DataFrame(rows)


def in_sample_display(ins: pd.DataFrame) -> pd.DataFrame:
    """Per (generators, setting, sparsity) of :func:`in_sample` rows: the generators' mean in-sample
    validation accuracy, the soft-weighted bank's, and the gap in points with its 95 % CI over the
    (fold, network) pairs or, for the final generators, over networks (``how``: exact on the landscape, or
    :data:`IN_SAMPLE_MASKS` sampled masks retrained)."""
    rows = []
    kind = np.where(ins["generator"] == "final", "final", "folds, seed 0")
    for (k, setting, s), g in ins.assign(kind=kind).groupby(["kind", "setting", "sparsity"], sort=False):
        mean, lo, hi = mean_ci(g["gap"])
        rows.append({"generators": k, "setting": f"{setting.replace('+', ' + ')} {pct(s)}",
                     "how": "exact" if g["exact"].all() else "sampled",
                     "generator": acc(g["gen_val_acc"].mean()), "bank": acc(g["bank_val_acc"].mean()),
                     "gap (points)": pts_ci(mean, lo, hi)})
    return pd.DataFrame(rows)


def fit_text(fits: pd.DataFrame) -> str:
    """What the fit table shows, in words: per design, generators diverged and the sign of their bank
    likelihood gain."""
    parts = []
    for design, g in fits.groupby("design", sort=False):
        learned = int((g["bank_gain"] > 0).sum())
        parts.append(f"**{VARIANTS.get(design, design)}**: {int(g['diverged'].sum())} of {len(g)} fits "
                     "diverged; "
                     f"{learned} of {len(g)} put more mass on their bank than the untrained generator does")
    return "; ".join(parts) + "."
