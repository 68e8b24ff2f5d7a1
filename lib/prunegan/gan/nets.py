"""The generator and discriminator networks (see :mod:`prunegan.gan` for the design)."""
from __future__ import annotations

import math

import torch
from torch import nn

from .features import ChannelFeatures


def _mlp(n_in: int, hidden: int, n_out: int, *, last_act: bool = False) -> nn.Sequential:
    layers = [nn.Linear(n_in, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, n_out)]
    return nn.Sequential(*layers, nn.LeakyReLU(0.2)) if last_act else nn.Sequential(*layers)


class GeneratorNet(nn.Module):
    """(channel features, sparsity) → the parameters of :class:`prunegan.gan.distribution.StructuredMasks`:
    a log-weight per channel ``(N,)`` and, per layer, a count log-factor per kept count ``(n_l + 1,)``.

    Channels are embedded by an MLP on (features, sparsity); a layer's context is the mean embedding
    of its channels, the network's the mean over layers. The weight head reads (channel, its layer,
    the network, sparsity); the count head reads (layer, network, the count as fractions and logs of
    the layer's width, sparsity). Both heads' last layers start at zero: the untrained generator is
    the uniform distribution over the masks that keep at least the minimum in every layer."""

    def __init__(self, n_features: int, hidden: int = 32) -> None:
        super().__init__()
        self.embed = _mlp(n_features + 1, hidden, hidden, last_act=True)
        self.weight_head = _mlp(3 * hidden + 1, hidden, 1)
        self.count_head = _mlp(2 * hidden + 4, hidden, 1)
        for head in (self.weight_head, self.count_head):
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
                             torch.log1p(k) / math.log1p(n), torch.full_like(k, math.log2(n) / 10),
                             torch.full_like(k, float(sparsity))], 1)
            thetas.append(self.count_head(ctx).squeeze(1))
        return log_w, thetas


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
