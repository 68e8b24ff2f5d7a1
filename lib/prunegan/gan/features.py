"""Channel features: every prunable channel of *any* network described from its weights alone.

The log of its mean |w| standardised and ranked within its layer and across the network (ranks in
[0, 1], 0 = smallest), the spread of its weights and its |bias| standardised within the layer, and the
layer's relative depth, width (log₂ and share of all channels), fan-in and kind. No feature names a
channel index, so what is learnt on one network can be applied to another.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from ..core.masks import prunable_layers

#: Bump whenever :func:`channel_features` changes; a saved generator of another version won't load.
FEATURE_VERSION = 1
#: Every feature :func:`channel_features` computes, in column order.
FEATURES: tuple[str, ...] = ("l1_z_layer", "l1_rank_layer", "l1_z_net", "l1_rank_net", "std_z_layer",
                             "bias_z_layer", "depth", "log_width", "width_share", "log_fan_in", "is_linear")


@dataclass(frozen=True, eq=False)
class ChannelFeatures:
    """Features of every prunable channel of one network: ``x`` is ``(n_channels, n_features)``
    in layer order (the order of :meth:`ChannelMask.to_vector`), ``layer_index`` the layer of each
    channel."""

    names: tuple[str, ...]
    layers: tuple[str, ...]
    sizes: tuple[int, ...]
    x: torch.Tensor
    layer_index: torch.Tensor

    @property
    def n_channels(self) -> int:
        return int(sum(self.sizes))

    def size_dict(self) -> dict[str, int]:
        return dict(zip(self.layers, self.sizes))

    def select(self, names) -> "ChannelFeatures":
        """Only the named feature columns, in the given order."""
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise ValueError(f"unknown channel features {unknown}; valid: {', '.join(self.names)}")
        idx = [self.names.index(n) for n in names]
        return ChannelFeatures(tuple(names), self.layers, self.sizes, self.x[:, idx], self.layer_index)

    def pool(self) -> torch.Tensor:
        """``(n_layers, n_channels)`` matrix that averages a per-channel quantity over each layer."""
        sizes = torch.tensor(self.sizes, dtype=torch.float32)
        onehot = F.one_hot(self.layer_index, len(self.sizes)).T.to(torch.float32)
        return onehot / sizes[:, None]

    def frame(self) -> pd.DataFrame:
        """Tidy table: one row per channel (``layer``, ``channel``, one column per feature)."""
        df = pd.DataFrame(self.x.numpy(), columns=list(self.names))
        df.insert(0, "layer", np.repeat(self.layers, self.sizes))
        df.insert(1, "channel", np.concatenate([np.arange(s) for s in self.sizes]))
        return df


def _zscore(v: torch.Tensor) -> torch.Tensor:
    std = v.std(unbiased=False) if v.numel() > 1 else torch.tensor(0.0)
    return (v - v.mean()) / std if std > 1e-12 else torch.zeros_like(v)


def _rank01(v: torch.Tensor) -> torch.Tensor:
    """Rank in [0, 1] (0 = smallest; ties by position); 0.5 for a single value."""
    if v.numel() == 1:
        return torch.full_like(v, 0.5)
    ranks = torch.argsort(torch.argsort(v, stable=True), stable=True).to(torch.float32)
    return ranks / (v.numel() - 1)


def features_of_layers(layers: Mapping[str, nn.Module]) -> ChannelFeatures:
    """:data:`FEATURES` of every output channel of ``layers`` (Conv2d / Linear modules, in order)."""
    if not layers:
        raise ValueError("no prunable layer given: channel features need at least one Conv2d or Linear layer")
    names, sizes, per_layer, log_l1_all = list(layers), [], [], []
    n_layers = len(layers)
    for m in layers.values():
        w = m.weight.detach().to("cpu", torch.float32).flatten(1)
        sizes.append(w.shape[0])
        log_l1_all.append(torch.log(w.abs().mean(1).clamp_min(1e-12)))
    n_total = sum(sizes)
    net_l1 = torch.cat(log_l1_all)
    net_z, net_rank = _zscore(net_l1), _rank01(net_l1)
    start = 0
    for depth, ((name, m), log_l1) in enumerate(zip(layers.items(), log_l1_all)):
        w = m.weight.detach().to("cpu", torch.float32).flatten(1)
        c = w.shape[0]
        bias = m.bias.detach().to("cpu", torch.float32).abs() if m.bias is not None else torch.zeros(c)
        cols = {
            "l1_z_layer": _zscore(log_l1),
            "l1_rank_layer": _rank01(log_l1),
            "l1_z_net": net_z[start:start + c],
            "l1_rank_net": net_rank[start:start + c],
            "std_z_layer": _zscore(torch.log(w.std(1, unbiased=False).clamp_min(1e-12))),
            "bias_z_layer": _zscore(bias),
            "depth": torch.full((c,), depth / (n_layers - 1) if n_layers > 1 else 0.0),
            "log_width": torch.full((c,), math.log2(c) / 10),
            "width_share": torch.full((c,), c / n_total),
            "log_fan_in": torch.full((c,), math.log2(max(w.shape[1], 1)) / 12),
            "is_linear": torch.full((c,), float(isinstance(m, nn.Linear))),
        }
        per_layer.append(torch.stack([cols[f] for f in FEATURES], 1))
        start += c
    x = torch.cat(per_layer).to(torch.float32)
    layer_index = torch.repeat_interleave(torch.arange(n_layers), torch.tensor(sizes))
    return ChannelFeatures(FEATURES, tuple(names), tuple(sizes), x, layer_index)


def channel_features(model: nn.Module, *, include_linear: bool = False) -> ChannelFeatures:
    """Features of every prunable channel of ``model`` (see :data:`FEATURES` and the module doc).
    Raises ``ValueError`` if the model has no prunable layer."""
    return features_of_layers(prunable_layers(model, include_linear=include_linear))
