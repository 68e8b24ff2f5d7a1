"""Tidy tables: one row per (result row, layer) from the one-row-per-run result tables."""
from __future__ import annotations

import pandas as pd


def layer_table(df: pd.DataFrame) -> pd.DataFrame:
    """Long table of layer-wise sparsity: one row per (result row, layer) with ``layer``, ``depth``
    (0 = first prunable layer), ``size``, ``kept``, ``layer_sparsity`` (fraction pruned), ``collapsed``."""
    id_cols = [c
               for c in ("method", "label", "strategy", "min_channels_per_layer", "trial", "seed", "sparsity",
                           "pruned_acc", "retrained_acc", "original_acc") if c in df.columns]
    out = []
    for _, row in df.iterrows():
        for depth, (layer, bits) in enumerate(row["mask"].items()):
            kept, size = int(sum(bits)), len(bits)
            out.append({**{c: row[c] for c in id_cols}, "layer": layer, "depth": depth, "size": size,
                        "kept": kept, "layer_sparsity": 1 - kept / size, "collapsed": kept == 0})
    return pd.DataFrame(out)
