"""Overview tables of chapter 6's inputs: the data splits of its networks, the size of the mask space
in each setting, and what the mask banks hold."""
from __future__ import annotations

import math

import pandas as pd

from ...analysis.masks import mask_space_table
from ...runs.baseline import baseline
from .config import Configs


def split_sizes(cfg: Configs) -> dict[str, int]:
    """Images in the training, validation and test splits of the chapter's networks."""
    data = baseline(cfg.networks[0], progress=False).data
    return {"train": len(data.y_train), "val": data.n_val, "test": len(data.y_test)}


def mask_space_overview(cfg: Configs) -> pd.DataFrame:
    """Size of the mask space in the three settings at the chapter's sparsities."""
    parts = [("conv", cfg.networks[0].model, False), ("conv+linear", cfg.networks[0].model, True),
             ("conv", cfg.transfer.model, False)]
    frames = [mask_space_table(model, cfg.sparsities, include_linear=il).assign(model=model, setting=setting)
              for setting, model, il in parts]
    out = pd.concat(frames, ignore_index=True)
    for col in ("n_masks", "n_masks_no_collapse"):
        out[f"log10_{col[2:]}"] = out[col].map(lambda v: math.log10(v) if v else float("-inf"))
    out["n_masks_no_collapse"] = out["n_masks_no_collapse"].astype(float)  # shown as 4.7e+47, not 48 digits
    return out[["model", "setting", "sparsity", "n_channels", "n_kept", "n_masks_no_collapse",
                "log10_masks", "log10_masks_no_collapse"]]


def bank_overview(bank) -> pd.DataFrame:
    """Per (network, sparsity): distinct masks, methods that drew them, collapse share, the best /
    median / worst label (validation accuracy, mean over the bank's retraining seeds) and the mean
    standard deviation between those seeds."""
    u = bank.unique()
    lab = bank.label
    return (u.groupby(["baseline", "sparsity"])
            .agg(distinct=("key", "size"), methods=("method", "nunique"), collapsed=("collapsed", "mean"),
                 best=(lab, "max"), median=(lab, "median"), worst=(lab, "min"),
                 seed_sd=(f"{lab}_sd", "mean"))
            .reset_index().rename(columns={"baseline": "network"}))
