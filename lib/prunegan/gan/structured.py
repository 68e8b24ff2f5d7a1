"""Issue 8's generator: a network that maps (channel features, target sparsity) to the parameters of
the exact structured distribution of :mod:`.distribution` — a log-weight per channel and a
count log-factor per (layer, kept count). Both heads start at zero, so an untrained generator is the
uniform distribution over the masks that keep ``K`` channels and at least one per layer.

Training is still a GAN: a discriminator on (network, mask) tells good bank masks from generated
ones, and its logit reaches the generator through the exact log-probability (score function with a
batch-mean baseline); an accuracy critic (:mod:`.critic`) can add its predicted accuracy to the
reward. Not yet wired into the book: notebook 06 still uses :mod:`.generator` (the first design).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..core import counts
from ..core.validate import check_int, check_number, check_sparsity
from .distribution import StructuredMasks
from .features import ChannelFeatures
from .nets import DiscriminatorNet, _mlp


class StructuredNet(nn.Module):
    """(features, sparsity) → (log-weights ``(N,)``, count log-factors: one ``(n_l + 1,)`` per layer)."""

    def __init__(self, n_features: int, hidden: int = 32) -> None:
        super().__init__()
        self.embed = _mlp(n_features + 1, hidden, hidden, last_act=True)
        self.weight_head = _mlp(3 * hidden + 1, hidden, 1)
        self.count_head = _mlp(2 * hidden + 4, hidden, 1)
        for head in (self.weight_head, self.count_head):  # start at the uniform distribution
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)

    def forward(self, feats: ChannelFeatures, sparsity: float) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x, pool = feats.x, feats.pool()
        s = torch.full((x.shape[0], 1), float(sparsity))
        h = self.embed(torch.cat([x, s], 1))                                    # (N, H)
        layer = pool @ h                                                         # (L, H)
        net = layer.mean(0, keepdim=True)                                        # (1, H)
        log_w = self.weight_head(torch.cat([h, layer[feats.layer_index], net.expand_as(h), s], 1)).squeeze(1)
        thetas = []
        for i, n in enumerate(feats.sizes):
            k = torch.arange(n + 1, dtype=torch.float32)[:, None]
            ctx = torch.cat([layer[i].expand(n + 1, -1), net.expand(n + 1, -1), k / n,
                             torch.log1p(k) / torch.log1p(torch.tensor(float(n))),
                             torch.full_like(k, torch.log2(torch.tensor(float(n))) / 10), torch.full_like(k, sparsity)], 1)
            thetas.append(self.count_head(ctx).squeeze(1))
        return log_w, thetas


def distribution(net: StructuredNet, feats: ChannelFeatures, sparsity: float,
                 min_channels_per_layer: int = 1) -> StructuredMasks:
    """The exact mask distribution ``net`` gives this network at ``sparsity`` (at least
    ``max(1, min_channels_per_layer)`` channels kept per layer)."""
    sparsity = check_sparsity(sparsity)
    k = counts.n_kept(feats.n_channels, sparsity)
    log_w, thetas = net(feats, sparsity)
    return StructuredMasks(feats.sizes, k, log_w, thetas, min_per_layer=max(1, min_channels_per_layer))


@dataclass(frozen=True)
class Examples:
    """Bank masks of one network at one sparsity: ``masks (M, N)`` 0/1 and their ``weights (M,)``
    (how much each counts as a real example; e.g. soft weights from retrained accuracy)."""

    feats: ChannelFeatures
    sparsity: float
    masks: torch.Tensor
    weights: torch.Tensor


@dataclass(frozen=True)
class StructuredGanConfig:
    """``steps`` of both networks, ``batch_size`` real and fake masks per step, learning rates,
    ``critic_weight`` (weight of the standardised critic prediction in the reward), ``seed``."""

    hidden: int = 32
    steps: int = 300
    batch_size: int = 32
    lr_generator: float = 5e-3
    lr_discriminator: float = 2e-3
    critic_weight: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("hidden", "steps", "batch_size"):
            check_int(f"StructuredGanConfig.{name}", getattr(self, name), 1)
        check_int("StructuredGanConfig.seed", self.seed, 0)
        for name in ("lr_generator", "lr_discriminator"):
            check_number(f"StructuredGanConfig.{name}", getattr(self, name), 0, low_open=True)
        check_number("StructuredGanConfig.critic_weight", self.critic_weight, 0)


def fit(examples: list[Examples], config: StructuredGanConfig = StructuredGanConfig(), *,
        critic=None) -> tuple[StructuredNet, list[dict]]:
    """Train a :class:`StructuredNet` against a discriminator on ``examples``; returns the net and
    one history row per step (losses, mean D output on real and fake masks, their gap, reward).
    ``critic``: an object with ``predict(feats, masks, sparsity) -> (B,)`` (see :mod:`.critic`)."""
    if not examples:
        raise ValueError("fit needs at least one Examples (bank masks of a network at a sparsity)")
    n_features = examples[0].feats.x.shape[1]
    rng = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        gen = StructuredNet(n_features, config.hidden)
        disc = DiscriminatorNet(n_features, config.hidden)
    opt_g = torch.optim.Adam(gen.parameters(), lr=config.lr_generator)
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr_discriminator, betas=(0.5, 0.999))
    history = []
    for step in range(1, config.steps + 1):
        ex = examples[int(torch.randint(len(examples), (1,), generator=rng))]
        pool = ex.feats.pool()
        s = torch.full((config.batch_size,), float(ex.sparsity))
        real = ex.masks[torch.multinomial(ex.weights.double(), config.batch_size, replacement=True,
                                          generator=rng)].float()
        dist = distribution(gen, ex.feats, ex.sparsity)
        fake = dist.sample(config.batch_size, rng).float()
        d_real, d_fake = disc(ex.feats.x, pool, s, real), disc(ex.feats.x, pool, s, fake)
        d_loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                  + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with torch.no_grad():
            reward = disc(ex.feats.x, pool, s, fake)
            if critic is not None and config.critic_weight > 0:
                pred = critic.predict(ex.feats, fake, ex.sparsity)
                reward = reward + config.critic_weight * (pred - pred.mean()) / pred.std().clamp_min(1e-6)
        logp = dist.log_prob(fake)
        g_loss = -((reward - reward.mean()).double() * logp).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        history.append({"step": step, "d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()),
                        "d_real": float(torch.sigmoid(d_real.detach()).mean()), "d_fake": float(torch.sigmoid(d_fake.detach()).mean()),
                        "d_gap": float((d_real - d_fake).detach().mean()), "reward": float(reward.mean())})
    return gen.eval(), history
