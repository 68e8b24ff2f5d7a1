"""Image-based importance statistics of every output channel: activations, first-order Taylor, the
weight mass a channel sends on, HRank, and the forward-only probes (the exact ablation "oracle" and
the only-kept accuracy), computed over a batch of images (and their labels for the probes).

They are importance criteria in Torch-Pruning's sense: :mod:`prunegan.pruning.scorers` registers each
as a scorer (``taylor``, ``hrank``, ``act-mean``, …), and the GAN's image features
(:mod:`prunegan.gan.features`) standardise them within each layer. Images default to the embedded
validation images (:func:`prunegan.data.default_inputs`) and their labels
(:func:`prunegan.data.default_labels`) for networks taking 1×28×28 images. Results are memoised by
content (:class:`prunegan.pruning.memo.Memo`; :func:`clear_cache`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from ..core.masks import prunable_layers
from ..core.store import config_digest, weights_digest
from .memo import Memo, copied

#: Raw per-channel statistics that also need the images' labels (forward-only probes).
PROBE_STATISTICS: tuple[str, ...] = ("ablation_loss", "only_kept_acc")
#: Every raw per-channel statistic (columns of :func:`channel_statistics`).
STATISTICS: tuple[str, ...] = ("act_mean", "act_zero_share", "taylor", "out_mass", "hrank") + PROBE_STATISTICS
#: Images per forward/backward chunk, and images whose feature maps HRank reads.
_CHUNK, _HRANK_IMAGES = 256, 64
#: Rows (images × probe variants) and values of the probed layer's output per probe forward pass.
_PROBE_ROWS, _PROBE_VALUES = 16384, 2 ** 24
#: Singular values below this share of a map's largest count as 0 in HRank: far above float32
#: round-off (~3e-6 for 28×28), so a rank does not change with the CPU's arithmetic.
_HRANK_RTOL = 1e-4


def _model_digest(model: nn.Module) -> str:
    arch = f"{type(model).__module__}.{type(model).__qualname__}|{model!r}"
    return config_digest(arch) + weights_digest(model, n=64)


#: Memo of :func:`layer_statistics`, keyed by (architecture + weights digest, layer names, inputs digest);
#: the probe statistics have their own, keyed by the labels digest too.
_STATS_CACHE, _PROBE_CACHE = Memo(32), Memo(32)


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
            raise ValueError(f"image statistics (and channel features) of {type(model).__name__} need the "
                             "`inputs` argument (an (N, C, H, W) float tensor of images): the input shape "
                             "this network wants is unknown (only networks taking 1×28×28 images default to "
                             "prunegan.data.default_inputs())")
        from ..data import default_inputs  # data imports torchvision lazily; keep pruning light to import
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
    ``None`` when only ``inputs`` was given (the probe statistics cannot be computed)."""
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
                                         "Taylor statistic, got "
                                         f"{getattr(logits, 'shape', type(logits).__name__)}")
                    missing = [n for n in layers if n not in captured]
                    if missing:
                        raise ValueError(f"layers {missing} did not run in "
                                         f"{type(model).__name__}'s forward pass")
                    twice = [n for n, outs in captured.items() if len(outs) > 1]
                    if twice:
                        raise ValueError(f"layers {twice} run more than once per forward pass: their image "
                                         "statistics are undefined")
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
                                 "statistics are undefined")
            if isinstance(logits, torch.Tensor) and logits.ndim == 2 and len(logits) == k * len(x):
                return logits
        raise ValueError(f"{type(model).__name__} must return (N, classes) logits for the probe statistics, "
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




def layer_statistics(model: nn.Module, layers: Mapping[str, nn.Module], inputs: torch.Tensor | None = None,
                     labels: torch.Tensor | None = None, *,
                     probes: bool = False) -> dict[str, dict[str, torch.Tensor]]:
    """``{layer: {statistic: (C,) tensor}}`` for :data:`STATISTICS` (without :data:`PROBE_STATISTICS`
    unless ``probes``) of ``layers`` (modules of ``model``), from ``inputs`` and ``labels`` as in
    :func:`channel_statistics`; memoised (the caller gets copies). ``probes`` with ``inputs`` but no
    ``labels``: ``ValueError`` naming ``labels``. The probes add ``only_kept_acc_se``, the binomial
    standard error of an accuracy near the layer's mean on the N images."""
    modules = list(model.modules())
    foreign = [n for n, m in layers.items() if all(m is not mm for mm in modules)]
    if foreign:
        raise ValueError(f"layers {foreign} are not modules of the given model {type(model).__name__}")
    inputs_given = inputs is not None
    inputs = _resolve_inputs(model, inputs)
    labels = _resolve_labels(inputs_given, inputs, labels)
    if probes and labels is None:
        raise ValueError(f"the probe statistics {list(PROBE_STATISTICS)} (and the probe features) need "
                         "labels=: an (N,) int64 tensor of the class of each image of inputs")
    key = (_model_digest(model), tuple(layers), weights_digest([inputs], n=64))
    stats = copied(_STATS_CACHE.get_or_compute(key, lambda: _compute_statistics(model, layers, inputs)))
    if probes:
        pkey = key + (weights_digest([labels], n=64),)
        phit = _PROBE_CACHE.get_or_compute(pkey, lambda: _compute_probes(model, layers, inputs, labels))
        for n, d in copied(phit).items():
            stats[n].update(d)
    return stats


def channel_statistics(model: nn.Module, *, include_linear: bool = False, inputs: torch.Tensor | None = None,
                       labels: torch.Tensor | None = None) -> pd.DataFrame:
    """Raw per-channel statistics, one row per prunable channel (``layer``, ``channel``, then
    :data:`STATISTICS`), from the model in eval mode over ``inputs`` (``(N, C, H, W)`` floats; ``None``:
    :func:`prunegan.data.default_inputs` for networks taking 1×28×28 images, else ``ValueError``
    naming ``inputs``) and ``labels`` (``(N,)`` int64 class indices below the number of outputs; with
    neither: :func:`prunegan.data.default_labels`). Given ``inputs`` without ``labels``, the
    :data:`PROBE_STATISTICS` columns are left out (they need labels). ``a`` is a layer's output (bias
    included):

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
    stats = layer_statistics(model, layers, inputs, labels, probes=probes)
    df = pd.DataFrame({k: torch.cat([stats[n][k] for n in layers]).numpy() for k in STATISTICS
                       if probes or k not in PROBE_STATISTICS})
    sizes = [m.weight.shape[0] for m in layers.values()]
    df.insert(0, "layer", np.repeat(list(layers), sizes))
    df.insert(1, "channel", np.concatenate([np.arange(s) for s in sizes]))
    return df


def importance(model: nn.Module, layers: Mapping[str, nn.Module], statistic: str, *,
               inputs: torch.Tensor | None = None,
               labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """``{layer: (C,) scores}`` of one statistic of :data:`STATISTICS` as an importance (higher =
    keep): the statistic itself, except ``act_zero_share`` (a channel more often ≤ 0 matters less),
    which becomes the share of positive outputs, ``1 − act_zero_share`` computed exactly in float64."""
    if statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; valid: {', '.join(STATISTICS)}")
    stats = layer_statistics(model, layers, inputs, labels, probes=statistic in PROBE_STATISTICS)
    if statistic == "act_zero_share":
        return {n: 1 - stats[n][statistic].to(torch.float64) for n in layers}
    return {n: stats[n][statistic] for n in layers}
