"""Exact-count mask sampling and its straight-through relaxation."""
from __future__ import annotations

import torch


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


def logistic(shape, rng: torch.Generator) -> torch.Tensor:
    u = torch.rand(shape, generator=rng).clamp_(1e-6, 1 - 1e-6)
    return torch.log(u) - torch.log1p(-u)


def hard_topk(y: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """1.0 for the ``k[i]`` largest entries of each row ``y[i]``, else 0.0."""
    order = torch.argsort(y, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(y.shape[1]).expand_as(order).contiguous())
    return (ranks < k[:, None]).to(y.dtype)


def relaxed_masks(logits: torch.Tensor, k: torch.Tensor, tau: float, rng: torch.Generator) -> torch.Tensor:
    """Straight-through top-k samples: forward = the hard top-``k`` mask of ``logits + logistic
    noise``; backward = the gradient of ``σ((logits + noise + b') / τ)`` calibrated to ``k``."""
    y = logits + logistic(logits.shape, rng)
    hard = hard_topk(y.detach(), k)
    soft = torch.sigmoid((y + calibrate(y, k, tau)[:, None]) / tau)
    return hard + (soft - soft.detach())  # exactly `hard` forward; gradient of `soft` backward
