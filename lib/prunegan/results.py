"""Results as tidy pandas DataFrames: one row per (strategy, trial, sparsity[, layer])."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import results_root


def rows_to_frame(rows: list[dict]) -> pd.DataFrame:
    """Result rows (dicts from :func:`prunegan.experiments.mask_row`) → DataFrame; adds
    ``collapsed`` (any layer lost all channels) and ``macs_kept`` / ``params_kept`` (compact
    network's count over the dense network's, in [0, 1])."""
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["collapsed"] = df["n_collapsed"] > 0
    df["macs_kept"] = df["macs"] / df["dense_macs"]
    df["params_kept"] = df["params"] / df["dense_params"]
    return df


def layer_table(df: pd.DataFrame) -> pd.DataFrame:
    """Long table of layer-wise sparsity: one row per (result row, layer) with ``layer``, ``depth``
    (0 = first prunable layer), ``size``, ``kept``, ``layer_sparsity`` (fraction pruned), ``collapsed``."""
    id_cols = [c for c in ("strategy", "min_channels_per_layer", "trial", "seed", "sparsity",
                           "pruned_acc", "retrained_acc", "original_acc") if c in df.columns]
    out = []
    for _, row in df.iterrows():
        for depth, (layer, bits) in enumerate(row["mask"].items()):
            kept, size = int(sum(bits)), len(bits)
            out.append({**{c: row[c] for c in id_cols}, "layer": layer, "depth": depth, "size": size,
                        "kept": kept, "layer_sparsity": 1 - kept / size, "collapsed": kept == 0})
    return pd.DataFrame(out)


def classify_recovery(df: pd.DataFrame, *, min_gain: float = 0.02, tolerance: float = 0.05) -> pd.Series:
    """Label each row ``"recovered"`` or ``"stuck"``.

    A run is *stuck* when retraining gained less than ``min_gain`` over the pruned accuracy and the
    retrained accuracy is still more than ``tolerance`` below the original accuracy; otherwise it
    *recovered* (this includes low sparsities where pruning cost nothing to begin with)."""
    gain = df["retrained_acc"] - df["pruned_acc"]
    gap = df["original_acc"] - df["retrained_acc"]
    return pd.Series(np.where((gain < min_gain) & (gap > tolerance), "stuck", "recovered"), index=df.index)


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and normal-approximation ``confidence`` interval (t-quantile for small n) of ``values``."""
    from scipy import stats  # scipy comes with seaborn's stack

    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def load(kind: str = "sweep", root: str | Path | None = None) -> pd.DataFrame:
    """Every cached run of ``kind`` under the results folder as one DataFrame (a ``run`` column
    names its folder; the run's config is in ``<run>/config.json``)."""
    root = Path(root) if root is not None else results_root()
    rows = []
    for run in sorted(root.glob(f"{kind}_*")):
        for path in sorted(run.glob("rows/*.json")):
            rows.append({**json.loads(path.read_text()), "run": run.name})
    return rows_to_frame(rows)
