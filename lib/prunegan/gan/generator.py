"""The trained generator: give it a network, get keep-probabilities or exact-count masks."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from ..core import counts
from ..core.masks import ChannelMask
from ..core.store import canonical_json, save_torch
from ..core.validate import check_int, check_sparsity
from ..pruning.select import select
from .config import MODEL_VERSION, GanConfig
from .features import FEATURE_VERSION, ChannelFeatures, channel_features, features_of_layers
from .nets import GeneratorNet
from .relax import calibrate, logistic


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
        sparsity = check_sparsity(sparsity)
        feats = self.features(model, include_linear=include_linear)
        z = self._noise(check_int("n_noise", n_noise, 1), torch.Generator().manual_seed(seed))
        logits = self.logits(feats, sparsity, z)
        k = torch.full((z.shape[0],), float(counts.n_kept(feats.n_channels, sparsity)))
        p = torch.sigmoid(logits + calibrate(logits, k)[:, None]).mean(0).clamp(0.0, 1.0)
        return dict(zip(feats.layers, torch.split(p, list(feats.sizes))))

    @torch.no_grad()
    def scores(self, model_or_layers: nn.Module | Mapping[str, nn.Module], sparsity: float,
               rng: torch.Generator, *, include_linear: bool | None = None) -> dict[str, torch.Tensor]:
        """One sample's channel scores (keep-logit + logistic noise; higher = keep), the input of
        :func:`prunegan.pruning.select.select`."""
        sparsity = check_sparsity(sparsity)
        feats = self.features(model_or_layers, include_linear=include_linear)
        z = self._noise(1, rng)
        y = self.logits(feats, sparsity, z)[0] + logistic((feats.n_channels,), rng)
        return dict(zip(feats.layers, torch.split(y, list(feats.sizes))))

    def sample(self, model: nn.Module, sparsity: float, n: int, *, seed: int, min_channels_per_layer: int = 0,
               include_linear: bool | None = None) -> list[ChannelMask]:
        """``n`` masks of ``model``, each pruning exactly ``round(sparsity · n_prunable)`` channels
        (at least ``min_channels_per_layer`` kept per layer). Mask ``i`` is drawn with seed
        ``seed + i`` and equals ``strategies.prune(model, "gan", sparsity, seed=seed + i,
        generator=self)``."""
        sparsity = check_sparsity(sparsity)
        n = check_int("n (number of masks to sample)", n, 1)
        seed = check_int("seed", seed, 0)
        out = []
        for i in range(n):
            scores = self.scores(model, sparsity, torch.Generator().manual_seed(int(seed) + i),
                                 include_linear=include_linear)
            out.append(select(scores, sparsity, min_channels_per_layer=min_channels_per_layer))
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
        save_torch(path, blob)

    @classmethod
    def load(cls, path: str | Path) -> "Generator":
        """Load a generator saved by :meth:`save`. Raises ``ValueError`` if the file does not load
        or was written for another feature version."""
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
