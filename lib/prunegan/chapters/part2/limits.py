"""What limits the GAN, measured where every mask's accuracy is known: the conv setting at the landscape
sparsity (every collapse-free mask retrained, :func:`.learned.landscape_rows`), so every value below is an
exact expectation over a generator's distribution and nothing is retrained here.

- :func:`fit_limits`: the final generators' training networks. The soft-weighted bank (what the generator
  is fitted to reproduce) beside the best distribution of the generator's *form* fitted to it without
  features (:func:`prunegan.gan.diagnostics.form_ceiling`), the final generator, its likelihood stage, the
  likelihood stage with :data:`CAPACITY` and with every channel feature, and the untrained generator:
  which part of the fit gap the form costs, which the features (and whether capacity or steps move it).
- :func:`size_curve`: each fold's design refitted on 2 and 4 of its training networks (:data:`SIZES`,
  :func:`training_subset`) beside its generators fitted on all of them: the held-out margin over the best
  standard criterion (test accuracy) and the in-sample gap to the soft bank (validation accuracy) as the
  number of training networks grows.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from ... import gan
from ...analysis.comparison import expected_accuracy
from ...analysis.stats import mean_ci
from ...core.masks import ChannelMask
from ...gan import diagnostics
from ...gan.features import FEATURES
from ..format import MISSING, acc, pct, pts_ci
from .config import Configs
from .fits import soft_bank
from .learned import expected_on_landscape, landscape_rows

#: The likelihood stage refitted this many times wider (``hidden``) and longer (``likelihood_steps``).
CAPACITY = 4
#: Training networks per fold of :func:`size_curve`, beside all of the fold's.
SIZES = (2, 4)
#: :func:`fit_limits`' rows (name → what a reader reads), in order.
LIMITS = {"soft-bank": "soft-weighted bank (the target)",
          "form": "best of the generator's form (no features)",
          "final": "final generator (likelihood + adversarial)",
          "likelihood": "its likelihood stage",
          "capacity": f"likelihood stage, {CAPACITY}× wider and {CAPACITY}× the steps",
          "features": f"likelihood stage, all {len(FEATURES)} features",
          "untrained": "untrained generator (uniform)"}


class _Landscape:
    """One network's landscape at one sparsity: its rows and masks as an ``(M, N)`` 0/1 tensor."""

    def __init__(self, bank, network: int, sparsity: float) -> None:
        self.bank, self.network, self.sparsity = bank, network, sparsity
        self.rows = landscape_rows(bank, sparsity, (network,))
        self.vectors = torch.stack([ChannelMask.from_dict(m).to_vector().to(torch.float32)
                                    for m in self.rows["mask"]])

    def expected(self, generator, column: str) -> float:
        """Exact expected ``column`` of ``generator``'s masks (a Generator, through
        :func:`.learned.expected_on_landscape`, or a StructuredMasks of this network)."""
        if isinstance(generator, gan.Generator):
            return expected_on_landscape(generator, self.bank, self.network, self.sparsity, column)
        p = generator.log_prob(self.vectors).exp()
        return expected_accuracy(p.numpy(), self.rows[column].to_numpy(float))


def _soft(bank, config, sparsity: float) -> dict[int, float]:
    """Network → the soft-weighted bank's expected validation accuracy at ``sparsity`` (``config``'s
    networks and weight temperature)."""
    t = soft_bank(bank, config.networks, config.weight_temperature)
    t = t[np.isclose(t["sparsity"], sparsity)]
    return dict(zip(t["network"].astype(int), t["bank_val_acc"].astype(float)))


def fit_limits(bank, cfg: Configs, final, *, progress: bool = True) -> pd.DataFrame:
    """One row per (limit of :data:`LIMITS`, network of the chapter) in the conv setting at
    ``cfg.landscape_sparsity``: the exact expected validation accuracy ``val_acc`` of each distribution on
    the network's landscape and its ``gap`` to the soft-weighted bank (points). ``final``: the final conv
    generator (fitted on every network); the capacity and feature variants are its likelihood stage
    refitted (cached like every fit)."""
    s = cfg.landscape_sparsity
    stage = final.config.likelihood_stage()
    variants = {"likelihood": stage,
                "capacity": replace(stage, hidden=CAPACITY * stage.hidden,
                                    likelihood_steps=CAPACITY * stage.likelihood_steps),
                "features": replace(stage, features=FEATURES)}
    fitted = dict(zip(variants, gan.fit_many(bank, list(variants.values()), progress=progress)))
    examples = gan.from_bank(bank, networks=final.config.networks, sparsities=(s,),
                             temperature=final.config.weight_temperature, features=("depth",))
    soft = _soft(bank, final.config, s)
    rows = []
    for ex in examples:
        land = _Landscape(bank, ex.network, s)
        values = {"soft-bank": soft[ex.network],
                  "form": land.expected(diagnostics.form_ceiling(ex), "val_acc"),
                  **{name: land.expected(g, "val_acc") for name, g in {"final": final, **fitted}.items()},
                  "untrained": float(land.rows["val_acc"].astype(float).mean())}
        rows += [{"limit": name, "network": ex.network, "val_acc": values[name],
                  "gap": 100 * (values[name] - values["soft-bank"])} for name in LIMITS]
    return pd.DataFrame(rows)


def limits_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per limit (:data:`LIMITS` order): mean expected validation accuracy and the gap to the soft bank
    (points) with its 95 % CI over networks."""
    out = []
    for name, g in rows.groupby("limit", sort=False):
        mean, lo, hi = mean_ci(g["gap"])
        out.append({"limit": name, "val_acc": float(g["val_acc"].mean()), "gap": mean, "ci_low": lo,
                    "ci_high": hi, "n": len(g)})
    return pd.DataFrame(out)


def limits_display(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`limits_summary` as the reader sees it."""
    return pd.DataFrame({"distribution": [LIMITS[x] for x in summary["limit"]],
                         "expected val. acc.": [acc(v) for v in summary["val_acc"]],
                         "gap to the bank (points)": [pts_ci(v, lo, hi) if name != "soft-bank" else "—"
                                                      for name, v, lo, hi in summary[
                                                          ["limit", "gap", "ci_low", "ci_high"]].itertuples(
                                                          index=False)]})


def training_subset(train, k: int, m: int) -> tuple[int, ...]:
    """Fold ``k``'s ``m`` training networks for :func:`size_curve`: ``m`` consecutive networks of its training
    networks ``train`` from position ``k · m`` on (wrapping round), so that the folds learn from different
    networks (sorted)."""
    train = tuple(train)
    if not 1 <= m <= len(train):
        raise ValueError(f"m={m} training networks: a fold has 1 to {len(train)}")
    return tuple(sorted(train[(k * m + i) % len(train)] for i in range(m)))


def _size_configs(bank, fold, m: int) -> tuple[list, list | None]:
    """Fold ``fold``'s GAN generators' configs (one per seed) refitted on :func:`training_subset`, and their
    critics (fitted on the same networks, same seeds; ``None`` without a critic)."""
    gens = fold.generators["conv"]["gan"]
    subset = training_subset(fold.cfg.train_networks, fold.k, m)
    configs = [replace(g.config, networks=subset) for g in gens]
    if not any(c.critic_weight > 0 for c in configs):
        return configs, None
    critics = gan.fit_critics(bank, networks=subset, seeds=[c.seed for c in configs],
                              steps=fold.cfg.critic_steps, features=configs[0].features, progress=False)
    return configs, critics


def size_curve(bank, folds, *, sizes=SIZES, progress: bool = True) -> pd.DataFrame:
    """One row per (fold, training networks ``m``, generator seed, network) in the conv setting at the
    landscape sparsity: ``where`` = ``"held-out"`` (the fold's held-out networks: the generator's exact
    expected *test* accuracy − the best standard criterion's test accuracy there, mean over the
    protocol's pairs) or ``"training"`` (its ``m`` training networks: exact expected *validation*
    accuracy − the soft-weighted bank's), ``gap`` in points. ``m`` runs over ``sizes`` (``m`` of the fold's
    training networks, :func:`training_subset`; the fold's design and features, chosen on all of them) and
    all of a fold's training networks (the fold's own generators)."""
    jobs = []  # (fold, m, configs, critics)
    for f in folds:
        for m in sizes:
            if m < len(f.cfg.train_networks):
                jobs.append((f, m, *_size_configs(bank, f, m)))
    configs = [c for _, _, cs, _ in jobs for c in cs]
    critics = [cr for _, _, cs, crs in jobs for cr in (crs or [None] * len(cs))]
    fitted = iter(gan.fit_many(bank, configs, critics=critics, progress=progress))
    by_size = [(f, m, [next(fitted) for _ in cs]) for f, m, cs, _ in jobs]
    by_size += [(f, len(f.cfg.train_networks), list(f.generators["conv"]["gan"])) for f in folds]
    rows = []
    for f, m, gens in by_size:
        s = f.cfg.landscape_sparsity
        p = f.protocol
        crit = p[(p["method"] == "best-criterion") & (p["setting"] == "conv") & np.isclose(p["sparsity"], s)]
        crit = crit.groupby("network")["retrained_acc"].apply(lambda x: x.astype(float).mean())
        soft = _soft(bank, gens[0].config, s)
        lands = {n: _Landscape(bank, n, s) for n in (*f.cfg.held_out, *soft)}
        for g in gens:
            for n in f.cfg.held_out:
                v = lands[n].expected(g, "retrained_acc")
                rows.append({"fold": f.k, "networks": m, "seed": g.config.seed, "where": "held-out",
                             "network": n, "value": v, "reference": float(crit[n]),
                             "gap": 100 * (v - crit[n])})
            for n, ref in soft.items():
                v = lands[n].expected(g, "val_acc")
                rows.append({"fold": f.k, "networks": m, "seed": g.config.seed, "where": "training",
                             "network": n, "value": v, "reference": ref, "gap": 100 * (v - ref)})
    return pd.DataFrame(rows)


def size_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (``where``, training networks): the mean gap (points) per network — over seeds and, on the
    training side, over the folds that trained on it — and its 95 % CI over networks."""
    out = []
    units = rows.groupby(["where", "networks", "network"], sort=False)["gap"].mean().reset_index()
    for (where, m), g in units.groupby(["where", "networks"], sort=True):
        mean, lo, hi = mean_ci(g["gap"])
        out.append({"where": where, "networks": int(m), "gap": mean, "ci_low": lo, "ci_high": hi,
                    "n": len(g)})
    return pd.DataFrame(out)


def limits_text(limits, sparsity: float) -> str:
    """What :func:`fit_limits` measured, in words (``limits``: name → :class:`.summary.Interval`, the gaps
    to the soft-weighted bank over networks, as :class:`.summary.Chapter6Summary` holds them)."""
    form, final = limits["form"], limits["final"]
    apart = final.ci_high is not None and form.ci_low is not None and final.ci_high < form.ci_low
    return (f"On the conv {pct(sparsity)} landscapes, the best distribution of the generator's form (free "
            f"weights per channel and count factors per layer, fitted to each network's bank) is "
            f"{form.text()} points from the soft-weighted bank, the final generator {final.text()}"
            + (": their CIs do not overlap, so most of the generator's gap is not its form's but lies in "
               "what its features let it tell apart." if apart else ".")
            + f" Its likelihood stage alone is at {limits['likelihood'].text()}, {CAPACITY}× wider and "
            f"{CAPACITY}× longer at {limits['capacity'].text()}, reading all {len(FEATURES)} features at "
            f"{limits['features'].text()}; the untrained generator at {limits['untrained'].text()}.")


def size_text(sizes, sparsity: float) -> str:
    """:func:`size_curve` in words (``sizes``: (``heldout`` / ``training``, networks) →
    :class:`.summary.Interval`, as :class:`.summary.Chapter6Summary` holds them)."""
    def series(where):
        return ", ".join(f"{m}: {iv.text()}" for (w, m), iv in sorted(sizes.items()) if w == where)
    return (f"Conv {pct(sparsity)}, by the number of training networks — on the held-out networks, GAN − "
            f"best standard criterion (test accuracy, points): {series('heldout')}; on the training "
            f"networks, "
            f"GAN − soft-weighted bank (validation accuracy): {series('training')}.")


def limits_table(limits) -> pd.DataFrame:
    """The gaps of :func:`fit_limits` as a reader's table (``limits``: name → :class:`.summary.Interval`, as
    :class:`.summary.Chapter6Summary` holds them; rows in :data:`LIMITS` order, those glued only)."""
    gap = "gap to the soft-weighted bank (points)"
    return pd.DataFrame([{"distribution": label, gap: limits[name].text()}
                         for name, label in LIMITS.items() if name in limits])


def size_table(sizes) -> pd.DataFrame:
    """The gaps of :func:`size_curve` as a reader's table, one row per number of training networks
    (``sizes``: (``heldout`` / ``training``, networks) → :class:`.summary.Interval`)."""
    def cell(where, m):
        return sizes[where, m].text() if (where, m) in sizes else MISSING
    return pd.DataFrame([{"training networks": str(m),
                          "held-out: GAN − best criterion (test)": cell("heldout", m),
                          "training: GAN − soft bank (val.)": cell("training", m)}
                         for m in sorted({m for _, m in sizes})])
