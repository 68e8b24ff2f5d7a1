"""Scorers: one score per prunable channel (higher = keep). Selection is separate
(:func:`prunegan.pruning.select.select`).

A scorer is a function ``scorer(layers, rng, *, sparsity, **options) -> {layer: (C,) float tensor}``:
``layers`` maps the prunable layers' names to their modules (in order), ``rng`` is the
``torch.Generator`` that every random draw uses, ``sparsity`` the target (most scorers ignore it),
``options`` the scorer's own keyword options. Scorers are registered by name in :data:`SCORERS`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from ..core.registry import Registry
from ..core.validate import check_number

Scorer = Callable[..., dict[str, torch.Tensor]]
SCORERS: Registry[Scorer] = Registry("strategy")


def l1_norms(layers: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    """Mean |w| of each output channel: sum of |w| over the channel's weights / their number."""
    return {n: m.weight.detach().abs().flatten(1).mean(1).cpu() for n, m in layers.items()}


@SCORERS.register("l1")
def l1(layers: Mapping[str, nn.Module], rng: torch.Generator, *, sparsity: float) -> dict[str, torch.Tensor]:
    """Global L1: channels with the smallest mean |w| are pruned first, across all layers."""
    return l1_norms(layers)


@SCORERS.register("random")
def random(layers: Mapping[str, nn.Module], rng: torch.Generator, *, sparsity: float) -> dict[str, torch.Tensor]:
    """Uniformly random channels over all prunable channels."""
    return {n: torch.rand(m.weight.shape[0], generator=rng) for n, m in layers.items()}


@SCORERS.register("noisy-l1")
def noisy_l1(layers: Mapping[str, nn.Module], rng: torch.Generator, *, sparsity: float,
             temperature: float = 1.0) -> dict[str, torch.Tensor]:
    """L1 made a little random: ``log(mean|w|) + temperature · Gumbel(0, 1)`` noise.

    Temperature 0 is exactly L1; a large temperature approaches random pruning."""
    temperature = check_number("temperature", temperature, 0)
    scores = {}
    for name, norm in l1_norms(layers).items():
        u = torch.rand(norm.shape, generator=rng).clamp_(1e-12, 1 - 1e-12)
        gumbel = -torch.log(-torch.log(u))
        scores[name] = torch.log(norm.clamp_min(1e-30)) + temperature * gumbel
    return scores


@SCORERS.register("gan")
def learned(layers: Mapping[str, nn.Module], rng: torch.Generator, *, sparsity: float,
            generator: object = None) -> dict[str, torch.Tensor]:
    """Scores of one sample of a learned mask generator (``generator=``: a trained
    :class:`prunegan.gan.Generator`, or any object with ``scores(layers, sparsity, rng)``)."""
    if generator is None:
        raise ValueError("strategy 'gan' needs a trained generator: strategies.prune(model, 'gan', sparsity, "
                         "seed=..., generator=prunegan.gan.fit(bank, config) or prunegan.gan.Generator.load(path))")
    if not callable(getattr(generator, "scores", None)):
        raise ValueError(f"strategy 'gan': generator must be a prunegan.gan.Generator, got {type(generator).__name__}")
    return generator.scores(layers, sparsity, rng)
