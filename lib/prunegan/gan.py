"""A GAN that is given a network and returns a keep-probability for each of its prunable channels.

**Channel features** (:func:`channel_features`) describe every prunable channel of *any* network
from its weights alone: the log of its mean |w| standardised and ranked within its layer and
across the network, the spread of its weights and its |bias| standardised within the layer, and the
layer's relative depth, width (log₂ and share of all channels), fan-in and kind. No feature names a
channel index, so what is learnt on one network can be applied to another.

**Generator** (per-channel MLP with a layer-context summary, so it works on networks of any size):
each channel's features and the target sparsity ``s`` are embedded by an MLP, ``h_c``; the mean of
``h`` over the channel's layer and over the whole network are the context; a second MLP maps
``[h_c, layer mean, network mean, z, s]`` (``z`` a noise vector shared by the channels of one
sample) to a keep-logit ``ℓ_c``. A shift ``b`` (found by bisection) makes the keep-probabilities
``p_c = σ(ℓ_c + b)`` sum to the number of channels to keep, ``n − round(s·n)``.

**Sampling** an exact mask: add logistic noise to the logits and keep the top ``n − round(s·n)``
(equivalently, prune the lowest scores with :func:`prunegan.strategies.select`, which can also
honour ``min_channels_per_layer``). ``σ(ℓ + b)`` is then each channel's probability of being kept.

**Discriminator** on a (features, mask) set: an MLP on ``[f_c, m_c, s]`` per channel, mean-pooled
per layer and concatenated with the layer's kept fraction and mean features, a second MLP per layer,
then mean- and max-pooled over layers to one real/fake logit. Permutation-invariant within a
layer and independent of the number of channels.

**Relaxation and losses**: the generator's masks are straight-through top-k samples: the forward
pass uses the hard top-k mask of ``ℓ + logistic noise`` (exactly what the discriminator sees for
real masks), the backward pass the gradient of the soft mask ``σ((ℓ + noise + b')/τ)`` calibrated
to the same kept count. Losses are the standard non-saturating GAN losses:
``L_D = BCE(D(real), 1 − smoothing) + BCE(D(fake), 0)``, ``L_G = BCE(D(fake), 1)``, where the
real masks are the bank's good masks (:class:`prunegan.bank.GoodRule`) and each fake is generated
for the same network and sparsity as a real one in the batch.

Everything random is drawn from explicit ``torch.Generator`` objects seeded from the config or the
``seed`` argument. Importing this module registers ``"gan"`` as a strategy of
:func:`prunegan.strategies.prune` (``generator=`` option required).
"""
from __future__ import annotations

import hashlib
import math
import numbers
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from . import strategies
from .bank import Bank, GoodRule
from .cache import Run, canonical_json
from .masks import ChannelMask, prunable_layers

#: Bump whenever :func:`channel_features` changes; a saved generator of another version won't load.
FEATURE_VERSION = 1
#: GAN losses: non-saturating cross-entropy, or Wasserstein with gradient penalty.
LOSSES = ("bce", "wgan-gp")
#: Bump whenever the generator / discriminator architecture or the training loop changes: cached
#: generators of another version are then retrained instead of being loaded.
MODEL_VERSION = 1
#: Every feature :func:`channel_features` computes, in column order.
FEATURES: tuple[str, ...] = ("l1_z_layer", "l1_rank_layer", "l1_z_net", "l1_rank_net", "std_z_layer",
                             "bias_z_layer", "depth", "log_width", "width_share", "log_fan_in", "is_linear")


# --------------------------------------------------------------------------------------------- features
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


# ------------------------------------------------------------------------------------------------ config
def _check_number(owner, name, value, low, high=math.inf, *, low_open=False) -> None:
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and not math.isnan(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bound = f"{'>' if low_open else '>='} {low}" + (f" and <= {high}" if high != math.inf else "")
        raise ValueError(f"{owner}.{name} must be a number {bound}, got {value!r}")


@dataclass(frozen=True)
class GanConfig:
    """Hyper-parameters of :func:`fit`.

    ``good`` picks the real masks from the bank; ``sparsities`` the bank sparsities to learn from
    (``None``: all); ``features`` the channel features the networks see; ``hidden`` the width of
    every MLP; ``noise_dim`` the size of the per-sample noise ``z``; ``steps`` optimiser steps of
    both networks with ``batch_size`` real and as many fake masks; ``tau`` the temperature of the
    soft mask behind the straight-through gradient; ``smoothing`` one-sided label smoothing of the
    real label; ``seed`` initial weights and all sampling during training."""

    good: GoodRule = field(default_factory=GoodRule)
    sparsities: tuple[float, ...] | None = None
    features: tuple[str, ...] = FEATURES
    hidden: int = 32
    noise_dim: int = 4
    steps: int = 600
    batch_size: int = 32
    lr_generator: float = 2e-3
    lr_discriminator: float = 5e-4
    tau: float = 1.0
    logit_bound: float = 8.0
    smoothing: float = 0.1
    loss: str = "bce"
    d_steps: int = 1
    gp_weight: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.good, GoodRule):
            raise ValueError(f"GanConfig.good must be a prunegan.bank.GoodRule, got {self.good!r}")
        if self.sparsities is not None:
            if isinstance(self.sparsities, (str, bytes)) or not hasattr(self.sparsities, "__iter__") \
                    or not len(tuple(self.sparsities)):
                raise ValueError(f"GanConfig.sparsities must be None or a non-empty sequence, got {self.sparsities!r}")
            object.__setattr__(self, "sparsities", tuple(strategies.check_sparsity(s) for s in self.sparsities))
        feats = tuple(self.features) if not isinstance(self.features, str) else (self.features,)
        unknown = [f for f in feats if f not in FEATURES]
        if unknown or not feats or len(set(feats)) != len(feats):
            raise ValueError(f"GanConfig.features must be distinct names from {FEATURES}, got {self.features!r}")
        object.__setattr__(self, "features", feats)
        if self.loss not in LOSSES:
            raise ValueError(f"GanConfig.loss must be one of {LOSSES}, got {self.loss!r}")
        _check_number("GanConfig", "gp_weight", self.gp_weight, 0)
        for name in ("hidden", "noise_dim", "steps", "batch_size", "seed", "d_steps"):
            v = getattr(self, name)
            low = 0 if name in ("seed", "noise_dim", "steps") else 1
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise ValueError(f"GanConfig.{name} must be an integer >= {low}, got {v!r}")
        _check_number("GanConfig", "lr_generator", self.lr_generator, 0, low_open=True)
        _check_number("GanConfig", "lr_discriminator", self.lr_discriminator, 0, low_open=True)
        _check_number("GanConfig", "tau", self.tau, 0, low_open=True)
        _check_number("GanConfig", "logit_bound", self.logit_bound, 0, low_open=True)
        _check_number("GanConfig", "smoothing", self.smoothing, 0, 0.5)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "GanConfig":
        d = dict(d)
        d["good"] = GoodRule(**d["good"])
        for key in ("sparsities", "features"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)


# ------------------------------------------------------------------------------------------------ networks
def _mlp(n_in: int, hidden: int, n_out: int, *, last_act: bool = False) -> nn.Sequential:
    layers = [nn.Linear(n_in, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, n_out)]
    return nn.Sequential(*layers, nn.LeakyReLU(0.2)) if last_act else nn.Sequential(*layers)


class GeneratorNet(nn.Module):
    """(channel features, target sparsity, noise) → one keep-logit per channel (see module doc)."""

    def __init__(self, n_features: int, hidden: int = 32, noise_dim: int = 4, bound: float = 8.0) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.bound = float(bound)
        self.embed = _mlp(n_features + 1, hidden, hidden, last_act=True)
        self.head = _mlp(3 * hidden + noise_dim + 1, hidden, 1)

    def forward(self, x: torch.Tensor, pool: torch.Tensor, layer_index: torch.Tensor, s: torch.Tensor,
                z: torch.Tensor) -> torch.Tensor:
        b, n = s.shape[0], x.shape[0]
        sc = s[:, None, None].expand(b, n, 1)
        h = self.embed(torch.cat([x.expand(b, n, -1), sc], -1))       # (B, N, H)
        per_layer = torch.einsum("ln,bnh->blh", pool, h)              # (B, L, H)
        net = per_layer.mean(1, keepdim=True).expand(b, n, -1)       # (B, N, H)
        ctx = torch.cat([h, per_layer[:, layer_index], net, z[:, None].expand(b, n, -1), sc], -1)
        raw = self.head(ctx).squeeze(-1)                             # (B, N)
        raw = raw - raw.mean(1, keepdim=True)                        # only differences matter (calibration)
        return self.bound * torch.tanh(raw / self.bound)            # bounded: never fully saturated


class DiscriminatorNet(nn.Module):
    """(channel features, mask, sparsity) set → one real/fake logit (see module doc)."""

    def __init__(self, n_features: int, hidden: int = 32) -> None:
        super().__init__()
        self.phi = _mlp(n_features + 2, hidden, hidden, last_act=True)
        self.rho = _mlp(hidden + 1 + n_features, hidden, hidden, last_act=True)
        self.out = _mlp(2 * hidden + 1, hidden, 1)

    def forward(self, x: torch.Tensor, pool: torch.Tensor, s: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        b, n = m.shape
        h = self.phi(torch.cat([x.expand(b, n, -1), m[..., None], s[:, None, None].expand(b, n, 1)], -1))
        per_layer = torch.einsum("ln,bnh->blh", pool, h)                  # (B, L, H)
        kept = torch.einsum("ln,bn->bl", pool, m)[..., None]              # (B, L, 1) kept fraction
        static = (pool @ x)[None].expand(b, -1, -1)                       # (B, L, F)
        e = self.rho(torch.cat([per_layer, kept, static], -1))
        pooled = torch.cat([e.mean(1), e.max(1).values, s[:, None]], -1)
        return self.out(pooled).squeeze(-1)


def n_keep(n_channels: int, sparsity: float) -> int:
    """Channels kept at ``sparsity``: ``n − round(sparsity · n)``."""
    return n_channels - round(sparsity * n_channels)


def calibrate(logits: torch.Tensor, k: torch.Tensor, tau: float = 1.0, iters: int = 32) -> torch.Tensor:
    """Per row, the shift ``b`` with ``Σ σ((logits + b) / τ) = k`` (bisection, no gradient)."""
    with torch.no_grad():
        k = k.to(logits.dtype)
        lo = -logits.max(1).values - 30 * tau
        hi = -logits.min(1).values + 30 * tau
        for _ in range(iters):
            mid = (lo + hi) / 2
            below = torch.sigmoid((logits + mid[:, None]) / tau).sum(1) < k
            lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    return (lo + hi) / 2


def _logistic(shape, rng: torch.Generator) -> torch.Tensor:
    u = torch.rand(shape, generator=rng).clamp_(1e-6, 1 - 1e-6)
    return torch.log(u) - torch.log1p(-u)


def _hard_topk(y: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """1.0 for the ``k[i]`` largest entries of each row ``y[i]``, else 0.0."""
    order = torch.argsort(y, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(y.shape[1]).expand_as(order).contiguous())
    return (ranks < k[:, None]).to(y.dtype)


def relaxed_masks(logits: torch.Tensor, k: torch.Tensor, tau: float, rng: torch.Generator) -> torch.Tensor:
    """Straight-through top-k samples: forward = the hard top-``k`` mask of ``logits + logistic
    noise``; backward = the gradient of ``σ((logits + noise + b') / τ)`` calibrated to ``k``."""
    y = logits + _logistic(logits.shape, rng)
    hard = _hard_topk(y.detach(), k)
    soft = torch.sigmoid((y + calibrate(y, k, tau)[:, None]) / tau)
    return hard + (soft - soft.detach())  # exactly `hard` forward; gradient of `soft` backward


# ------------------------------------------------------------------------------------------------ generator
def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n (number of masks to sample) must be an integer >= 1, got {n!r}")
    return int(n)


class Generator:
    """A trained generator: give it a network, get keep-probabilities or exact-count masks.

    ``include_linear`` (from the bank it was trained on) decides which layers of a network it
    prunes unless a call overrides it. ``history`` is the loss per training step."""

    def __init__(self, config: GanConfig, net: GeneratorNet | None = None, *, include_linear: bool = False,
                 history: list[dict] | None = None) -> None:
        self.config = config
        self.include_linear = bool(include_linear)
        if net is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed)
                net = GeneratorNet(len(config.features), config.hidden, config.noise_dim, config.logit_bound)
        self.net = net.to("cpu").eval()
        self.history = list(history or [])

    def __repr__(self) -> str:
        return (f"Generator(features={len(self.config.features)}, hidden={self.config.hidden}, "
                f"noise_dim={self.config.noise_dim}, include_linear={self.include_linear}, "
                f"trained_steps={len(self.history)})")

    # -- internals
    def features(self, model_or_layers: nn.Module | Mapping[str, nn.Module], *,
                 include_linear: bool | None = None) -> ChannelFeatures:
        """The channel features this generator reads, for a network or a mapping of its layers."""
        if isinstance(model_or_layers, nn.Module):
            il = self.include_linear if include_linear is None else include_linear
            feats = channel_features(model_or_layers, include_linear=il)
        else:
            feats = features_of_layers(model_or_layers)
        return feats.select(self.config.features)

    def logits(self, feats: ChannelFeatures, sparsity: float, z: torch.Tensor) -> torch.Tensor:
        """``(len(z), n_channels)`` keep-logits for noise rows ``z``."""
        s = torch.full((z.shape[0],), float(sparsity))
        return self.net(feats.x, feats.pool(), feats.layer_index, s, z)

    def _noise(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.randn((n, self.config.noise_dim), generator=rng)

    # -- public API
    @torch.no_grad()
    def keep_probabilities(self, model: nn.Module, sparsity: float, *, include_linear: bool | None = None,
                           n_noise: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
        """Keep-probability in [0, 1] of every prunable channel of ``model`` at ``sparsity``:
        ``σ(ℓ + b)`` with ``b`` set so the probabilities sum to the number of channels kept,
        averaged over ``n_noise`` noise vectors drawn with ``seed``."""
        sparsity = strategies.check_sparsity(sparsity)
        feats = self.features(model, include_linear=include_linear)
        z = self._noise(_check_n(n_noise), torch.Generator().manual_seed(seed))
        logits = self.logits(feats, sparsity, z)
        k = torch.full((z.shape[0],), float(n_keep(feats.n_channels, sparsity)))
        p = torch.sigmoid(logits + calibrate(logits, k)[:, None]).mean(0).clamp(0.0, 1.0)
        return dict(zip(feats.layers, torch.split(p, list(feats.sizes))))

    @torch.no_grad()
    def scores(self, model_or_layers: nn.Module | Mapping[str, nn.Module], sparsity: float,
               rng: torch.Generator, *, include_linear: bool | None = None) -> dict[str, torch.Tensor]:
        """One sample's channel scores (keep-logit + logistic noise; higher = keep), the input of
        :func:`prunegan.strategies.select`."""
        sparsity = strategies.check_sparsity(sparsity)
        feats = self.features(model_or_layers, include_linear=include_linear)
        z = self._noise(1, rng)
        y = self.logits(feats, sparsity, z)[0] + _logistic((feats.n_channels,), rng)
        return dict(zip(feats.layers, torch.split(y, list(feats.sizes))))

    def sample(self, model: nn.Module, sparsity: float, n: int, *, seed: int, min_channels_per_layer: int = 0,
               include_linear: bool | None = None) -> list[ChannelMask]:
        """``n`` masks of ``model``, each pruning exactly ``round(sparsity · n_prunable)`` channels
        (at least ``min_channels_per_layer`` kept per layer). Mask ``i`` is drawn with seed
        ``seed + i`` and equals ``strategies.prune(model, "gan", sparsity, seed=seed + i,
        generator=self)``."""
        sparsity = strategies.check_sparsity(sparsity)
        n = _check_n(n)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        out = []
        for i in range(n):
            scores = self.scores(model, sparsity, torch.Generator().manual_seed(int(seed) + i),
                                 include_linear=include_linear)
            out.append(strategies.select(scores, sparsity, min_channels_per_layer=min_channels_per_layer))
        return out

    def fingerprint(self) -> str:
        """Short hash of the weights, config and feature version (names a generator in caches)."""
        h = hashlib.sha256(canonical_json({"config": self.config, "v": FEATURE_VERSION,
                                           "il": self.include_linear}).encode())
        for name, t in sorted(self.net.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().cpu().numpy().tobytes())
        return h.hexdigest()[:12]

    def save(self, path: str | Path) -> None:
        """Save weights, config, feature version and loss history (atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = {"feature_version": FEATURE_VERSION, "model_version": MODEL_VERSION,
                "features": list(self.config.features),
                "config": canonical_json(self.config), "include_linear": self.include_linear,
                "state_dict": self.net.state_dict(), "history": canonical_json(self.history)}
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save(blob, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "Generator":
        """Load a generator saved by :meth:`save`. Raises ``ValueError`` if the file does not load
        or was written for another feature version."""
        import json

        path = Path(path)
        try:
            blob = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as exc:
            raise ValueError(f"cannot load a generator from {path}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(blob, dict) or "feature_version" not in blob:
            raise ValueError(f"{path} is not a saved prunegan generator (no feature_version in it)")
        if blob["feature_version"] != FEATURE_VERSION:
            raise ValueError(f"generator {path} was saved with feature version {blob['feature_version']!r}, "
                             f"this prunegan computes feature version {FEATURE_VERSION}; retrain it with gan.fit")
        if blob.get("model_version") != MODEL_VERSION:
            raise ValueError(f"generator {path} was saved with model version {blob.get('model_version')!r}, "
                             f"this prunegan builds model version {MODEL_VERSION}; retrain it with gan.fit")
        try:
            config = GanConfig.from_dict(json.loads(blob["config"]))
            net = GeneratorNet(len(config.features), config.hidden, config.noise_dim, config.logit_bound)
            net.load_state_dict(blob["state_dict"])
            history = json.loads(blob["history"])
        except Exception as exc:
            raise ValueError(f"generator file {path} is damaged: {type(exc).__name__}: {exc}") from exc
        return cls(config, net, include_linear=blob["include_linear"], history=history)


# ------------------------------------------------------------------------------------------------ training
@dataclass
class _Group:
    """Real masks of one bank network, with its features."""

    feats: ChannelFeatures
    pool: torch.Tensor
    masks: torch.Tensor      # (M, N) float
    sparsity: torch.Tensor   # (M,)
    keep: torch.Tensor       # (M,) long

    def draw(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """Indices of ``n`` real masks: a sparsity uniformly among those present, then a mask at it
        (so a sparsity with few good masks is seen as often as one with many)."""
        levels = torch.unique(self.sparsity)
        pick = levels[torch.randint(len(levels), (n,), generator=rng)]
        out = []
        for level in pick:
            idx = torch.nonzero(self.sparsity == level).flatten()
            out.append(idx[int(torch.randint(len(idx), (1,), generator=rng))])
        return torch.stack(out)


def training_set(bank: Bank, config: GanConfig) -> list[_Group]:
    """The good masks of ``bank`` grouped by network, with the networks' features."""
    if bank is None or len(bank) == 0:
        raise ValueError("the mask bank is empty: build it with prunegan.bank.build(BankConfig(...)) first")
    good = bank.good_masks(config.good, sparsities=config.sparsities)
    groups = []
    for index, base in enumerate(bank.baselines):
        mine = [(s, m) for b, s, m in good if b == index]
        if not mine:
            continue
        feats = channel_features(base.model, include_linear=bank.config.include_linear).select(config.features)
        masks = torch.stack([m.to_vector().to(torch.float32) for _, m in mine])
        sparsity = torch.tensor([s for s, _ in mine], dtype=torch.float32)
        groups.append(_Group(feats, feats.pool(), masks, sparsity, masks.sum(1).round().long()))
    if not groups:
        raise ValueError(f"the mask bank has no good mask (rule: {config.good.describe()})")
    return groups


def _run_key(bank: Bank, config: GanConfig) -> dict:
    good = bank.good_masks(config.good, sparsities=config.sparsities)
    digest = hashlib.sha256(canonical_json([(b, round(s, 6), m.key()) for b, s, m in good]).encode()).hexdigest()
    return {"feature_version": FEATURE_VERSION, "model_version": MODEL_VERSION, "gan": config,
            "baselines": bank.config.baselines,
            "include_linear": bank.config.include_linear, "good_masks": digest[:16]}


def fit(bank: Bank, config: GanConfig = GanConfig(), *, progress: bool = True, cache: bool = True) -> Generator:
    """Train a generator on the good masks of ``bank`` (see :func:`_fit`) with a fixed number of CPU
    threads (:data:`prunegan.engine.CPU_THREADS`): the result then does not depend on the machine's cores."""
    from .engine import CPU_THREADS, cpu_threads

    with cpu_threads(CPU_THREADS):
        return _fit(bank, config, progress=progress, cache=cache)


def _fit(bank: Bank, config: GanConfig, *, progress: bool, cache: bool) -> Generator:
    """Train a generator on the good masks of ``bank`` (or load it from the cache,
    ``results/gan_<hash>/generator.pt``). ``generator.history`` holds, per step, the
    discriminator and generator losses and the discriminator's mean output on real and fake masks."""
    groups = training_set(bank, config)
    run = Run("gan", _run_key(bank, config)) if cache else None
    if run is not None and run.exists("generator.pt"):
        try:
            return Generator.load(run.file("generator.pt"))
        except ValueError as exc:
            warnings.warn(f"{exc}; retraining it", stacklevel=2)
    rng = torch.Generator().manual_seed(config.seed)
    gen = Generator(config, include_linear=bank.config.include_linear)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + 1)
        disc = DiscriminatorNet(len(config.features), config.hidden)
    g_net = gen.net.train()
    opt_g = torch.optim.Adam(g_net.parameters(), lr=config.lr_generator, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr_discriminator, betas=(0.5, 0.999))
    real_label = 1.0 - config.smoothing
    history = []
    bar = tqdm(range(1, config.steps + 1), desc="GAN", unit="step", disable=not progress, mininterval=5)
    for step in bar:
        g = groups[int(torch.randint(len(groups), (1,), generator=rng))]
        idx = g.draw(config.batch_size, rng)
        real, s, k = g.masks[idx], g.sparsity[idx], g.keep[idx]
        for _ in range(config.d_steps):
            z = gen._noise(config.batch_size, rng)
            with torch.no_grad():
                fake = relaxed_masks(g_net(g.feats.x, g.pool, g.feats.layer_index, s, z), k, config.tau, rng)
            d_real, d_fake = disc(g.feats.x, g.pool, s, real), disc(g.feats.x, g.pool, s, fake)
            if config.loss == "bce":
                d_loss = (F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, real_label))
                          + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
            else:  # WGAN-GP: critic difference + gradient penalty on interpolated masks
                alpha = torch.rand((config.batch_size, 1), generator=rng)
                mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
                grad, = torch.autograd.grad(disc(g.feats.x, g.pool, s, mix).sum(), mix, create_graph=True)
                d_loss = d_fake.mean() - d_real.mean() + config.gp_weight * ((grad.norm(dim=1) - 1) ** 2).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()

        z = gen._noise(config.batch_size, rng)
        fake = relaxed_masks(g_net(g.feats.x, g.pool, g.feats.layer_index, s, z), k, config.tau, rng)
        g_out = disc(g.feats.x, g.pool, s, fake)
        if config.loss == "bce":
            g_loss = F.binary_cross_entropy_with_logits(g_out, torch.ones_like(g_out))
        else:
            g_loss = -g_out.mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()

        squash = torch.sigmoid if config.loss == "bce" else (lambda t: t)
        history.append({"step": step, "d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()),
                        "d_real": float(squash(d_real.detach()).mean()),
                        "d_fake": float(squash(d_fake.detach()).mean())})
        if step % 20 == 0 or step == config.steps:
            bar.set_postfix(d_loss=f"{history[-1]['d_loss']:.3f}", g_loss=f"{history[-1]['g_loss']:.3f}")
    gen.net.eval()
    gen.history = history
    if run is not None:
        gen.save(run.file("generator.pt"))
        run.write_json("history.json", history)
    return gen


# ------------------------------------------------------------------------------------------------ strategy
def _gan_scorer(model: nn.Module, layers: Mapping[str, nn.Module], rng: torch.Generator, *,
                generator: Generator | None = None, sparsity: float | None = None) -> dict[str, torch.Tensor]:
    """Scores of one GAN sample (keep-logit + logistic noise) for the target ``sparsity``."""
    if generator is None:
        raise ValueError("strategy 'gan' needs a trained generator: strategies.prune(model, 'gan', sparsity, "
                         "seed=..., generator=prunegan.gan.fit(bank, config) or prunegan.gan.Generator.load(path))")
    if not isinstance(generator, Generator):
        raise ValueError(f"strategy 'gan': generator must be a prunegan.gan.Generator, got {type(generator).__name__}")
    if sparsity is None:
        raise ValueError("strategy 'gan' scores depend on the target sparsity: call strategies.prune "
                         "(which passes it) rather than strategies.score")
    return generator.scores(layers, sparsity, rng)


if "gan" not in strategies.SCORERS:
    strategies.SCORERS.register("gan")(_gan_scorer)
