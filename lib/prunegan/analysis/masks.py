"""Mask spaces and maps: the size of a network's mask space at each sparsity, and a generator's
keep-probability map compared with L1's channel order."""
from __future__ import annotations

import pandas as pd
import torch

from .. import models
from ..core import counts
from ..core.masks import layer_sizes, prunable_layers
from ..core.validate import check_sparsity
from ..pruning.scorers import l1_norms


def mask_space_table(model, sparsities, *, include_linear: bool = False) -> pd.DataFrame:
    """Size of the mask space of ``model`` (a name or a network) at each sparsity: prunable channels,
    channels pruned and kept, number of masks in all and with no collapsed layer."""
    net = models.build(model) if isinstance(model, str) else model
    sizes = layer_sizes(net, include_linear=include_linear)
    n = sum(sizes.values())
    return pd.DataFrame([{"sparsity": check_sparsity(s), "n_channels": n, "n_pruned": counts.n_pruned(n, s),
                          "n_kept": counts.n_kept(n, s), "n_masks": counts.mask_space(sizes, s),
                          "n_masks_no_collapse": counts.mask_space(sizes, s, 1)} for s in sparsities])


def keep_map(generator, model: torch.nn.Module, sparsities, *,
             include_linear: bool | None = None) -> pd.DataFrame:
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
