"""Tidy tables: one row per (method, trial, sparsity[, layer]); and every cached evaluation as one table."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..core.store import results_root


def layer_table(df: pd.DataFrame) -> pd.DataFrame:
    """Long table of layer-wise sparsity: one row per (result row, layer) with ``layer``, ``depth``
    (0 = first prunable layer), ``size``, ``kept``, ``layer_sparsity`` (fraction pruned), ``collapsed``."""
    id_cols = [c for c in ("method", "label", "strategy", "min_channels_per_layer", "trial", "seed", "sparsity",
                           "pruned_acc", "retrained_acc", "original_acc") if c in df.columns]
    out = []
    for _, row in df.iterrows():
        for depth, (layer, bits) in enumerate(row["mask"].items()):
            kept, size = int(sum(bits)), len(bits)
            out.append({**{c: row[c] for c in id_cols}, "layer": layer, "depth": depth, "size": size,
                        "kept": kept, "layer_sparsity": 1 - kept / size, "collapsed": kept == 0})
    return pd.DataFrame(out)


def load_evaluations(root: str | Path | None = None) -> pd.DataFrame:
    """Every cached evaluation under the results folder: one row per (baseline, mask, retraining)
    with the stored result, the mask ``key``, the retraining config as ``retrain_*`` columns, the
    baseline's ``model`` / ``data`` / ``init_seed`` and ``run`` (the folder; its ``config.json``
    holds the full key)."""
    root = Path(root) if root is not None else results_root()
    rows = []
    for run in sorted(root.glob("evals_*")):
        base = json.loads((run / "config.json").read_text())["config"]["baseline"]
        for path in sorted(run.glob("rows/*.json")):
            row = json.loads(path.read_text())
            retrain = {f"retrain_{k}": v for k, v in row.pop("retrain").items()}
            rows.append({**row, **retrain, "model": base["model"], "data": base["data"],
                         "init_seed": base["init_seed"], "run": run.name})
    return pd.DataFrame(rows)
