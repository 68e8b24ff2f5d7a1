"""Where the GAN's gap to the best standard criterion comes from, per held-out network, in validation
accuracy (points; every mask retrained with the chapter's budget):

- **bank**: the soft-weighted bank (the distribution the generator is fitted to) − the best criterion,
  on the held-out network: what imitating the bank can win at most, on average;
- **fit**: the fold generators' in-sample gap to the soft bank on their *training* networks, for this
  network the mean over the folds that trained on it (each fold's seed-0 GAN, :func:`.fits.in_sample`);
- **transfer**: the generator's gap to the soft bank on the held-out network minus its in-sample gap;
- **total**: GAN − best criterion (the sum of the three, network by network).

The held-out values are the protocol's rows (mean over the pairs); the CI of each part is over networks.
No mask is retrained here: the rows exist already."""
from __future__ import annotations

import pandas as pd

from ...analysis.stats import mean_ci
from .config import Configs
from .fits import soft_bank

#: The parts of the decomposition, in order, as a reader names them.
PARTS = {"bank": "bank: soft-weighted bank − best criterion",
         "fit": "fit: generator − soft bank, training networks",
         "transfer": "transfer: held-out − training networks",
         "total": "total: GAN − best criterion"}


def per_network(banks: dict, cfg: Configs, protocol: pd.DataFrame, in_sample: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, sparsity, held-out network): the validation accuracies ``criterion``, ``gan``
    (means over the pairs), ``soft_bank``, and the parts of :data:`PARTS` in points. ``protocol``: the
    chapter's rows of the two LeNet-5 settings; ``in_sample``: :func:`.fits.in_sample` rows of the fold
    generators (``generator`` = ``"fold k"``)."""
    rows = protocol[protocol["method"].isin(["gan", "best-criterion"])]
    held = (rows.assign(val=rows["retrained_val_acc"].astype(float))
            .groupby(["setting", "sparsity", "network", "method"])["val"].mean().unstack("method")
            .rename(columns={"best-criterion": "criterion"}).reset_index())
    held["sparsity"] = held["sparsity"].round(6)
    soft = pd.concat([soft_bank(b, tuple(range(len(cfg.networks))), cfg.gan.weight_temperature)
                      .assign(setting=setting) for setting, b in banks.items()], ignore_index=True)
    soft["sparsity"] = soft["sparsity"].round(6)
    folds = in_sample[in_sample["generator"].astype(str).str.startswith("fold")]
    fit = (folds.assign(sparsity=folds["sparsity"].round(6))
           .groupby(["setting", "sparsity", "network"])["gap"].mean().rename("fit").reset_index())
    key = ["setting", "sparsity", "network"]
    out = (held.merge(soft.rename(columns={"bank_val_acc": "soft_bank"}), on=key)
           .merge(fit, on=key, how="left"))
    out["bank"] = 100 * (out["soft_bank"] - out["criterion"])
    out["transfer"] = 100 * (out["gan"] - out["soft_bank"]) - out["fit"]
    out["total"] = 100 * (out["gan"] - out["criterion"])
    return out[["setting", "sparsity", "network", "criterion", "gan", "soft_bank", *PARTS]]


def summary(per_net: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, sparsity, part): the mean over networks with its 95 % t-CI and ``n`` networks
    (a network whose fit part is missing is left out of every part, so the parts still add up)."""
    rows = []
    for (setting, s), g in per_net.dropna(subset=list(PARTS)).groupby(["setting", "sparsity"], sort=False):
        for part in PARTS:
            mean, lo, hi = mean_ci(g[part])
            rows.append({"setting": setting, "sparsity": s, "part": part, "value": mean, "ci_low": lo,
                         "ci_high": hi, "n": len(g)})
    return pd.DataFrame(rows, columns=["setting", "sparsity", "part", "value", "ci_low", "ci_high", "n"])
