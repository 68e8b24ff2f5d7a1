"""Overview tables of chapter 6's inputs: the data splits of its networks, the size of the mask space
in each setting, and what the mask banks hold."""
from __future__ import annotations

import math

import pandas as pd

from ...analysis.masks import mask_space_table
from ...runs.baseline import baseline
from .config import Configs
from ..format import pct


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


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _count(n) -> str:
    """A count as an integer (``96``, never ``9.600e+01``)."""
    return str(int(n))


def mask_space_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`mask_space_overview` for a reader: network, setting, sparsity, channels, kept and the number
    of collapse-free masks, counts as integers (``4.7 × 10⁴⁷`` beyond a million)."""
    return pd.DataFrame({"network": table["model"], "setting": table["setting"],
                         "sparsity": table["sparsity"].map(pct), "channels": table["n_channels"].map(_count),
                         "kept": table["n_kept"].map(_count),
                         "collapse-free masks": table["log10_masks_no_collapse"].map(_huge)})


def _huge(log10: float) -> str:
    """A count given by its log10: an integer below a million, else ``4.7 × 10⁴⁷``; ``0`` for −inf."""
    if log10 == float("-inf"):
        return "0"
    if log10 < 6:
        return _count(round(10 ** log10))
    e = int(math.floor(log10))
    return f"{10 ** (log10 - e):.1f} × 10{str(e).translate(_SUPERSCRIPT)}"


def bank_display(banks: dict) -> pd.DataFrame:
    """Per setting and sparsity of the banks (setting → bank): networks, distinct masks per network, and
    the labels' best / median / worst (validation accuracy, mean over networks, ``0.000``) with the mean SD
    between retraining seeds; collapsed masks are counted in :func:`bank_collapsed`."""
    rows = []
    for setting, b in banks.items():
        o = bank_overview(b)
        for s, g in o.groupby("sparsity"):
            lo, hi = int(g["distinct"].min()), int(g["distinct"].max())
            rows.append({"setting": setting, "sparsity": pct(s), "networks": str(len(g)),
                         "masks per network": f"{lo}" if lo == hi else f"{lo}–{hi}",
                         "best": f"{g['best'].mean():.3f}", "median": f"{g['median'].mean():.3f}",
                         "seed SD": f"{g['seed_sd'].mean():.3f}"})
    return pd.DataFrame(rows)


def bank_collapsed(banks: dict) -> int:
    """Masks with a collapsed layer in the banks (setting → bank): 0 by construction."""
    return int(sum(int(b.unique()["collapsed"].sum()) for b in banks.values()))
