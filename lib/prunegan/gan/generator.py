"""The trained generator: give it a network, get the exact keep-probability of every channel or
masks sampled from its structured distribution."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from ..core import counts
from ..core.masks import ChannelMask
from ..core.store import canonical_json, save_torch
from ..core.validate import check_int, check_sparsity
from .config import MODEL_VERSION, GanConfig
from ..core.distribution import StructuredMasks
from .features import FEATURE_VERSION, ChannelFeatures, channel_features, features_of_layers
from .nets import GeneratorNet


class Generator:
    """A generator: a :class:`~prunegan.gan.nets.GeneratorNet` read as an exact distribution over
    masks that keep ``K = n − round(sparsity · n)`` channels and at least
    ``max(1, min_channels_per_layer)`` in every layer (collapse is impossible).

    ``include_linear`` (from the bank it was trained on) decides which layers of a network it
    prunes unless a call overrides it. ``history`` holds one row per training step; a generator
    with no history is untrained and refuses to prune."""

    def __init__(self, config: GanConfig, net: GeneratorNet | None = None, *, include_linear: bool = False,
                 history: list[dict] | None = None) -> None:
        self.config = config
        self.include_linear = bool(include_linear)
        if net is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed)
                net = GeneratorNet(len(config.features), config.hidden)
        self.net = net.to("cpu").eval()
        self.history = list(history or [])
        #: What the fit measured at its end (``bank_gain``: :func:`prunegan.gan.diagnostics.bank_likelihood`'s
        #: mean gain over the training examples, nats per mask); empty for a generator built by hand.
        self.fit_report: dict = {}

    def __repr__(self) -> str:
        return (f"Generator(features={len(self.config.features)}, hidden={self.config.hidden}, "
                f"include_linear={self.include_linear}, trained_steps={len(self.history)}, "
                f"seed={self.config.seed})")

    @property
    def trained(self) -> bool:
        return bool(self.history)

    def _check_trained(self) -> None:
        if not self.trained:
            raise ValueError("this generator is untrained (0 training steps): train one with "
                             "prunegan.gan.fit(bank, GanConfig(...)) or load one with Generator.load(path)")

    # -- internals
    def features(self, model_or_layers: nn.Module | Mapping[str, nn.Module], *,
                 include_linear: bool | None = None,
                 model: nn.Module | None = None, inputs: torch.Tensor | None = None,
                 labels: torch.Tensor | None = None) -> ChannelFeatures:
        """The channel features this generator reads (``config.features``), for a network or a mapping
        of its layers (then image features need ``model``, the network they belong to); ``inputs``: the
        image batch of the image features, ``labels`` their classes (the probe features; defaults: see
        :func:`prunegan.gan.features.channel_features`)."""
        if isinstance(model_or_layers, nn.Module):
            il = self.include_linear if include_linear is None else include_linear
            return channel_features(model_or_layers, include_linear=il, inputs=inputs, labels=labels,
                                    features=self.config.features)
        return features_of_layers(model_or_layers, model=model,
                                  inputs=inputs, labels=labels, features=self.config.features)

    def distribution(self, feats: ChannelFeatures, sparsity: float,
                     min_channels_per_layer: int = 1) -> StructuredMasks:
        """The exact mask distribution for a network with features ``feats`` at ``sparsity``
        (differentiable in the net's parameters). Raises ``ValueError`` when the sparsity leaves
        fewer kept channels than the minimum in every layer."""
        sparsity = check_sparsity(sparsity)
        minimum = max(1, check_int("min_channels_per_layer", min_channels_per_layer, 0))
        counts.check_feasible(feats.size_dict(), sparsity, minimum)
        log_w, thetas = self.net(feats, sparsity)
        return StructuredMasks(feats.sizes, counts.n_kept(feats.n_channels, sparsity), log_w, thetas,
                               min_per_layer=minimum)

    # -- public API
    @torch.no_grad()
    def keep_probabilities(self, model: nn.Module, sparsity: float, *, include_linear: bool | None = None,
                           min_channels_per_layer: int = 1,
                           inputs: torch.Tensor | None = None,
                           labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The exact probability in [0, 1] that each prunable channel of ``model`` is kept by a mask
        sampled at ``sparsity`` (the distribution's marginals; they sum to the number of channels kept),
        as ``{layer: (C,) tensor}``."""
        self._check_trained()
        feats = self.features(model, include_linear=include_linear, inputs=inputs, labels=labels)
        dist = self.distribution(feats, sparsity, min_channels_per_layer)
        p = dist.marginals().to(torch.float32).clamp(0.0, 1.0)
        return dict(zip(feats.layers, torch.split(p, list(feats.sizes))))

    @torch.no_grad()
    def scores(self, model_or_layers: nn.Module | Mapping[str, nn.Module], sparsity: float,
               rng: torch.Generator, *, include_linear: bool | None = None, min_channels_per_layer: int = 1,
               model: nn.Module | None = None, inputs: torch.Tensor | None = None,
               labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One mask drawn with ``rng`` as scores (1 = kept, 0 = pruned), the input of
        :func:`prunegan.pruning.select.select`, which returns exactly that mask (``model``: the network
        a mapping of layers belongs to, for image features)."""
        self._check_trained()
        feats = self.features(model_or_layers, include_linear=include_linear, model=model,
                              inputs=inputs, labels=labels)
        mask = self.distribution(feats, sparsity, min_channels_per_layer).sample(1, rng)[0].to(torch.float32)
        return dict(zip(feats.layers, torch.split(mask, list(feats.sizes))))

    def sample(self, model: nn.Module, sparsity: float, n: int, *, seed: int, min_channels_per_layer: int = 1,
               include_linear: bool | None = None, inputs: torch.Tensor | None = None,
               labels: torch.Tensor | None = None) -> list[ChannelMask]:
        """``n`` masks of ``model``, each pruning exactly ``round(sparsity · n_prunable)`` channels and
        keeping at least ``max(1, min_channels_per_layer)`` per layer. Mask ``i`` is drawn with seed
        ``seed + i`` and equals ``strategies.prune(model, "gan", sparsity, seed=seed + i,
        generator=self)``."""
        n = check_int("n (number of masks to sample)", n, 1)
        seed = check_int("seed", seed, 0)
        self._check_trained()
        feats = self.features(model, include_linear=include_linear, inputs=inputs, labels=labels)
        with torch.no_grad():
            dist = self.distribution(feats, sparsity, min_channels_per_layer)  # once; each mask its own seed
            vectors = [dist.sample(1, torch.Generator().manual_seed(seed + i))[0] for i in range(n)]
        return [ChannelMask.from_vector(v, feats.size_dict()) for v in vectors]

    @torch.no_grad()
    def mode(self, model: nn.Module, sparsity: float, *, include_linear: bool | None = None,
             min_channels_per_layer: int = 1, inputs: torch.Tensor | None = None,
             labels: torch.Tensor | None = None) -> ChannelMask:
        """The single most probable mask of ``model`` at ``sparsity`` (exact, deterministic:
        :meth:`prunegan.core.distribution.StructuredMasks.mode`): the distribution's most probable
        allocation across layers, and in each layer its most probable channels (ties: lower index).
        It prunes exactly ``round(sparsity · n_prunable)`` channels, at least
        ``max(1, min_channels_per_layer)`` kept per layer, like :meth:`sample`."""
        scores = self.mode_scores(model, sparsity, include_linear=include_linear,
                                  min_channels_per_layer=min_channels_per_layer, inputs=inputs, labels=labels)
        return ChannelMask({layer: v > 0.5 for layer, v in scores.items()})

    @torch.no_grad()
    def mode_scores(self, model_or_layers: nn.Module | Mapping[str, nn.Module], sparsity: float, *,
                    include_linear: bool | None = None, min_channels_per_layer: int = 1,
                    model: nn.Module | None = None,
                    inputs: torch.Tensor | None = None,
                    labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The most probable mask (:meth:`mode`) as scores (1 = kept, 0 = pruned), the input of
        :func:`prunegan.pruning.select.select`, which returns exactly that mask (what a ``"gan-mode"``
        scorer returns; ``model``: the network a mapping of layers belongs to, for image features)."""
        self._check_trained()
        feats = self.features(model_or_layers, include_linear=include_linear, model=model,
                              inputs=inputs, labels=labels)
        vector = self.distribution(feats, sparsity, min_channels_per_layer).mode().to(torch.float32)
        return dict(zip(feats.layers, torch.split(vector, list(feats.sizes))))

    @torch.no_grad()
    def mask_probabilities(self, model: nn.Module, masks, sparsity: float, *,
                           include_linear: bool | None = None,
                           min_channels_per_layer: int = 1,
                           inputs: torch.Tensor | None = None,
                           labels: torch.Tensor | None = None) -> torch.Tensor:
        """``(M,)`` float64: the exact probability that a mask sampled at ``sparsity`` is each of
        ``masks`` (:class:`ChannelMask` objects of ``model``; a mask this distribution cannot draw has
        probability 0)."""
        self._check_trained()
        feats = self.features(model, include_linear=include_linear, inputs=inputs, labels=labels)
        vectors = torch.stack([m.to_vector().to(torch.float32) for m in masks])
        if vectors.shape[1] != feats.n_channels:
            raise ValueError(f"masks have {vectors.shape[1]} channels, the network's prunable layers "
                             f"{feats.n_channels}")
        dist = self.distribution(feats, sparsity, min_channels_per_layer)
        return dist.log_prob(vectors).to(torch.float64).exp()

    def save(self, path: str | Path) -> None:
        """Save weights, config, versions and training history (atomically)."""
        blob = {"feature_version": FEATURE_VERSION, "model_version": MODEL_VERSION,
                "config": canonical_json(self.config), "include_linear": self.include_linear,
                "state_dict": self.net.state_dict(), "history": canonical_json(self.history),
                "fit_report": canonical_json(self.fit_report)}
        save_torch(Path(path), blob)

    @classmethod
    def load(cls, path: str | Path) -> "Generator":
        """Load a generator saved by :meth:`save`. Raises ``ValueError`` if the file does not load
        or was written by another feature or model version."""
        path = Path(path)
        try:
            blob = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as exc:
            raise ValueError(f"cannot load a generator from {path}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(blob, dict) or "feature_version" not in blob:
            raise ValueError(f"{path} is not a saved prunegan generator (no feature_version in it)")
        if blob["feature_version"] != FEATURE_VERSION:
            raise ValueError(f"generator {path} was saved with feature version {blob['feature_version']!r}, "
                             f"this prunegan computes feature version {FEATURE_VERSION}; "
                             "retrain it with gan.fit")
        if blob.get("model_version") != MODEL_VERSION:
            raise ValueError(f"generator {path} was saved with model version {blob.get('model_version')!r}, "
                             f"this prunegan builds model version {MODEL_VERSION}; retrain it with gan.fit")
        try:
            config = GanConfig.from_dict(json.loads(blob["config"]))
            net = GeneratorNet(len(config.features), config.hidden)
            net.load_state_dict(blob["state_dict"])
            history = json.loads(blob["history"])
            report = json.loads(blob.get("fit_report", "{}"))
        except Exception as exc:
            raise ValueError(f"generator file {path} is damaged: {type(exc).__name__}: {exc}") from exc
        gen = cls(config, net, include_linear=blob["include_linear"], history=history)
        gen.fit_report = report
        return gen
