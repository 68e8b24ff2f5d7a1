"""Comparing masks: per-method summaries (accuracy with its CI, collapse, diversity, cost), the size of
mask spaces, and a generator's keep-probability map against L1."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import torch

from .. import models
from ..core import counts
from ..core.masks import ChannelMask, layer_sizes, prunable_layers
from ..core.validate import check_sparsity
from ..pruning.scorers import l1_norms
from .stats import mean_ci


def mean_pairwise_hamming(masks: list[dict]) -> float:
    """Mean Hamming distance (channels) over all pairs of masks given as layer → list of 0/1 (NaN for one mask)."""
    vecs = [np.concatenate([np.asarray(v, bool) for v in m.values()]) for m in masks]
    if len(vecs) < 2:
        return float("nan")
    return float(np.mean([(a != b).sum() for a, b in itertools.combinations(vecs, 2)]))


def summarize(df: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per (method, sparsity), in the order the methods appear: ``n`` runs, retrained accuracy
    ``mean`` with its Student-t ``confidence`` interval ``ci_low`` / ``ci_high``
    (:func:`~prunegan.analysis.stats.mean_ci`), mean pruned accuracy, ``collapse_rate``,
    ``distinct`` masks, ``diversity`` (mean pairwise Hamming distance between the masks, in
    channels), ``hamming_to_l1`` (mean distance to the L1 mask at that sparsity, when method ``l1``
    was run), and mean MACs / parameters (absolute and as a fraction of the dense network)."""
    if df.empty:
        return pd.DataFrame()
    l1 = {s: g["mask"].iloc[0] for s, g in df[df["method"] == "l1"].groupby("sparsity")}
    rows = []
    for (method, s), g in df.groupby(["method", "sparsity"], sort=False):
        mean, lo, hi = mean_ci(g["retrained_acc"], confidence)
        ref = l1.get(s)
        rows.append({
            "method": method, "label": g["label"].iloc[0], "sparsity": s, "n": len(g),
            "mean": mean, "ci_low": lo, "ci_high": hi, "pruned_acc": float(g["pruned_acc"].mean()),
            "collapse_rate": float(g["collapsed"].mean()), "distinct": g["key"].nunique(),
            "diversity": mean_pairwise_hamming(list(g["mask"])),
            "hamming_to_l1": float(np.mean([ChannelMask.from_dict(m).hamming(ChannelMask.from_dict(ref))
                                            for m in g["mask"]])) if ref is not None else float("nan"),
            "macs": float(g["macs"].mean()), "params": float(g["params"].mean()),
            "macs_kept": float(g["macs_kept"].mean()), "params_kept": float(g["params_kept"].mean()),
            "n_channels": int(g["n_channels"].iloc[0])})
    out = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(dict.fromkeys(df["method"]))}
    return out.sort_values(["sparsity", "method"], key=lambda c: c.map(order) if c.name == "method" else c,
                           ignore_index=True)


def collapse_rate(summary: pd.DataFrame, method: str, max_sparsity: float = 0.9) -> float:
    """Share of ``method``'s masks with a collapsed layer over all sparsities up to ``max_sparsity``."""
    g = summary[(summary["method"] == method) & (summary["sparsity"] <= max_sparsity + 1e-9)]
    return float((g["collapse_rate"] * g["n"]).sum() / g["n"].sum()) if len(g) else float("nan")


def mask_space_table(model, sparsities, *, include_linear: bool = False) -> pd.DataFrame:
    """Size of the mask space of ``model`` (a name or a network) at each sparsity: prunable channels,
    channels pruned and kept, number of masks in all and with no collapsed layer."""
    net = models.build(model) if isinstance(model, str) else model
    sizes = layer_sizes(net, include_linear=include_linear)
    n = sum(sizes.values())
    return pd.DataFrame([{"sparsity": check_sparsity(s), "n_channels": n, "n_pruned": counts.n_pruned(n, s),
                          "n_kept": counts.n_kept(n, s), "n_masks": counts.mask_space(sizes, s),
                          "n_masks_no_collapse": counts.mask_space(sizes, s, 1)} for s in sparsities])


def keep_map(generator, model: torch.nn.Module, sparsities, *, include_linear: bool | None = None) -> pd.DataFrame:
    """Tidy probabilistic map of a generator: one row per (sparsity, layer, channel) with
    ``keep_prob``, the channel's mean |w| (``l1``) and ``l1_position``, its place in the layer when
    channels are sorted by mean |w| from the largest (0 = largest)."""
    il = generator.include_linear if include_linear is None else include_linear
    l1 = l1_norms(prunable_layers(model, include_linear=il))
    rows = []
    for s in sparsities:
        probs = generator.keep_probabilities(model, s, include_linear=il)
        for layer, p in probs.items():
            position = torch.argsort(torch.argsort(l1[layer], descending=True, stable=True), stable=True)
            for c in range(len(p)):
                rows.append({"sparsity": float(s), "layer": layer, "channel": c, "keep_prob": float(p[c]),
                             "l1": float(l1[layer][c]), "l1_position": int(position[c])})
    return pd.DataFrame(rows)


def l1_agreement(keep: pd.DataFrame) -> pd.DataFrame:
    """Per (sparsity, layer): Spearman correlation between keep-probability and mean |w| within the
    layer (1 = the map orders channels exactly like L1, −1 = exactly the reverse); layers whose
    keep-probabilities are all equal are left out."""
    rows = []
    for (s, layer), g in keep.groupby(["sparsity", "layer"], sort=False):
        if len(g) > 1 and g["keep_prob"].std() > 0:
            rows.append({"sparsity": s, "layer": layer,
                         "spearman": float(g["keep_prob"].rank().corr(g["l1"].rank()))})
    return pd.DataFrame(rows, columns=["sparsity", "layer", "spearman"])
