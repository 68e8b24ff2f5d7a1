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

*Probe features* (:data:`PROBE_FEATURES`, candidates of issue 20; forward passes only, over the images
*and their labels*): the loss increase when the channel alone is removed (the exact ablation "oracle"
of Molchanov et al.) and the accuracy when it is the only channel kept in its layer, standardised and
ranked within the layer like the image features (the accuracy's spread is floored at its binomial
standard error on the N images, so accuracies a few images apart do not become large z values).
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
#: Raw per-channel statistics behind :data:`PROBE_FEATURES` (they need labels).
PROBE_STATISTICS: tuple[str, ...] = ("ablation_loss", "only_kept_acc")
#: Raw per-channel statistics behind :data:`IMAGE_FEATURES` (columns of :func:`channel_statistics`).
STATISTICS: tuple[str, ...] = ("act_mean", "act_zero_share", "taylor", "out_mass", "hrank") + PROBE_STATISTICS
#: Images per forward/backward chunk, and images whose feature maps HRank reads.
_CHUNK, _HRANK_IMAGES = 256, 64
#: Rows (images × probe variants) and values of the probed layer's output per probe forward pass.
_PROBE_ROWS, _PROBE_VALUES = 16384, 2 ** 24
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


#: Memo of :func:`channel_statistics`, keyed by (architecture + weights digest, layer names, inputs digest);
#: the probe statistics have their own, keyed by the labels digest too.
_STATS_CACHE, _PROBE_CACHE = _LRU(32), _LRU(32)


def clear_cache() -> None:
    """Forget every memoised image statistic (they are recomputed on the next call)."""
    _STATS_CACHE.clear()
    _PROBE_CACHE.clear()


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


def _check_labels(labels, inputs: torch.Tensor) -> torch.Tensor:
    """``labels`` as a CPU int64 ``(N,)`` tensor of class indices ≥ 0, one per image of ``inputs``."""
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"labels must be an (N,) int64 tensor of class indices, got {type(labels).__name__}")
    if (labels.ndim != 1 or labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex()
            or len(labels) != len(inputs)):
        raise ValueError(f"labels must be an (N,) int64 tensor of class indices with N = {len(inputs)} (one "
                         f"per image of inputs), got a {labels.dtype} tensor of shape {tuple(labels.shape)}")
    labels = labels.to("cpu", torch.int64)
    if len(labels) and int(labels.min()) < 0:
        raise ValueError(f"labels must be class indices >= 0, got {int(labels.min())}")
    return labels


def _resolve_labels(inputs_given: bool, inputs: torch.Tensor, labels) -> torch.Tensor | None:
    """The labels of ``inputs``: ``labels`` checked; the default images' labels when neither was given;
    ``None`` when only ``inputs`` was given (the probe features cannot be computed)."""
    if labels is None:
        if inputs_given:
            return None
        from ..data import default_labels
        return default_labels()
    if not inputs_given:
        raise ValueError("labels were given without inputs: pass the images they label as inputs= "
                         "(without both, the embedded validation images and their labels are used)")
    return _check_labels(labels, inputs)


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


def _probe_masks(c: int) -> torch.Tensor:
    """``(2C + 1, C)`` channel masks: the intact layer, each channel alone removed, each alone kept."""
    eye = torch.eye(c)
    return torch.cat([torch.ones(1, c), 1 - eye, eye])


def _compute_probes(model: nn.Module, layers: Mapping[str, nn.Module], inputs: torch.Tensor,
                    labels: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
    """:data:`PROBE_STATISTICS` of every channel of ``layers``: each variant of :func:`_probe_masks`
    multiplies the layer's output channels (a forward hook). The layer's output is repeated once per
    variant, so only what runs after it sees the larger batch; a network where that does not fit
    (an earlier tensor read after the layer) gets its input repeated instead."""
    dev = _device(model)
    out = {}
    state: dict = {}

    def hook(module, args, z):
        state["calls"] += 1
        masks, n = state["masks"], state["n"]
        k = len(masks)
        ch = 1 if isinstance(module, nn.Conv2d) else z.ndim - 1
        shape = [k] + [1] * z.ndim
        shape[1 + ch] = masks.shape[1]
        if z.shape[0] == n:
            z = z.unsqueeze(0)
        elif z.shape[0] == k * n:
            z = z.reshape(k, n, *z.shape[1:])
        else:
            raise ValueError(f"unexpected batch of {z.shape[0]} rows at a probed layer")
        return (z * masks.view(shape).to(z.dtype)).reshape(k * n, *z.shape[2:])

    def forward(x: torch.Tensor, k: int) -> torch.Tensor:
        for repeat in (False, True):
            state["calls"] = 0
            try:
                logits = model(x.repeat(k, *[1] * (x.ndim - 1)) if repeat else x)
            except RuntimeError:
                if repeat:
                    raise
                continue
            if state["calls"] > 1:
                raise ValueError("a probed layer runs more than once per forward pass: its probe "
                                 "features are undefined")
            if isinstance(logits, torch.Tensor) and logits.ndim == 2 and len(logits) == k * len(x):
                return logits
        raise ValueError(f"{type(model).__name__} must return (N, classes) logits for the probe features, "
                         f"got {getattr(logits, 'shape', type(logits).__name__)}")

    with _EvalMode(model), torch.no_grad():
        for name, m in layers.items():
            masks_all = _probe_masks(m.weight.shape[0]).to(dev)
            loss_delta = torch.zeros(len(masks_all) - 1, dtype=torch.float64)
            correct = torch.zeros(len(masks_all) - 1, dtype=torch.float64)
            size: dict = {}
            handle = m.register_forward_hook(lambda mod, a, z: size.update(values=z[0].numel()))
            try:
                model(inputs[:1].to(dev, torch.float32))
            finally:
                handle.remove()
            per_pass = min(_PROBE_ROWS, _PROBE_VALUES // max(1, size.get("values", 1)))
            handle = m.register_forward_hook(hook)
            try:
                for start in range(0, len(inputs), _CHUNK):
                    x = inputs[start:start + _CHUNK].to(dev, torch.float32)
                    y = labels[start:start + _CHUNK].to(dev)
                    n = len(x)
                    group = max(1, per_pass // n - 1)  # variants per pass besides the intact one
                    for g in range(1, len(masks_all), group):
                        idx = torch.cat([torch.zeros(1, dtype=torch.long),
                                         torch.arange(g, min(g + group, len(masks_all)))])
                        state.update(masks=masks_all[idx], n=n)
                        logits = forward(x, len(idx))
                        if int(y.max()) >= logits.shape[1]:
                            raise ValueError(f"labels must be class indices below the network's "
                                             f"{logits.shape[1]} outputs, got {int(y.max())}")
                        loss = F.cross_entropy(logits, y.repeat(len(idx)), reduction="none").view(len(idx), n)
                        hits = (logits.argmax(1) == y.repeat(len(idx))).view(len(idx), n)
                        # against the intact rows of the same pass: exactly 0 when nothing changes
                        loss_delta[idx[1:] - 1] += (loss[1:] - loss[:1]).sum(1, dtype=torch.float64).cpu()
                        correct[idx[1:] - 1] += hits[1:].sum(1).to("cpu", torch.float64)
            finally:
                handle.remove()
            c = m.weight.shape[0]
            acc = correct[c:] / len(inputs)
            p = float(acc.mean())
            out[name] = {"ablation_loss": (loss_delta[:c] / len(inputs)).to(torch.float32),
                         "only_kept_acc": acc.to(torch.float32),
                         # binomial standard error of an accuracy near the layer's mean on N images
                         "only_kept_acc_se": torch.full((c,), math.sqrt(p * (1 - p) / len(inputs)))}
    return out


def _statistics(model: nn.Module, layers: Mapping[str, nn.Module], inputs, labels=None, *,
                probes: bool = False) -> dict[str, dict[str, torch.Tensor]]:
    """``{layer: {statistic: (C,) tensor}}`` for :data:`STATISTICS` (without :data:`PROBE_STATISTICS`
    unless ``probes``), memoised. ``probes`` with ``inputs`` but no ``labels``: ``ValueError``."""
    modules = list(model.modules())
    foreign = [n for n, m in layers.items() if all(m is not mm for mm in modules)]
    if foreign:
        raise ValueError(f"layers {foreign} are not modules of the given model {type(model).__name__}")
    inputs_given = inputs is not None
    inputs = _resolve_inputs(model, inputs)
    labels = _resolve_labels(inputs_given, inputs, labels)
    if probes and labels is None:
        raise ValueError(f"the probe features {list(PROBE_FEATURES)} need labels=: an (N,) int64 tensor of "
                         "the class of each image of inputs")
    key = (_model_digest(model), tuple(layers), weights_digest([inputs], n=64))
    hit = _STATS_CACHE.get(key)
    if hit is None:
        hit = _compute_statistics(model, layers, inputs)
        _STATS_CACHE.put(key, hit)
    stats = {n: {k: v.clone() for k, v in d.items()} for n, d in hit.items()}
    if probes:
        pkey = key + (weights_digest([labels], n=64),)
        phit = _PROBE_CACHE.get(pkey)
        if phit is None:
            phit = _compute_probes(model, layers, inputs, labels)
            _PROBE_CACHE.put(pkey, phit)
        for n, d in phit.items():
            stats[n].update({k: v.clone() for k, v in d.items()})
    return stats


def channel_statistics(model: nn.Module, *, include_linear: bool = False, inputs: torch.Tensor | None = None,
                       labels: torch.Tensor | None = None) -> pd.DataFrame:
    """Raw per-channel statistics behind :data:`IMAGE_FEATURES`, one row per prunable channel
    (``layer``, ``channel``, then :data:`STATISTICS`), from the model in eval mode over ``inputs``
    (``(N, C, H, W)`` floats; ``None``: :func:`prunegan.data.default_inputs` for networks taking
    1×28×28 images, else ``ValueError`` naming ``inputs``) and ``labels`` (``(N,)`` int64 class
    indices below the number of outputs; with neither: :func:`prunegan.data.default_labels`). Given
    ``inputs`` without ``labels``, the :data:`PROBE_STATISTICS` columns are left out (they need labels).
    ``a`` is a layer's output (bias included):

    - ``act_mean``: mean of ReLU(a) over images and positions; ``act_zero_share``: share of a ≤ 0;
    - ``taylor``: mean over images and positions of |a · ∂L/∂a|, L the summed cross-entropy against
      the model's own predicted labels (no labels needed);
    - ``out_mass``: Σ|w| of the next Conv2d/Linear to run that reads the channel (a Linear after a
      flatten: the channel's block of input columns); 0 if none runs after it or its input width
      does not match;
    - ``hrank``: mean matrix rank of the channel's ReLU(a) H×W map over the first 64 images
      (singular values below 1e-4 of the largest count as 0); 0 for Linear units (they have no map);
    - ``ablation_loss`` (nats): mean cross-entropy against ``labels`` with the channel's output zeroed
      minus that of the intact network (exactly 0 for a channel whose output is already 0), the
      exact ablation "oracle" of Molchanov et al.;
    - ``only_kept_acc`` (fraction in [0, 1]): accuracy on ``labels`` with every *other* channel of the
      layer zeroed.

    The probes cost one forward pass of the layers after the probed one per channel and image
    (batched). The model's weights, gradients, modes and the global RNG are left as they were;
    results are memoised by a digest of the architecture, weights, inputs and labels
    (:func:`clear_cache`)."""
    layers = prunable_layers(model, include_linear=include_linear)
    probes = labels is not None or inputs is None
    stats = _statistics(model, layers, inputs, labels, probes=probes)
    df = pd.DataFrame({k: torch.cat([stats[n][k] for n in layers]).numpy() for k in STATISTICS
                       if probes or k not in PROBE_STATISTICS})
    sizes = [m.weight.shape[0] for m in layers.values()]
    df.insert(0, "layer", np.repeat(list(layers), sizes))
    df.insert(1, "channel", np.concatenate([np.arange(s) for s in sizes]))
    return df


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
    stats = (_statistics(model, layers, inputs, labels, probes=any(f in PROBE_FEATURES for f in features))
             if need_images else None)
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
