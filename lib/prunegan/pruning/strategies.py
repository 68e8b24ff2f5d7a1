"""Strategies = a registered scorer + the one global selection, and :class:`Method`, a strategy
with its options and per-layer minimum as data.

Sparsity is the fraction of prunable channels removed, globally: exactly
``n_pruned = round(sparsity * n_prunable)`` channels are pruned (Python's ``round``).
"""
from __future__ import annotations

import inspect
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..core.masks import ChannelMask, layer_sizes, prunable_layers
from ..core.validate import check_bool, check_int, check_sparsity
from .scorers import SCORERS
from .select import select, select_per_layer


#: Keyword arguments every scorer is given by :func:`score` (not options of a method).
_GIVEN = ("sparsity", "min_channels_per_layer")


def _check_options(strategy: str, options: Mapping[str, Any]) -> None:
    params = inspect.signature(SCORERS.get(strategy)).parameters
    allowed = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY and n not in _GIVEN]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"strategy {strategy!r} has no option(s) {unknown}; "
                         f"its options: {', '.join(allowed) if allowed else 'none'}")


def score(model: nn.Module, strategy: str, sparsity: float, *, seed: int, include_linear: bool = False,
          min_channels_per_layer: int = 0, **options) -> dict[str, torch.Tensor]:
    """Per-channel scores of ``strategy`` (higher = keep) for the model's prunable layers; every random
    draw comes from a ``torch.Generator`` seeded with ``seed``. ``min_channels_per_layer`` reaches
    the scorers that sample whole masks (they declare it)."""
    scorer = SCORERS.get(strategy)
    _check_options(strategy, options)
    seed = check_int("seed", seed, 0)
    sparsity = check_sparsity(sparsity)
    layers = prunable_layers(model, include_linear=include_linear)
    if "min_channels_per_layer" in inspect.signature(scorer).parameters:
        options["min_channels_per_layer"] = check_int("min_channels_per_layer", min_channels_per_layer, 0)
    return scorer(model, layers, torch.Generator().manual_seed(seed), sparsity=sparsity, **options)


def prune(model: nn.Module, strategy: str, sparsity: float, *, seed: int, min_channels_per_layer: int = 0,
          include_linear: bool = False, **options) -> ChannelMask:
    """Global channel pruning: a ChannelMask that prunes exactly ``round(sparsity · n_prunable)``
    channels of ``model`` chosen by ``strategy`` (see :func:`names`).

    ``min_channels_per_layer=0`` reproduces the original study (a layer may lose all its channels);
    ``1`` forbids layer collapse. ``seed`` drives the strategy's randomness (L1 ignores it);
    ``options`` go to the scorer (``temperature`` for ``noisy-l1``, ``generator`` for ``gan``)."""
    scores = score(model, strategy, sparsity, seed=seed, include_linear=include_linear,
                   min_channels_per_layer=min_channels_per_layer, **options)
    return select(scores, sparsity, min_channels_per_layer=min_channels_per_layer)


def within_layers(model: nn.Module, mask: ChannelMask, strategy: str, *, seed: int = 0,
                  include_linear: bool = False, **options) -> ChannelMask:
    """``mask``'s allocation with ``strategy``'s channels: every layer keeps as many channels as in
    ``mask`` (``mask.kept_per_layer()``), the ones ``strategy`` scores highest (ties: the first channel).
    ``mask`` must cover the model's prunable layers (``include_linear``); ``seed`` and ``options`` go to
    the scorer as in :func:`prune` (scored at the mask's sparsity)."""
    expected = layer_sizes(model, include_linear=include_linear)
    if mask.sizes != expected:
        raise ValueError(f"within_layers: the mask's layers {mask.sizes} are not the model's prunable layers "
                         f"{expected} (include_linear={include_linear})")
    scores = score(model, strategy, mask.sparsity, seed=seed, include_linear=include_linear, **options)
    return select_per_layer(scores, mask.kept_per_layer())


def names() -> list[str]:
    return SCORERS.names()


@dataclass(frozen=True)
class Method:
    """A pruning method as data: ``strategy`` (a registered scorer), its ``options`` (plain values,
    e.g. ``{"temperature": 0.5}``; stored sorted as a tuple of pairs so the method is hashable),
    ``min_channels_per_layer``, and ``include_linear``. ``name`` is a short id for tables
    (``"random-min1"``), ``label`` a reader's label for figures; both default to ones derived from
    the fields. Objects that are not data (a trained generator) are passed to :meth:`prune` instead."""

    strategy: str
    options: Any = ()
    min_channels_per_layer: int = 0
    include_linear: bool = False
    name: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        SCORERS.get(self.strategy)
        # numbers as floats: {"temperature": 1} and {"temperature": 1.0} are the same method
        opts = tuple(sorted((k, float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else v)
                            for k, v in dict(self.options).items()))
        _check_options(self.strategy, dict(opts))
        object.__setattr__(self, "options", opts)
        check_int("Method.min_channels_per_layer", self.min_channels_per_layer, 0)
        check_bool("Method.include_linear", self.include_linear)
        if not self.name:
            opt = "".join(f"-{k[0].upper()}{v:g}" if isinstance(v, float) else f"-{k}{v}" for k, v in opts)
            mins = f"-min{self.min_channels_per_layer}" if self.min_channels_per_layer else ""
            object.__setattr__(self, "name", f"{self.strategy}{opt}{mins}")
        if not self.label:
            opt = "".join(f" T={v:g}" if k == "temperature" else f" {k}={v:g}" if isinstance(v, float)
                          else f" {k}={v}" for k, v in opts)
            mins = f", min {self.min_channels_per_layer}/layer" if self.min_channels_per_layer else ""
            object.__setattr__(self, "label", f"{self.strategy}{opt}{mins}")

    @property
    def option_dict(self) -> dict[str, Any]:
        return dict(self.options)

    def prune(self, model: nn.Module, sparsity: float, *, seed: int, **runtime) -> ChannelMask:
        """:func:`prune` with this method's strategy, options and minimum (``runtime``: objects such
        as ``generator=``)."""
        return prune(model, self.strategy, sparsity, seed=seed,
                     min_channels_per_layer=self.min_channels_per_layer,
                     include_linear=self.include_linear, **self.option_dict, **runtime)

    def labels(self) -> dict[str, Any]:
        """The columns a result row carries for this method."""
        return {"method": self.name, "label": self.label, "strategy": self.strategy,
                "min_channels_per_layer": self.min_channels_per_layer,
                "temperature": self.option_dict.get("temperature")}
