"""Layer collapse: which runs are stuck at the pruned accuracy, and whether collapse explains them."""
from __future__ import annotations

import numpy as np
import pandas as pd


def classify_recovery(df: pd.DataFrame, *, min_gain: float = 0.02, tolerance: float = 0.05) -> pd.Series:
    """Label each row ``"recovered"`` or ``"stuck"``.

    A run is *stuck* when retraining gained less than ``min_gain`` over the pruned accuracy and the
    retrained accuracy is still more than ``tolerance`` below the original accuracy; otherwise it
    *recovered* (this includes low sparsities where pruning cost nothing to begin with)."""
    gain = df["retrained_acc"] - df["pruned_acc"]
    gap = df["original_acc"] - df["retrained_acc"]
    return pd.Series(np.where((gain < min_gain) & (gap > tolerance), "stuck", "recovered"), index=df.index)


def collapse_table(df: pd.DataFrame, **rule) -> pd.DataFrame:
    """Per (method label, sparsity): number of runs, collapse rate, stuck rate (``rule`` goes to
    :func:`classify_recovery`), and mean retrained accuracy."""
    d = df.assign(stuck=classify_recovery(df, **rule) == "stuck")
    return (d.groupby(["label", "sparsity"], as_index=False)
             .agg(runs=("collapsed", "size"), collapse_rate=("collapsed", "mean"),
                  stuck_rate=("stuck", "mean"), retrained_acc=("retrained_acc", "mean")))


def collapse_explains_stuck(df: pd.DataFrame, **rule) -> dict[str, float]:
    """The 2×2 answer to "is every stuck run a collapsed one?" over all rows of ``df``:
    counts of runs, stuck, collapsed, stuck-and-collapsed, stuck-without-collapse,
    collapsed-but-recovered, and the share of stuck runs that had a collapsed layer."""
    stuck = classify_recovery(df, **rule) == "stuck"
    collapsed = df["collapsed"].astype(bool)
    n_stuck = int(stuck.sum())
    return {"runs": len(df), "stuck": n_stuck, "collapsed": int(collapsed.sum()),
            "stuck_and_collapsed": int((stuck & collapsed).sum()),
            "stuck_without_collapse": int((stuck & ~collapsed).sum()),
            "collapsed_but_recovered": int((~stuck & collapsed).sum()),
            "share_of_stuck_collapsed": (float((stuck & collapsed).sum() / n_stuck) if n_stuck
                                         else float("nan"))}


def first_collapse(df: pd.DataFrame) -> float | None:
    """Smallest sparsity at which any run of ``df`` has a collapsed layer (``None`` if none does)."""
    hit = df.loc[df["collapsed"], "sparsity"]
    return float(hit.min()) if len(hit) else None


def unique_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Drop rows that are the same run reached twice (a sweep and a trials call share runs)."""
    key = ["method", "seed", "sparsity"]
    return df.drop_duplicates(subset=key).reset_index(drop=True)
