"""Hyper-parameters of the GAN (:class:`GanConfig`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Mapping

from ..core.validate import check_instance, check_int, check_number, check_sequence, check_sparsities
from ..runs.bank import GoodRule
from .features import FEATURES

#: GAN losses: non-saturating cross-entropy, or Wasserstein with gradient penalty (see :mod:`.train`).
LOSSES = ("bce", "wgan-gp")
#: Bump whenever the generator / discriminator architecture or the training loop changes: cached
#: generators of another version are then retrained instead of being loaded.
MODEL_VERSION = 1


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
        check_instance("GanConfig.good", self.good, GoodRule, "prunegan.runs.bank.GoodRule")
        if self.sparsities is not None:
            object.__setattr__(self, "sparsities", check_sparsities("GanConfig.sparsities", self.sparsities))
        feats = check_sequence("GanConfig.features", (self.features,) if isinstance(self.features, str) else self.features)
        unknown = [f for f in feats if f not in FEATURES]
        if unknown or len(set(feats)) != len(feats):
            raise ValueError(f"GanConfig.features must be distinct names from {FEATURES}, got {self.features!r}")
        object.__setattr__(self, "features", feats)
        if self.loss not in LOSSES:
            raise ValueError(f"GanConfig.loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("hidden", "noise_dim", "steps", "batch_size", "seed", "d_steps"):
            check_int(f"GanConfig.{name}", getattr(self, name), 0 if name in ("seed", "noise_dim", "steps") else 1)
        check_number("GanConfig.gp_weight", self.gp_weight, 0)
        for name in ("lr_generator", "lr_discriminator", "tau", "logit_bound"):
            check_number(f"GanConfig.{name}", getattr(self, name), 0, low_open=True)
        check_number("GanConfig.smoothing", self.smoothing, 0, 0.5)

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
