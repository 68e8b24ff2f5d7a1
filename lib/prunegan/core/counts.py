"""The kept-count rule, written once: how many channels a sparsity prunes and keeps, when a sparsity
is feasible with a per-layer minimum, and how many masks there are.

Sparsity is the fraction of prunable channels removed, globally:
``n_pruned = round(sparsity · n_channels)`` (Python's ``round``), ``n_kept = n_channels − n_pruned``.
A sparsity is *feasible* with ``min_channels_per_layer = m`` over ``L`` layers when every layer has
at least ``m`` channels and ``n_kept >= m · L``.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping

from .validate import check_int, check_sparsity

Sizes = Mapping[str, int] | Iterable[int]


def _sizes(sizes: Sizes) -> list[int]:
    return list(sizes.values()) if isinstance(sizes, Mapping) else list(sizes)


def n_pruned(n_channels: int, sparsity: float) -> int:
    """Channels removed at ``sparsity``: ``round(sparsity · n_channels)``."""
    return round(check_sparsity(sparsity) * n_channels)


def n_kept(n_channels: int, sparsity: float) -> int:
    """Channels kept at ``sparsity``: ``n_channels − round(sparsity · n_channels)``."""
    return n_channels - n_pruned(n_channels, sparsity)


def infeasibility(sizes: Sizes, sparsity: float, min_channels_per_layer: int = 0) -> str | None:
    """Why ``sparsity`` is impossible with ``min_channels_per_layer`` over layers of ``sizes``
    (a sentence naming the numbers), or ``None`` when it is feasible."""
    named = (dict(sizes) if isinstance(sizes, Mapping)
             else {f"layer {i}": c for i, c in enumerate(_sizes(sizes))})
    m = check_int("min_channels_per_layer", min_channels_per_layer, 0)
    too_small = {k: c for k, c in named.items() if c < m}
    if too_small:
        return f"min_channels_per_layer={m} exceeds the size of layers {too_small}"
    total = sum(named.values())
    pruned = n_pruned(total, sparsity)
    if total - pruned < m * len(named):
        return (f"sparsity={sparsity} prunes {pruned} of {total} channels, leaving {total - pruned}, "
                f"but min_channels_per_layer={m} needs {m * len(named)} in {len(named)} layers; "
                f"the largest sparsity possible is {max_sparsity(named, m):.3f}")
    return None


def is_feasible(sizes: Sizes, sparsity: float, min_channels_per_layer: int = 0) -> bool:
    return infeasibility(sizes, sparsity, min_channels_per_layer) is None


def check_feasible(sizes: Sizes, sparsity: float, min_channels_per_layer: int = 0) -> None:
    """Raise ``ValueError`` (saying why) unless the sparsity is feasible."""
    reason = infeasibility(sizes, sparsity, min_channels_per_layer)
    if reason:
        raise ValueError(reason)


def max_sparsity(sizes: Sizes, min_channels_per_layer: int) -> float:
    """``1 − m · L / n``: the fraction pruned when exactly ``m`` channels are left in each layer."""
    s = _sizes(sizes)
    return 1 - min_channels_per_layer * len(s) / sum(s)


def feasible_sparsities(sizes: Sizes, min_channels_per_layer: int,
                        sparsities: Iterable[float]) -> tuple[float, ...]:
    """The feasible entries of ``sparsities``, in order."""
    return tuple(s for s in sparsities if is_feasible(sizes, s, min_channels_per_layer))


def mask_space(sizes: Sizes, sparsity: float, min_channels_per_layer: int = 0) -> int:
    """Exact number of distinct masks over layers of ``sizes`` that prune ``round(sparsity · n)``
    channels while keeping at least ``min_channels_per_layer`` in every layer (a dynamic program over
    layers: ``ways[j]`` counts the masks of the layers so far that keep ``j`` channels)."""
    s = _sizes(sizes)
    keep = n_kept(sum(s), sparsity)
    ways = [1] + [0] * keep
    for size in s:
        new = [0] * (keep + 1)
        for j, w in enumerate(ways):
            if w:
                for k in range(min_channels_per_layer, min(size, keep - j) + 1):
                    new[j + k] += w * math.comb(size, k)
        ways = new
    return ways[keep]


def all_masks(sizes: Sizes, sparsity: float, min_channels_per_layer: int = 0, *,
              limit: int = 10_000) -> list[list[bool]]:
    """Every mask counted by :func:`mask_space`, as 0/1 lists over all channels in layer order
    (layer by layer, channels in combination order). Raises ``ValueError`` when there are more than
    ``limit`` of them."""
    s = _sizes(sizes)
    total = mask_space(s, sparsity, min_channels_per_layer)
    if total > check_int("limit", limit, 0):
        raise ValueError(f"{total} masks at sparsity {sparsity} over layers {s} exceed limit={limit}")
    keep = n_kept(sum(s), sparsity)
    out: list[list[bool]] = []

    def extend(layer: int, prefix: list[bool], left: int) -> None:
        if layer == len(s):
            if left == 0:
                out.append(prefix)
            return
        rest_min = min_channels_per_layer * (len(s) - layer - 1)
        for k in range(min_channels_per_layer, min(s[layer], left - rest_min) + 1):
            for kept in itertools.combinations(range(s[layer]), k):
                bits = [False] * s[layer]
                for c in kept:
                    bits[c] = True
                extend(layer + 1, prefix + bits, left - k)

    extend(0, [], keep)
    return out
