"""The generator and discriminator networks (see :mod:`prunegan.gan` for the design)."""
from __future__ import annotations

import torch
from torch import nn


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
