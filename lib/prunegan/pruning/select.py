"""The one global selection: scores → :class:`~prunegan.core.masks.ChannelMask` at a sparsity."""
from __future__ import annotations

from collections.abc import Mapping

import torch

from ..core import counts
from ..core.masks import ChannelMask
from ..core.validate import check_int, check_sparsity


def select(scores: Mapping[str, torch.Tensor], sparsity: float, *, min_channels_per_layer: int = 0) -> ChannelMask:
    """Prune the ``round(sparsity · n)`` lowest-scoring channels over all layers, keeping at least
    ``min_channels_per_layer`` (the highest-scoring ones) in every layer. Ties go to the channel
    that comes first in layer order. An infeasible sparsity raises ``ValueError`` saying why."""
    sparsity = check_sparsity(sparsity)
    min_keep = check_int("min_channels_per_layer", min_channels_per_layer, 0)
    sizes = {n: s.numel() for n, s in scores.items()}
    counts.check_feasible(sizes, sparsity, min_keep)
    n_total = sum(sizes.values())
    flat = torch.cat([s.detach().to(torch.float64).cpu().flatten() for s in scores.values()])
    protected = torch.zeros(n_total, dtype=torch.bool)
    start = 0
    for size in sizes.values():
        if min_keep:
            top = torch.argsort(flat[start:start + size], descending=True, stable=True)[:min_keep]
            protected[start + top] = True
        start += size
    candidates = torch.nonzero(~protected).flatten()
    order = torch.argsort(flat[candidates], stable=True)  # lowest score first
    keep = torch.ones(n_total, dtype=torch.bool)
    keep[candidates[order[:counts.n_pruned(n_total, sparsity)]]] = False
    return ChannelMask.from_vector(keep, sizes)
