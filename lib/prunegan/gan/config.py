"""Hyper-parameters of the GAN (:class:`GanConfig`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Mapping

from ..core.validate import check_int, check_number, check_sequence, check_sparsities
from .features import FEATURES

#: Bump whenever the generator / discriminator architecture or the training loop changes: cached
#: generators of another version are then retrained instead of being loaded. Version 2: the exact
#: structured distribution (issue 8); version 1 was independent keep-logits + global top-k; version 3:
#: entropy bonus, validation labels, image features (issue 13); version 4: a likelihood stage before the
#: adversarial one, and a discriminator that cannot win outright (label smoothing, R1 penalty, likelihood
#: anchor; issue 29).
MODEL_VERSION = 4


@dataclass(frozen=True)
class GanConfig:
    """Hyper-parameters of :func:`prunegan.gan.fit`.

    - ``networks``: indices of the bank's networks to learn from (``None``: all); the others stay
      held out. ``sparsities``: the bank sparsities to learn from (``None``: all).
    - ``weight_temperature``: real masks are drawn with the bank's soft weights
      (:meth:`prunegan.runs.bank.Bank.weighted`): ``exp((acc − best) / weight_temperature)`` per
      (network, sparsity), in accuracy units (0.01: the weight falls by e per point below the best).
    - ``features``: channel features the networks read; ``hidden``: width of every MLP.
    - ``likelihood_steps``: steps of the *likelihood stage*, run first: the generator alone, fitted by
      weighted maximum likelihood on the bank masks of one (network, sparsity) per step (loss
      ``−Σ weight · log P(mask)``, the exact ``log_prob``; 0: no such stage, today's GAN from scratch).
    - ``steps``: steps of the *adversarial stage* that follows (0: likelihood only), each on
      ``batch_size`` real and as many generated masks of one (network, sparsity); learning rates
      ``lr_generator`` / ``lr_discriminator``.
    - A discriminator that cannot win outright: ``label_smoothing`` (the bank masks' target is
      ``1 − label_smoothing``), ``r1_weight`` (gradient penalty ``r1_weight/2 · E‖∂D/∂mask‖²`` on bank
      masks) and ``likelihood_weight`` (the likelihood stage's loss, estimated on each step's batch of bank
      masks, kept in the generator's loss during the adversarial stage: an anchor to the bank; 0: none).
    - ``critic_weight``: weight of the accuracy critic's standardised prediction in the generator's
      reward (0: the discriminator alone).
    - ``entropy_weight``: weight of the entropy bonus ``−log P(mask)`` in the reward (0: none); it
      keeps the distribution from collapsing onto one or two masks.
    - ``seed``: initial weights and every draw during training."""

    networks: tuple[int, ...] | None = None
    sparsities: tuple[float, ...] | None = None
    weight_temperature: float = 0.01
    features: tuple[str, ...] = FEATURES
    hidden: int = 32
    likelihood_steps: int = 0
    steps: int = 300
    batch_size: int = 32
    lr_generator: float = 5e-3
    lr_discriminator: float = 2e-3
    critic_weight: float = 0.0
    entropy_weight: float = 0.0
    label_smoothing: float = 0.0
    r1_weight: float = 0.0
    likelihood_weight: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.sparsities is not None:
            object.__setattr__(self, "sparsities", check_sparsities("GanConfig.sparsities", self.sparsities))
        if self.networks is not None:
            nets = check_sequence("GanConfig.networks", self.networks)
            nets = tuple(check_int("GanConfig.networks entry", n, 0) for n in nets)
            if not nets or len(set(nets)) != len(nets):
                raise ValueError(f"GanConfig.networks must be distinct bank indices, got {self.networks!r}")
            object.__setattr__(self, "networks", nets)
        feats = check_sequence("GanConfig.features",
                               (self.features,) if isinstance(self.features, str) else self.features)
        unknown = [f for f in feats if f not in FEATURES]
        if unknown or len(set(feats)) != len(feats):
            raise ValueError(f"GanConfig.features must be distinct names from {FEATURES}, "
                             f"got {self.features!r}")
        object.__setattr__(self, "features", feats)
        for name in ("hidden", "batch_size"):
            check_int(f"GanConfig.{name}", getattr(self, name), 1)
        check_int("GanConfig.steps", self.steps, 0)
        check_int("GanConfig.likelihood_steps", self.likelihood_steps, 0)
        if self.steps + self.likelihood_steps == 0:
            raise ValueError("GanConfig.steps and GanConfig.likelihood_steps are both 0: "
                             "at least one stage must train (steps ≥ 1 or likelihood_steps ≥ 1)")
        check_int("GanConfig.seed", self.seed, 0)
        for name in ("lr_generator", "lr_discriminator", "weight_temperature"):
            check_number(f"GanConfig.{name}", getattr(self, name), 0, low_open=True)
        check_number("GanConfig.critic_weight", self.critic_weight, 0)
        check_number("GanConfig.entropy_weight", self.entropy_weight, 0)
        check_number("GanConfig.label_smoothing", self.label_smoothing, 0, 0.49)
        check_number("GanConfig.r1_weight", self.r1_weight, 0)
        check_number("GanConfig.likelihood_weight", self.likelihood_weight, 0)

    def likelihood_stage(self) -> "GanConfig":
        """The config of this config's likelihood stage alone (what the adversarial stage starts from):
        ``steps=0`` and every adversarial-only setting at its default, so that designs which differ only
        in their adversarial stage share one likelihood fit."""
        if not self.likelihood_steps:
            raise ValueError("this GanConfig has no likelihood stage (likelihood_steps=0)")
        d = GanConfig()
        return replace(self, steps=0, lr_discriminator=d.lr_discriminator, critic_weight=0.0,
                       entropy_weight=0.0, label_smoothing=0.0, r1_weight=0.0, likelihood_weight=0.0,
                       batch_size=d.batch_size)

    @property
    def stage(self) -> str:
        """``"likelihood"`` (likelihood stage only), ``"gan"`` (adversarial only, from the untrained
        generator) or ``"likelihood+gan"``."""
        if self.steps == 0:
            return "likelihood"
        return "likelihood+gan" if self.likelihood_steps else "gan"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "GanConfig":
        d = dict(d)
        for key in ("sparsities", "features", "networks"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)
