"""Channel features: every prunable channel of *any* network described by numbers that name no
channel index, so what is learnt on one network can be applied to another.

*Weight features* (:data:`WEIGHT_FEATURES`, from the weights alone): the log of a channel's mean |w|
standardised and ranked within its layer and across the network (ranks in [0, 1], 0 = smallest), the
spread of its weights and its |bias| standardised within the layer, and the layer's relative depth,
width (log₂ and share of all channels), fan-in and kind.

*Image features* (:data:`IMAGE_FEATURES`, from one forward/backward pass of the model over a batch of
input images, see :func:`channel_statistics`): mean post-ReLU activation, share of non-positive
outputs, first-order Taylor importance, the weight mass a channel sends into the next layer and the
HRank feature-map rank, each standardised (``_z_layer``) and ranked (``_rank_layer``, ties averaged)
within its layer; ``act_zero_share`` is kept raw in [0, 1].
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from ..core.masks import prunable_layers
from ..core.store import config_digest, weights_digest

#: Bump whenever :func:`channel_features` changes; a saved generator of another version won't load.
#: Version 2 adds :data:`IMAGE_FEATURES` (issue 13); the weight features are unchanged.
FEATURE_VERSION = 2
#: The features computed from the weights alone (version 1's full list), in column order.
WEIGHT_FEATURES: tuple[str, ...] = ("l1_z_layer", "l1_rank_layer", "l1_z_net", "l1_rank_net", "std_z_layer",
                                    "bias_z_layer", "depth", "log_width", "width_share", "log_fan_in",
                                    "is_linear")
#: The features that need the model's forward pass over a batch of images (:func:`channel_statistics`).
IMAGE_FEATURES: tuple[str, ...] = ("act_mean_z_layer", "act_mean_rank_layer", "act_zero_share",
                                   "taylor_z_layer", "taylor_rank_layer", "out_mass_z_layer",
                                   "out_mass_rank_layer", "hrank_z_layer", "hrank_rank_layer")
#: Every feature :func:`channel_features` computes, in column order.
FEATURES: tuple[str, ...] = WEIGHT_FEATURES + IMAGE_FEATURES
#: Raw per-channel statistics behind :data:`IMAGE_FEATURES` (columns of :func:`channel_statistics`).
STATISTICS: tuple[str, ...] = ("act_mean", "act_zero_share", "taylor", "out_mass", "hrank")
#: Images per forward/backward chunk, and images whose feature maps HRank reads.
_CHUNK, _HRANK_IMAGES = 256, 64
#: Singular values below this share of a map's largest count as 0 in HRank: far above float32
#: round-off (~3e-6 for 28×28), so a rank does not change with the CPU's arithmetic.
_HRANK_RTOL = 1e-4


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
                        "channel_features(model, inputs=...) or features_of_layers(layers, model=model))")
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


def _zscore(v: torch.Tensor) -> torch.Tensor:
    std = v.std(unbiased=False) if v.numel() > 1 else torch.tensor(0.0)
    return (v - v.mean()) / std if std > 1e-12 else torch.zeros_like(v)


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


# ---------------------------------------------------------------------------------- image statistics
def _model_digest(model: nn.Module) -> str:
    arch = f"{type(model).__module__}.{type(model).__qualname__}|{model!r}"
    return config_digest(arch) + weights_digest(model, n=64)


class _LRU:
    """A small least-recently-used memo (``maxsize`` entries)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize, self._data = maxsize, OrderedDict()

    def get(self, key):
        if key not in self._data:
            return None
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key, value) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


#: Memo of :func:`channel_statistics`, keyed by (architecture + weights digest, layer names, inputs digest).
_STATS_CACHE = _LRU(32)


def clear_cache() -> None:
    """Forget every memoised image statistic (they are recomputed on the next call)."""
    _STATS_CACHE.clear()


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


class _EvalMode:
    """Every module in eval mode inside the block; each module's own training flag restored after."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.flags = model, [(m, m.training) for m in model.modules()]

    def __enter__(self):
        self.model.eval()
        return self.model

    def __exit__(self, *exc) -> None:
        for m, flag in self.flags:
            m.training = flag


def _takes_mnist_images(model: nn.Module) -> bool:
    """Whether the first Conv2d reads 1 channel and a forward of one 1×28×28 zero image succeeds."""
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is None or first.in_channels != 1:
        return False
    with _EvalMode(model), torch.no_grad():
        try:
            model(torch.zeros(1, 1, 28, 28, device=_device(model)))
        except (RuntimeError, ValueError, TypeError):  # shapes don't fit: the network wants other inputs
            return False
    return True


def _resolve_inputs(model: nn.Module, inputs) -> torch.Tensor:
    if inputs is None:
        if not _takes_mnist_images(model):
            raise ValueError(f"image channel features of {type(model).__name__} need the `inputs` argument "
                             "(an (N, C, H, W) float tensor of images): the input shape this network "
                             "wants is unknown (only networks taking 1×28×28 images default to "
                             "prunegan.data.default_inputs())")
        from ..data import default_inputs  # data imports torchvision lazily; keep features light to import
        return default_inputs()
    if (not isinstance(inputs, torch.Tensor) or inputs.ndim != 4 or not inputs.is_floating_point()
            or len(inputs) == 0):
        what = (f"a {inputs.dtype} tensor of shape {tuple(inputs.shape)}" if isinstance(inputs, torch.Tensor)
                else type(inputs).__name__)
        raise ValueError(f"inputs must be a non-empty (N, C, H, W) float tensor of images, got {what}")
    if not torch.isfinite(inputs).all():
        raise ValueError("inputs must be finite (it holds NaN or inf)")
    return inputs


def _reader_mass(layer: nn.Module, reader: nn.Module | None) -> torch.Tensor:
    """``(C,)`` sum of |w| of ``reader``'s weights that read each output channel of ``layer``;
    zeros when there is no reader or its input width does not match (unknown connectivity)."""
    c = layer.out_channels if isinstance(layer, nn.Conv2d) else layer.out_features
    if reader is None:
        return torch.zeros(c)
    w = reader.weight.detach().to("cpu", torch.float64).abs()
    if isinstance(reader, nn.Conv2d):
        if reader.in_channels != c:
            return torch.zeros(c)
        g = reader.groups
        # (out, in/g, kh, kw) -> (g, out/g, in/g, kh*kw): group k's outputs read inputs k*in/g ...
        return w.reshape(g, w.shape[0] // g, w.shape[1], -1).sum((1, 3)).reshape(c).to(torch.float32)
    if reader.in_features % c:
        return torch.zeros(c)
    # a flattened (C, H, W) map: channel c owns columns [c·H·W, (c+1)·H·W)
    return w.reshape(w.shape[0], c, -1).sum((0, 2)).to(torch.float32)


def _compute_statistics(model: nn.Module, layers: Mapping[str, nn.Module], inputs: torch.Tensor):
    targets = {id(m): name for name, m in layers.items()}
    order: list[nn.Module] = []  # Conv2d / Linear modules in the order they first run
    captured: dict[str, list[torch.Tensor]] = {}

    def hook(module, args, out):
        if all(m is not module for m in order):
            order.append(module)
        name = targets.get(id(module))
        if name is not None:
            captured.setdefault(name, []).append(out)

    weighted = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    handles = [m.register_forward_hook(hook) for m in weighted]
    dev = _device(model)
    sums = {n: {k: torch.zeros(m.weight.shape[0], dtype=torch.float64)
                for k in ("act", "nonpos", "taylor", "rank")}
            for n, m in layers.items()}
    n_pos = dict.fromkeys(layers, 0)
    n_rank = dict.fromkeys(layers, 0)
    try:
        with _EvalMode(model):
            for start in range(0, len(inputs), _CHUNK):
                captured.clear()
                x = inputs[start:start + _CHUNK].to(dev, torch.float32).clone().requires_grad_(True)
                with torch.enable_grad():
                    logits = model(x)
                    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
                        raise ValueError(f"{type(model).__name__} must return (N, classes) logits for the "
                                         "Taylor feature, got "
                                         f"{getattr(logits, 'shape', type(logits).__name__)}")
                    missing = [n for n in layers if n not in captured]
                    if missing:
                        raise ValueError(f"layers {missing} did not run in "
                                         f"{type(model).__name__}'s forward pass")
                    twice = [n for n, outs in captured.items() if len(outs) > 1]
                    if twice:
                        raise ValueError(f"layers {twice} run more than once per forward pass: their image "
                                         "features are undefined")
                    outs = [captured[n][0] for n in layers]
                    loss = F.cross_entropy(logits, logits.detach().argmax(1), reduction="sum")
                    grads = torch.autograd.grad(loss, outs, allow_unused=True)
                with torch.no_grad():
                    for (name, m), z, g in zip(layers.items(), outs, grads):
                        z = z.detach()
                        g = torch.zeros_like(z) if g is None else g.detach()
                        if isinstance(m, nn.Conv2d):  # (N, C, H, W)
                            dims = (0, 2, 3)
                            if n_rank[name] < _HRANK_IMAGES:
                                k = min(_HRANK_IMAGES - n_rank[name], z.shape[0])
                                maps = z[:k].clamp_min(0).to(torch.float64)  # (k, C, H, W)
                                ranks = torch.linalg.matrix_rank(maps, rtol=_HRANK_RTOL)  # (k, C)
                                sums[name]["rank"] += ranks.sum(0).to("cpu", torch.float64)
                                n_rank[name] += k
                        else:  # (..., C): channels last
                            dims = tuple(range(z.ndim - 1))
                        s = sums[name]
                        s["act"] += z.clamp_min(0).sum(dims, dtype=torch.float64).cpu()
                        s["nonpos"] += (z <= 0).sum(dims).to("cpu", torch.float64)
                        s["taylor"] += (z * g).abs().sum(dims, dtype=torch.float64).cpu()
                        n_pos[name] += z.numel() // z.shape[1 if isinstance(m, nn.Conv2d) else -1]
    finally:
        for h in handles:
            h.remove()
        captured.clear()
    stats = {}
    for name, m in layers.items():
        i = next(j for j, mm in enumerate(order) if mm is m)
        reader = order[i + 1] if i + 1 < len(order) else None
        s = sums[name]
        stats[name] = {
            "act_mean": (s["act"] / n_pos[name]).to(torch.float32),
            "act_zero_share": (s["nonpos"] / n_pos[name]).to(torch.float32),
            "taylor": (s["taylor"] / n_pos[name]).to(torch.float32),
            "out_mass": _reader_mass(m, reader),
            "hrank": ((s["rank"] / n_rank[name]).to(torch.float32) if n_rank[name]
                      else torch.zeros(len(s["rank"]))),
        }
    return stats


def _statistics(model: nn.Module, layers: Mapping[str, nn.Module],
                inputs) -> dict[str, dict[str, torch.Tensor]]:
    """``{layer: {statistic: (C,) tensor}}`` for :data:`STATISTICS`, memoised."""
    modules = list(model.modules())
    foreign = [n for n, m in layers.items() if all(m is not mm for mm in modules)]
    if foreign:
        raise ValueError(f"layers {foreign} are not modules of the given model {type(model).__name__}")
    inputs = _resolve_inputs(model, inputs)
    key = (_model_digest(model), tuple(layers), weights_digest([inputs], n=64))
    hit = _STATS_CACHE.get(key)
    if hit is None:
        hit = _compute_statistics(model, layers, inputs)
        _STATS_CACHE.put(key, hit)
    return {n: {k: v.clone() for k, v in d.items()} for n, d in hit.items()}


def channel_statistics(model: nn.Module, *, include_linear: bool = False, inputs: torch.Tensor | None = None
                       ) -> pd.DataFrame:
    """Raw per-channel statistics behind :data:`IMAGE_FEATURES`, one row per prunable channel
    (``layer``, ``channel``, then :data:`STATISTICS`), from the model in eval mode over ``inputs``
    (``(N, C, H, W)`` floats; ``None``: :func:`prunegan.data.default_inputs` for networks taking
    1×28×28 images, else ``ValueError`` naming ``inputs``). ``a`` is a layer's output (bias included):

    - ``act_mean``: mean of ReLU(a) over images and positions; ``act_zero_share``: share of a ≤ 0;
    - ``taylor``: mean over images and positions of |a · ∂L/∂a|, L the summed cross-entropy against
      the model's own predicted labels (no labels needed);
    - ``out_mass``: Σ|w| of the next Conv2d/Linear to run that reads the channel (a Linear after a
      flatten: the channel's block of input columns); 0 if none runs after it or its input width
      does not match;
    - ``hrank``: mean matrix rank of the channel's ReLU(a) H×W map over the first 64 images
      (singular values below 1e-4 of the largest count as 0); 0 for Linear units (they have no map).

    The model's weights, gradients, modes and the global RNG are left as they were; results are
    memoised by a digest of the architecture, weights and inputs (:func:`clear_cache`)."""
    layers = prunable_layers(model, include_linear=include_linear)
    stats = _statistics(model, layers, inputs)
    df = pd.DataFrame({k: torch.cat([stats[n][k] for n in layers]).numpy() for k in STATISTICS})
    sizes = [m.weight.shape[0] for m in layers.values()]
    df.insert(0, "layer", np.repeat(list(layers), sizes))
    df.insert(1, "channel", np.concatenate([np.arange(s) for s in sizes]))
    return df


def _image_columns(stats: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    cols = {"act_zero_share": stats["act_zero_share"]}
    for k in ("act_mean", "taylor", "out_mass", "hrank"):
        cols[f"{k}_z_layer"] = _zscore(stats[k])
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
                       inputs: torch.Tensor | None = None,
                       features: Sequence[str] | None = None) -> ChannelFeatures:
    """The ``features`` (names from :data:`FEATURES`) of every output channel of ``layers`` (Conv2d /
    Linear modules, in order) as ``(n_channels, n_features)`` columns in the order asked.

    Image features need the network's forward pass, so they need ``model`` (the network the layers
    belong to; ``inputs`` as in :func:`channel_statistics`). ``features=None`` means every feature
    that can be computed: :data:`FEATURES` with ``model``, :data:`WEIGHT_FEATURES` without.
    Asking for an image feature without ``model`` raises ``ValueError`` naming ``model``."""
    if not layers:
        raise ValueError("no prunable layer given: channel features need at least one Conv2d or Linear layer")
    if features is None:
        features = FEATURES if model is not None else WEIGHT_FEATURES
    features = _check_names(features)
    need_images = [f for f in features if f in IMAGE_FEATURES]
    if need_images and model is None:
        raise ValueError(f"image features {need_images} need the network: pass model= (and inputs=) to "
                         "features_of_layers, or call channel_features(model, inputs=...)")
    if inputs is not None and model is None:
        raise ValueError("inputs were given without model=: image features need the network's forward pass")
    stats = _statistics(model, layers, inputs) if need_images else None
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
        if stats is not None:
            cols.update(_image_columns(stats[name]))
        per_layer.append(torch.stack([cols[f] for f in features], 1))
        start += c
    x = torch.cat(per_layer).to(torch.float32)
    layer_index = torch.repeat_interleave(torch.arange(n_layers), torch.tensor(sizes))
    return ChannelFeatures(features, tuple(names), tuple(sizes), x, layer_index)


def channel_features(model: nn.Module, *, include_linear: bool = False, inputs: torch.Tensor | None = None,
                     features: Sequence[str] | None = None) -> ChannelFeatures:
    """``features`` (default: all of :data:`FEATURES`) of every prunable channel of ``model``.

    Image features read ``inputs`` (``(N, C, H, W)`` floats; ``None``: the embedded validation
    images, :func:`prunegan.data.default_inputs`, for networks taking 1×28×28 images, otherwise a
    ``ValueError`` naming ``inputs``); asking only for :data:`WEIGHT_FEATURES` needs no inputs.
    Raises ``ValueError`` if the model has no prunable layer."""
    return features_of_layers(prunable_layers(model, include_linear=include_linear), model=model,
                              inputs=inputs, features=features)
