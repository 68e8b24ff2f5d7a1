"""The standard criteria the GAN is held against, and the best of them chosen on the training
networks' validation accuracy."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ...core import counts
from ...core.masks import layer_sizes
from ...pruning.executors import Execution
from ...pruning.strategies import Method
from ...runs import runner
from ...runs.baseline import baseline
from .config import SETTINGS, Configs


def standard_methods(include_linear: bool) -> list[Method]:
    """The standard criteria the GAN is held against: the bank's criteria at temperature 0 with one
    channel per layer, and layer-wise uniform pruning (L1 or random within each layer)."""
    one = {"min_channels_per_layer": 1, "include_linear": include_linear}
    return [Method("l1", **one, name="l1-min1", label="L1, min 1/layer"),
            Method("tp-magnitude", **one, name="tp-magnitude-min1", label="TP magnitude, min 1/layer"),
            Method("tp-lamp", **one, name="tp-lamp-min1", label="TP LAMP, min 1/layer"),
            Method("tp-fpgm", **one, name="tp-fpgm-min1", label="TP FPGM, min 1/layer"),
            Method("uniform-l1", **one, name="uniform-l1", label="layer-wise uniform, L1 within"),
            Method("uniform-random", **one, name="uniform-random", label="layer-wise uniform, random within")]


#: Deterministic standard criteria (one mask per network): the candidates for the best one.
CRITERION_CANDIDATES = ("l1-min1", "tp-magnitude-min1", "tp-lamp-min1", "tp-fpgm-min1", "uniform-l1")


def criterion_choice(cfg: Configs, setting: str, *, execution: Execution = Execution()) -> pd.DataFrame:
    """Each deterministic standard criterion on every *training* network at every sparsity, retrained
    with the bank's seeds and labelled by validation accuracy: one row per (criterion, network,
    sparsity, retraining seed) with ``val_acc``."""
    bank_cfg = cfg.banks[setting]
    frames = []
    for n in cfg.train_networks:
        base = baseline(cfg.networks[n], progress=execution.progress)
        jobs = []
        for m in standard_methods(SETTINGS[setting]):
            if m.name not in CRITERION_CANDIDATES:
                continue
            for s in cfg.sparsities:
                if not counts.is_feasible(layer_sizes(base.model, include_linear=SETTINGS[setting]), s, 1):
                    continue
                mask = m.prune(base.model, s, seed=0)
                for r in range(bank_cfg.retrain_seeds):
                    jobs.append(runner.Job(mask, replace(bank_cfg.retrain, seed=bank_cfg.retrain.seed + r),
                                           {"method": m.name, "network": n, "sparsity": s,
                                            "setting": setting}))
        frames.append(runner.run(base, jobs, execution=execution))
    df = pd.concat(frames, ignore_index=True)
    return df.rename(columns={"retrained_val_acc": "val_acc"})


#: Two criteria tie when their mean validation accuracies differ by less than this. Validation accuracies
#: are multiples of ``1 / n_val``, so two means over ``m`` values that differ do so by at least
#: ``1 / (n_val · m)`` (500 images, 8 networks × 3 seeds: 8e-5); only float rounding is below 1e-9.
TIE_ATOL = 1e-9


def best_criteria(choice: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, sparsity): each criterion's mean validation accuracy over the training networks
    and seeds; ``best`` is True on the best one, ``tied`` on every criterion with the best mean (within
    :data:`TIE_ATOL`: the same accuracies, typically the same masks); ``ties`` names them all on the
    ``best`` row (``"l1-min1 = uniform-l1"``; the first in candidate order is the one measured)."""
    t = (choice.groupby(["setting", "sparsity", "method"], sort=False)["val_acc"].mean()
         .rename("val_acc").reset_index())
    top = t.groupby(["setting", "sparsity"], sort=False)["val_acc"].transform("max")
    t["tied"] = (top - t["val_acc"]) <= TIE_ATOL
    t["best"] = t.index.isin(t[t["tied"]].groupby(["setting", "sparsity"], sort=False).head(1).index)
    names = t[t["tied"]].groupby(["setting", "sparsity"], sort=False)["method"].agg(" = ".join)
    t["ties"] = [names[(r.setting, r.sparsity)] if r.best else "" for r in t.itertuples()]
    return t


def criterion_ties(best: pd.DataFrame, choice: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (setting, sparsity): the best standard criterion as every name that tied
    (``criteria``, ``n_tied``), the one measured (``measured``: the first), their mean validation
    accuracy, and — when ``choice`` (the per-network rows, with the masks' ``key``) is given —
    ``same_masks``: whether the tied criteria chose the same mask on every training network."""
    rows = []
    for (setting, s), g in best.groupby(["setting", "sparsity"], sort=False):
        tied = g[g["tied"]]
        row = {"setting": setting, "sparsity": s, "criteria": " = ".join(tied["method"]),
               "n_tied": len(tied), "measured": str(g.loc[g["best"], "method"].iloc[0]),
               "val_acc": float(tied["val_acc"].iloc[0])}
        if choice is not None and "key" in choice:
            c = choice[(choice["setting"] == setting) & np.isclose(choice["sparsity"], s)
                       & choice["method"].isin(tied["method"])]
            row["same_masks"] = bool((c.groupby("network")["key"].nunique() == 1).all())
        rows.append(row)
    return pd.DataFrame(rows)


def chosen_criterion(best: pd.DataFrame, setting: str, sparsity: float, *, ties: bool = False) -> str:
    """The measured best criterion of :func:`best_criteria` at (``setting``, ``sparsity``), or with
    ``ties=True`` every name that tied with it (``"l1-min1 = uniform-l1"``)."""
    row = best[(best["setting"] == setting) & np.isclose(best["sparsity"], sparsity) & best["best"]]
    if row.empty:
        raise ValueError(f"no standard criterion was chosen for {setting!r} at sparsity {sparsity}")
    return str(row["ties" if ties else "method"].iloc[0])
