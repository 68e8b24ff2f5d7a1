"""The one global selection: scores → :class:`~prunegan.core.masks.ChannelMask` at a sparsity, and the
layer-wise uniform counts and per-layer selection behind the ``uniform-l1`` and ``uniform-random``
strategies."""
from __future__ import annotations

from collections.abc import Mapping

import torch

from ..core import counts
from ..core.masks import ChannelMask
from ..core.validate import check_int, check_sparsity


def select(scores: Mapping[str, torch.Tensor], sparsity: float, *,
           min_channels_per_layer: int = 0) -> ChannelMask:
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


def uniform_kept_per_layer(sizes: Mapping[str, int], sparsity: float,
                           min_channels_per_layer: int = 0) -> dict[str, int]:
    """Layer-wise uniform counts: how many channels each layer keeps when every layer keeps the same
    fraction ``K / n`` of its channels (``K = n − round(sparsity · n)``, the one count rule).

    Each layer's quota ``K · n_l / n`` is rounded by the largest-remainder method (the floors, then one
    more channel to the largest remainders, ties to the earlier layer), so the counts sum to ``K``
    exactly and each differs from its quota by less than one. Every layer keeps at least
    ``m = max(1, min_channels_per_layer)``: a layer whose quota is below ``m`` is set to ``m`` and the
    rest of ``K`` is shared in proportion among the other layers in the same way (repeated until no
    quota is below ``m``; the counts never exceed a layer's size). An infeasible sparsity
    (``K < m · layers``) raises ``ValueError`` saying why."""
    sparsity = check_sparsity(sparsity)
    minimum = max(1, check_int("min_channels_per_layer", min_channels_per_layer, 0))
    sizes = dict(sizes)
    counts.check_feasible(sizes, sparsity, minimum)
    left = counts.n_kept(sum(sizes.values()), sparsity)
    kept: dict[str, int] = {}
    free = list(sizes)
    while True:  # exact integer arithmetic: layer l's quota is left · n_l / total
        total = sum(sizes[name] for name in free)
        binding = [name for name in free if left * sizes[name] < minimum * total]
        if not binding:
            break
        for name in binding:
            kept[name] = minimum
        left -= minimum * len(binding)
        free = [name for name in free if name not in binding]
    floors = {name: left * sizes[name] // total for name in free}
    remainders = {name: left * sizes[name] % total for name in free}
    extra = left - sum(floors.values())
    for name in sorted(free, key=lambda name: -remainders[name])[:extra]:  # stable: ties to the earlier layer
        floors[name] += 1
    kept.update(floors)
    return {name: kept[name] for name in sizes}


def select_per_layer(scores: Mapping[str, torch.Tensor], kept: Mapping[str, int]) -> ChannelMask:
    """Keep the ``kept[layer]`` highest-scoring channels of every layer (ties go to the channel that
    comes first), as a :class:`~prunegan.core.masks.ChannelMask`."""
    if list(kept) != list(scores):
        raise ValueError(f"kept counts are for layers {list(kept)}, scores for {list(scores)}")
    out = {}
    for name, score in scores.items():
        score = score.detach().to(torch.float64).cpu().flatten()
        k = check_int(f"kept[{name!r}]", kept[name], 0)
        if k > score.numel():
            raise ValueError(f"kept[{name!r}]={k} exceeds the layer's {score.numel()} channels")
        keep = torch.zeros(score.numel(), dtype=torch.bool)
        keep[torch.argsort(score, descending=True, stable=True)[:k]] = True
        out[name] = keep
    return ChannelMask(out)
