"""The standard criteria the GAN is held against, and the best of them chosen on the training
networks' validation accuracy."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ...core import counts
from ...core.masks import layer_sizes
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


def criterion_choice(cfg: Configs, setting: str, *, progress: bool = True, executor: str = "local",
                     ray_address: str | None = None) -> pd.DataFrame:
    """Each deterministic standard criterion on every *training* network at every sparsity, retrained
    with the bank's seeds and labelled by validation accuracy: one row per (criterion, network,
    sparsity, retraining seed) with ``val_acc``."""
    bank_cfg = cfg.banks[setting]
    frames = []
    for n in cfg.train_networks:
        base = baseline(cfg.networks[n], progress=progress)
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
        frames.append(runner.run(base, jobs, progress=progress, executor=executor, ray_address=ray_address))
    df = pd.concat(frames, ignore_index=True)
    return df.rename(columns={"retrained_val_acc": "val_acc"})


def best_criteria(choice: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, sparsity): each criterion's mean validation accuracy over the training networks
    and seeds, and the best one (``best``: True on its row)."""
    t = (choice.groupby(["setting", "sparsity", "method"], sort=False)["val_acc"].mean()
         .rename("val_acc").reset_index())
    first_best = t.groupby(["setting", "sparsity"], sort=False)["val_acc"].idxmax()  # ties: the first
    t["best"] = t.index.isin(first_best)
    return t


def chosen_criterion(best: pd.DataFrame, setting: str, sparsity: float) -> str:
    row = best[(best["setting"] == setting) & np.isclose(best["sparsity"], sparsity) & best["best"]]
    if row.empty:
        raise ValueError(f"no standard criterion was chosen for {setting!r} at sparsity {sparsity}")
    return str(row["method"].iloc[0])
