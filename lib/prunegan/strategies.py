"""Pruning strategies: a *scorer* gives every prunable channel a score (higher = keep), and one shared
global *selection* turns scores into a :class:`~prunegan.masks.ChannelMask` at the requested sparsity.

Sparsity is the fraction of prunable channels removed, globally: exactly
``n_pruned = round(sparsity * n_prunable)`` channels are pruned (Python's ``round``).
"""
from __future__ import annotations

import inspect
import math
import numbers
from typing import Callable, Mapping

import torch
from torch import nn

from ._registry import Registry
from .masks import ChannelMask, prunable_layers

#: scorer(model, layers, generator, **options) -> {layer name: (C,) float scores}
Scorer = Callable[..., dict[str, torch.Tensor]]
SCORERS: Registry[Scorer] = Registry("strategy")


def check_sparsity(sparsity: object) -> float:
    """Return ``sparsity`` as a float, or raise ``ValueError`` unless it is a number in [0, 1)."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, numbers.Real) or math.isnan(sparsity):
        raise ValueError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    if not 0.0 <= float(sparsity) < 1.0:
        raise ValueError(f"sparsity must be in [0, 1) (the fraction of channels removed), got {sparsity!r}")
    return float(sparsity)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def l1_norms(layers: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    """Mean |w| of each output channel: sum of |w| over the channel's weights / their number."""
    return {n: m.weight.detach().abs().flatten(1).mean(1).cpu() for n, m in layers.items()}


@SCORERS.register("l1")
def _l1(model: nn.Module, layers: Mapping[str, nn.Module], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Global L1: channels with the smallest mean |w| are pruned first, across all layers."""
    return l1_norms(layers)


@SCORERS.register("random")
def _random(model: nn.Module, layers: Mapping[str, nn.Module], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Uniformly random channels over all prunable channels."""
    return {n: torch.rand(m.weight.shape[0], generator=generator) for n, m in layers.items()}


@SCORERS.register("noisy-l1")
def _noisy_l1(model: nn.Module, layers: Mapping[str, nn.Module], generator: torch.Generator,
              temperature: float = 1.0) -> dict[str, torch.Tensor]:
    """L1 made a little random: ``log(mean|w|) + temperature · Gumbel(0, 1)`` noise.

    Temperature 0 is exactly L1; a large temperature approaches random pruning."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    scores = {}
    for name, norm in l1_norms(layers).items():
        u = torch.rand(norm.shape, generator=generator).clamp_(1e-12, 1 - 1e-12)
        gumbel = -torch.log(-torch.log(u))
        scores[name] = torch.log(norm.clamp_min(1e-30)) + float(temperature) * gumbel
    return scores


def select(scores: Mapping[str, torch.Tensor], sparsity: float, *, min_channels_per_layer: int = 0) -> ChannelMask:
    """Prune the ``round(sparsity · n)`` lowest-scoring channels over all layers, keeping at least
    ``min_channels_per_layer`` (the highest-scoring ones) in every layer. Ties go to the channel
    that comes first in layer order."""
    sparsity = check_sparsity(sparsity)
    min_keep = _check_int("min_channels_per_layer", min_channels_per_layer, 0)
    sizes = {n: s.numel() for n, s in scores.items()}
    n_total = sum(sizes.values())
    n_pruned = round(sparsity * n_total)
    too_small = {n: c for n, c in sizes.items() if c < min_keep}
    if too_small:
        raise ValueError(f"min_channels_per_layer={min_keep} exceeds the size of layers {too_small}")
    if n_total - n_pruned < min_keep * len(sizes):
        raise ValueError(
            f"sparsity={sparsity} prunes {n_pruned} of {n_total} channels, leaving {n_total - n_pruned}, "
            f"but min_channels_per_layer={min_keep} needs {min_keep * len(sizes)} in {len(sizes)} layers; "
            f"the largest sparsity possible is {1 - min_keep * len(sizes) / n_total:.3f}")
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
    keep[candidates[order[:n_pruned]]] = False
    return ChannelMask.from_vector(keep, sizes)


def score(model: nn.Module, strategy: str, *, seed: int, include_linear: bool = False,
          **options) -> dict[str, torch.Tensor]:
    """Per-channel scores of ``strategy`` (higher = keep) for the model's prunable layers."""
    scorer = SCORERS.get(strategy)
    seed = _check_int("seed", seed, 0)
    layers = prunable_layers(model, include_linear=include_linear)
    generator = torch.Generator().manual_seed(seed)
    return scorer(model, layers, generator, **options)


def prune(model: nn.Module, strategy: str, sparsity: float, *, seed: int, min_channels_per_layer: int = 0,
          include_linear: bool = False, **options) -> ChannelMask:
    """Global channel pruning: a ChannelMask that prunes exactly ``round(sparsity · n_prunable)``
    channels of ``model`` chosen by ``strategy`` (see :func:`names`).

    ``min_channels_per_layer=0`` reproduces the original study (a layer may lose all its channels);
    ``1`` forbids layer collapse. ``seed`` drives the strategy's randomness (L1 ignores it);
    ``options`` go to the scorer (``temperature`` for ``noisy-l1``, ``generator`` for ``gan``);
    a scorer that takes a ``sparsity`` argument (the GAN's) is given the target sparsity."""
    scorer = SCORERS.get(strategy)
    sparsity = check_sparsity(sparsity)
    if "sparsity" in inspect.signature(scorer).parameters:
        options = {**options, "sparsity": sparsity}
    scores = score(model, strategy, seed=seed, include_linear=include_linear, **options)
    return select(scores, sparsity, min_channels_per_layer=min_channels_per_layer)


def names() -> list[str]:
    return SCORERS.names()
