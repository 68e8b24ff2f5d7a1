"""Channel features: every prunable channel of *any* network described by numbers that name no
channel index, so what is learnt on one network can be applied to another.

*Weight features* (:data:`WEIGHT_FEATURES`, from the weights alone): the log of a channel's mean |w|
standardised and ranked within its layer and across the network (ranks in [0, 1], 0 = smallest), the
spread of its weights and its |bias| standardised within the layer, and the layer's relative depth,
width (log₂ and share of all channels), fan-in and kind.

*Image features* (:data:`IMAGE_FEATURES`, from one forward/backward pass of the model over a batch of
input images: the raw importance statistics of :mod:`prunegan.pruning.importance`, see
:func:`~prunegan.pruning.importance.channel_statistics`, re-exported here with :data:`STATISTICS`,
:data:`PROBE_STATISTICS` and :func:`clear_cache`): mean post-ReLU activation, share of non-positive
outputs, first-order Taylor importance, the weight mass a channel sends into the next layer and the
HRank feature-map rank, each standardised (``_z_layer``) and ranked (``_rank_layer``, ties averaged)
within its layer; ``act_zero_share`` is kept raw in [0, 1].

*Probe features* (:data:`PROBE_FEATURES`, candidates of issue 20; forward passes only, over the images
*and their labels*): the loss increase when the channel alone is removed (the exact ablation "oracle"
of Molchanov et al.) and the accuracy when it is the only channel kept in its layer, standardised and
ranked within the layer like the image features (the accuracy's spread is floored at its binomial
standard error on the N images, so accuracies a few images apart do not become large z values).

This module holds the catalogue and the standardisation; the statistics are computed (and memoised)
in :mod:`prunegan.pruning.importance`, the weights' mean |w| by :func:`prunegan.pruning.scorers.l1_norms`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from ..core.masks import prunable_layers
from ..pruning.importance import (PROBE_STATISTICS, STATISTICS, channel_statistics, clear_cache,  # noqa: F401
                                  layer_statistics)
from ..pruning.scorers import l1_norms

#: Bump whenever :func:`channel_features` changes; a saved generator of another version won't load.
#: Version 2 adds :data:`IMAGE_FEATURES` (issue 13); the weight features are unchanged.
FEATURE_VERSION = 2
#: The features computed from the weights alone (version 1's full list), in column order.
WEIGHT_FEATURES: tuple[str, ...] = ("l1_z_layer", "l1_rank_layer", "l1_z_net", "l1_rank_net", "std_z_layer",
                                    "bias_z_layer", "depth", "log_width", "width_share", "log_fan_in",
                                    "is_linear")
#: The image features that also need the images' labels: forward-only probes (:func:`channel_statistics`).
PROBE_FEATURES: tuple[str, ...] = ("ablation_loss_z_layer", "ablation_loss_rank_layer",
                                   "only_kept_acc_z_layer", "only_kept_acc_rank_layer")
#: The features that need the model's forward pass over a batch of images (:func:`channel_statistics`).
IMAGE_FEATURES: tuple[str, ...] = ("act_mean_z_layer", "act_mean_rank_layer", "act_zero_share",
                                   "taylor_z_layer", "taylor_rank_layer", "out_mass_z_layer",
                                   "out_mass_rank_layer", "hrank_z_layer", "hrank_rank_layer",
                                   *PROBE_FEATURES)
#: Every feature :func:`channel_features` computes, in column order.
FEATURES: tuple[str, ...] = WEIGHT_FEATURES + IMAGE_FEATURES
#: Features of a channel's layer (the same for every channel of it: the allocation across layers reads
#: them), and the features of the channel itself.
STRUCTURAL_FEATURES: tuple[str, ...] = ("depth", "log_width", "width_share", "log_fan_in", "is_linear")
CHANNEL_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f not in STRUCTURAL_FEATURES)


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
            hint = ""
            if all(n in IMAGE_FEATURES for n in unknown):
                hint = (" (image features need the model's forward pass: compute them with "
                        "channel_features(model, inputs=...) or features_of_layers(layers, model=model); "
                        "probe features also need labels=)")
            raise ValueError(f"unknown channel features {unknown}; valid: {', '.join(self.names)}{hint}")
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


def _zscore(v: torch.Tensor, floor: float = 0.0) -> torch.Tensor:
    """``(v − mean) / max(std, floor)``; zeros when the std is (nearly) 0."""
    std = v.std(unbiased=False) if v.numel() > 1 else torch.tensor(0.0)
    return (v - v.mean()) / max(std, floor) if std > 1e-12 else torch.zeros_like(v)


def _rank01(v: torch.Tensor) -> torch.Tensor:
    """Rank in [0, 1] (0 = smallest; ties by position); 0.5 for a single value."""
    if v.numel() == 1:
        return torch.full_like(v, 0.5)
    ranks = torch.argsort(torch.argsort(v, stable=True), stable=True).to(torch.float32)
    return ranks / (v.numel() - 1)


def _rank01_avg(v: torch.Tensor) -> torch.Tensor:
    """Rank in [0, 1] (0 = smallest) with ties given their average rank, so equal values (dead
    channels, full-rank maps) never get a rank from their position; 0.5 for a constant vector."""
    if v.numel() == 1:
        return torch.full_like(v, 0.5)
    uniq, inverse = torch.unique(v, sorted=True, return_inverse=True)
    counts = torch.bincount(inverse, minlength=len(uniq)).to(torch.float64)
    first = torch.cumsum(counts, 0) - counts  # 0-based rank of each distinct value's first member
    avg = first + (counts - 1) / 2
    return (avg[inverse] / (v.numel() - 1)).to(torch.float32)


# ---------------------------------------------------------------------------------- image features
def _image_columns(stats: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    cols = {"act_zero_share": stats["act_zero_share"]}
    for k in ("act_mean", "taylor", "out_mass", "hrank", *(p for p in PROBE_STATISTICS if p in stats)):
        # accuracies differing by a few images out of N are not standardised into large z values
        floor = float(stats["only_kept_acc_se"][0]) if k == "only_kept_acc" else 0.0
        cols[f"{k}_z_layer"] = _zscore(stats[k], floor)
        cols[f"{k}_rank_layer"] = _rank01_avg(stats[k])
    return cols


# ---------------------------------------------------------------------------------- features
def _check_names(features) -> tuple[str, ...]:
    if isinstance(features, str) or not isinstance(features, Sequence) or not features:
        raise ValueError(f"features must be a non-empty sequence of names from {FEATURES}, got {features!r}")
    unknown = [f for f in features if f not in FEATURES]
    if unknown or len(set(features)) != len(features):
        raise ValueError(f"features must be distinct names from {', '.join(FEATURES)}; got {list(features)}"
                         + (f" (unknown: {unknown})" if unknown else " (repeated names)"))
    return tuple(features)


def features_of_layers(layers: Mapping[str, nn.Module], *, model: nn.Module | None = None,
                       inputs: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                       features: Sequence[str] | None = None) -> ChannelFeatures:
    """The ``features`` (names from :data:`FEATURES`) of every output channel of ``layers`` (Conv2d /
    Linear modules, in order) as ``(n_channels, n_features)`` columns in the order asked.

    Image features need the network's forward pass, so they need ``model`` (the network the layers
    belong to; ``inputs`` and ``labels`` as in :func:`channel_statistics`). ``features=None`` means every
    feature that can be computed: :data:`FEATURES` with ``model`` (without :data:`PROBE_FEATURES` when
    ``inputs`` come without ``labels``), :data:`WEIGHT_FEATURES` without. Asking for an image feature
    without ``model`` raises ``ValueError`` naming ``model``; a probe feature with ``inputs`` but no
    ``labels``, one naming ``labels``."""
    if not layers:
        raise ValueError("no prunable layer given: channel features need at least one Conv2d or Linear layer")
    if features is None:
        features = WEIGHT_FEATURES if model is None else tuple(
            f for f in FEATURES if f not in PROBE_FEATURES or labels is not None or inputs is None)
    features = _check_names(features)
    need_images = [f for f in features if f in IMAGE_FEATURES]
    if need_images and model is None:
        raise ValueError(f"image features {need_images} need the network: pass model= (and inputs=) to "
                         "features_of_layers, or call channel_features(model, inputs=...)")
    if (inputs is not None or labels is not None) and model is None:
        raise ValueError(f"{'inputs' if inputs is not None else 'labels'} were given without model=: image "
                         "features need the network's forward pass")
    probes = any(f in PROBE_FEATURES for f in features)
    stats = layer_statistics(model, layers, inputs, labels, probes=probes) if need_images else None
    names, per_layer, n_layers = list(layers), [], len(layers)
    # mean |w| per channel: bitwise the float32 mean of the float32 weights for float32 CPU weights
    l1 = l1_norms(layers)
    log_l1_all = [torch.log(l1[n].to("cpu", torch.float32).clamp_min(1e-12)) for n in layers]
    sizes = [len(v) for v in log_l1_all]
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
        if stats is not None:
            cols.update(_image_columns(stats[name]))
        per_layer.append(torch.stack([cols[f] for f in features], 1))
        start += c
    x = torch.cat(per_layer).to(torch.float32)
    layer_index = torch.repeat_interleave(torch.arange(n_layers), torch.tensor(sizes))
    return ChannelFeatures(features, tuple(names), tuple(sizes), x, layer_index)


def channel_features(model: nn.Module, *, include_linear: bool = False, inputs: torch.Tensor | None = None,
                     labels: torch.Tensor | None = None,
                     features: Sequence[str] | None = None) -> ChannelFeatures:
    """``features`` (default: all of :data:`FEATURES` that can be computed) of every prunable channel
    of ``model``.

    Image features read ``inputs`` (``(N, C, H, W)`` floats; ``None``: the embedded validation
    images, :func:`prunegan.data.default_inputs`, for networks taking 1×28×28 images, otherwise a
    ``ValueError`` naming ``inputs``); :data:`PROBE_FEATURES` also read ``labels`` (``(N,)`` int64; with
    neither given, :func:`prunegan.data.default_labels`; given ``inputs`` without ``labels`` the default
    leaves the probe features out and asking for one raises ``ValueError`` naming ``labels``); asking
    only for :data:`WEIGHT_FEATURES` needs no inputs. Raises ``ValueError`` if the model has no
    prunable layer."""
    return features_of_layers(prunable_layers(model, include_linear=include_linear), model=model,
                              inputs=inputs, labels=labels, features=features)
