"""An exact distribution over structured masks: exactly ``K`` channels kept, at least ``m`` in every layer.

    P(mask) = (1/Z) · Π_layers exp(θ_l[k_l]) · Π_{kept c} w_c ,     k_l = channels kept in layer l,

with per-channel log-weights ``log w_c`` and per-layer count log-factors ``θ_l[k]`` (−∞ where
``k < m`` or ``k > n_l``). All parameters zero gives the uniform distribution over the masks that keep
``K`` channels and at least ``m`` per layer. Layer collapse is impossible for ``m >= 1``.

Everything is exact and differentiable (log-space dynamic programmes, no sampling in the gradient):

- per layer, the elementary symmetric polynomials ``e_k(w_l)`` (sum over the layer's ``k``-subsets of
  the product of their weights), as a prefix table over the layer's channels;
- over layers, the chain ``F_l(j) = Σ_k F_{l−1}(j − k) · exp(θ_l[k]) · e_k(w_l)``, so ``Z = F_L(K)``;
- ``log_prob(mask)`` in closed form; the per-channel keep-probabilities (marginals) as the gradient
  of ``log Z`` with respect to ``log w``;
- ``sample``: the counts backwards through the chain, then within each layer conditional-Poisson
  sampling of exactly ``k_l`` channels from its prefix table;
- ``mode``: the single most probable mask. For a fixed count ``k`` in layer ``l`` the best channels are
  the layer's ``k`` largest log-weights, so ``h_l[k] = θ_l[k] + (sum of the top-k log w)`` and a
  max-plus chain over layers (the same chain with ``max`` for ``logsumexp``) gives the exact mode.

Sizes are ``(N,)`` over all channels in layer order (the order of ``ChannelMask.to_vector``).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import torch

from .validate import check_int

NEG_INF = float("-inf")
#: "log 0" inside the tables: finite, so that gradients through logsumexp stay finite (exp underflows to 0).
LOG0 = -1e30


def _log_esp(log_w: torch.Tensor, k_max: int) -> torch.Tensor:
    """Prefix table ``E[i, k] = log e_k(w_1..w_i)`` for ``i = 0..n``, ``k = 0..k_max``: ``(n+1, k_max+1)``."""
    rows = [torch.full((k_max + 1,), LOG0, dtype=log_w.dtype)]
    rows[0] = torch.cat([torch.zeros(1, dtype=log_w.dtype), rows[0][1:]])
    for lw in log_w:
        prev = rows[-1]
        shifted = torch.cat([torch.full((1,), LOG0, dtype=log_w.dtype), prev[:-1] + lw])
        rows.append(torch.logaddexp(prev, shifted))
    return torch.stack(rows)


def _log_conv(f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``h(j) = log Σ_k exp(f(j − k) + g(k))`` for ``j = 0..len(f)−1``."""
    n = f.shape[0]
    j = torch.arange(n)[:, None]
    k = torch.arange(g.shape[0])[None, :]
    idx = j - k
    terms = torch.where(idx >= 0, f[idx.clamp(min=0)] + g[None, :].expand(n, -1),
                        torch.full((), LOG0, dtype=f.dtype))
    return torch.logsumexp(terms, dim=1)


class StructuredMasks:
    """The distribution above for layers of ``sizes`` keeping ``k`` channels, at least
    ``min_per_layer`` each. ``log_w``: ``(N,)``; ``count_logits``: one ``(n_l + 1,)`` tensor per
    layer (``θ_l[k]`` for ``k = 0..n_l``) or ``None`` for zeros. Raises ``ValueError`` when no mask
    satisfies the constraints (e.g. ``k`` below the number of layers with ``min_per_layer=1``)."""

    def __init__(self, sizes: Sequence[int], k: int, log_w: torch.Tensor | None = None,
                 count_logits: Sequence[torch.Tensor] | None = None, *, min_per_layer: int = 1) -> None:
        self.sizes = [check_int("layer size", s, 1) for s in sizes]
        if not self.sizes:
            raise ValueError("StructuredMasks needs at least one layer")
        self.n = sum(self.sizes)
        self.k = check_int("k (channels kept)", k, 0)
        self.min_per_layer = check_int("min_per_layer", min_per_layer, 0)
        if (self.k > self.n or self.k < self.min_per_layer * len(self.sizes)
                or min(self.sizes) < self.min_per_layer):
            raise ValueError(f"no mask keeps k={self.k} of {self.n} channels with at least "
                             f"{self.min_per_layer} in each of {len(self.sizes)} layers "
                             f"of sizes {self.sizes}")
        self.log_w = torch.zeros(self.n, dtype=torch.float64) if log_w is None else log_w.to(torch.float64)
        if self.log_w.shape != (self.n,):
            raise ValueError(f"log_w must have shape ({self.n},), got {tuple(self.log_w.shape)}")
        if count_logits is None:
            count_logits = [torch.zeros(s + 1, dtype=torch.float64) for s in self.sizes]
        if len(count_logits) != len(self.sizes) or any(t.shape != (s + 1,)
                                                       for t, s in zip(count_logits, self.sizes)):
            raise ValueError(f"count_logits must be one (n_l + 1,) tensor per layer of sizes {self.sizes}")
        self.count_logits = [t.to(torch.float64) for t in count_logits]
        self._tables()

    def _tables(self) -> None:
        """Per layer: prefix ESP table and ``g_l[k] = θ_l[k] + log e_k(w_l)`` (−∞ outside the bounds);
        the chain's forward tables ``F_0..F_L`` over kept counts ``0..k``."""
        self.esp, self.g = [], []
        start = 0
        for size, theta in zip(self.sizes, self.count_logits):
            table = _log_esp(self.log_w[start:start + size], min(size, self.k))
            allowed = torch.arange(table.shape[1]) >= self.min_per_layer
            self.esp.append(table)
            self.g.append(torch.where(allowed, table[-1] + theta[:table.shape[1]],
                                      torch.full((), LOG0, dtype=torch.float64)))
            start += size
        forward = [torch.cat([torch.zeros(1, dtype=torch.float64),
                              torch.full((self.k,), LOG0, dtype=torch.float64)])]
        for g in self.g:
            forward.append(_log_conv(forward[-1], g))
        self.forward = forward

    def log_partition(self) -> torch.Tensor:
        """``log Z`` (a scalar, differentiable in ``log_w`` and ``count_logits``)."""
        return self.forward[-1][self.k]

    def log_prob(self, masks: torch.Tensor) -> torch.Tensor:
        """``(B,)`` exact log-probabilities of ``(B, N)`` 0/1 masks (−∞ for masks outside the support)."""
        masks = torch.as_tensor(masks).to(torch.float64).reshape(-1, self.n)
        parts = torch.split(masks, self.sizes, dim=1)
        counts = torch.stack([part.sum(1) for part in parts], 1).round().long()
        count_term = sum(theta[counts[:, i].clamp(max=len(theta) - 1)]
                         for i, theta in enumerate(self.count_logits))
        binary = ((masks == 0) | (masks == 1)).all(1)
        ok = (counts >= self.min_per_layer).all(1) & (counts.sum(1) == self.k) & binary
        lp = count_term + masks @ self.log_w - self.log_partition()
        return torch.where(ok, lp, torch.full_like(lp, NEG_INF))

    def marginals(self) -> torch.Tensor:
        """``(N,)`` exact probability that each channel is kept (sums to ``k``): ``∂ log Z / ∂ log w``."""
        with torch.enable_grad():  # works inside torch.no_grad() too
            lw = self.log_w.detach().requires_grad_(True)
            theta = [t.detach() for t in self.count_logits]
            z = StructuredMasks(self.sizes, self.k, lw, theta,
                                min_per_layer=self.min_per_layer).log_partition()
            (grad,) = torch.autograd.grad(z, lw)
        return grad

    @functools.cached_property
    def _take_tables(self) -> list[list[list[float]]]:
        """Per layer, ``P[i][r]``: probability that channel ``i`` (1-based) is kept given that ``r`` of
        the layer's first ``i`` channels are to be kept (conditional-Poisson sampling, last channel
        first); ``P[i][0] = 0``. Python lists: :meth:`sample` walks them one channel at a time."""
        tables, start = [], 0
        for size, esp in zip(self.sizes, self.esp):
            with torch.no_grad():
                lw = self.log_w[start:start + size].detach()
                take = (lw[:, None] + esp[:-1, :-1].detach() - esp[1:, 1:].detach()).exp().clamp(0, 1)
            take = torch.nn.functional.pad(take, (1, 0, 1, 0))  # row i = 0 and column r = 0: never kept
            tables.append(take.tolist())
            start += size
        return tables

    @torch.no_grad()
    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """``(n, N)`` bool masks drawn exactly from the distribution with ``rng``. Per layer (last
        first) one draw of every mask's count, then one uniform per (channel, mask), channels last first."""
        n = check_int("n (number of masks)", n, 1)
        out = torch.zeros(n, self.n, dtype=torch.bool)
        remaining = torch.full((n,), self.k, dtype=torch.long)
        end = self.n
        for layer in range(len(self.sizes) - 1, -1, -1):
            g, before, size = self.g[layer], self.forward[layer], self.sizes[layer]
            ks = torch.arange(g.shape[0])
            idx = remaining[:, None] - ks[None, :]
            logits = torch.where(idx >= 0, before[idx.clamp(min=0)] + g[None, :], torch.full((), LOG0,
                                                                                              dtype=torch.float64))
            counts = torch.multinomial(torch.softmax(logits, 1), 1, generator=rng).squeeze(1)
            remaining -= counts
            p = self._take_tables[layer]
            uniforms = torch.rand(size, n, generator=rng, dtype=torch.float64).T.tolist()
            keep = [[False] * size for _ in range(n)]
            for row, r, u in zip(keep, counts.tolist(), uniforms):
                for j, i in enumerate(range(size, 0, -1)):  # channel i (1-based), last first
                    if u[j] < p[i][r]:
                        row[i - 1] = True
                        r -= 1
            out[:, end - size:end] = torch.tensor(keep, dtype=torch.bool)
            end -= size
        return out

    @torch.no_grad()
    def mode_counts(self) -> list[int]:
        """The kept count per layer of :meth:`mode`: the allocation that maximises
        ``Σ_l θ_l[k_l] + (sum of layer l's k_l largest log-weights)`` under ``Σ k_l = k`` and
        ``min_per_layer ≤ k_l ≤ n_l``. Ties between allocations of equal value go to the one that keeps
        more channels in earlier layers (the lexicographically largest count vector)."""
        heads = []  # heads[l][k] = θ_l[k] + top-k log-weight sum, −inf outside the bounds
        parts = torch.split(self.log_w.detach(), self.sizes)
        for lw, theta, size in zip(parts, self.count_logits, self.sizes):
            top = torch.sort(lw, descending=True, stable=True).values.tolist()
            prefix, run = [0.0], 0.0
            for v in top[:min(size, self.k)]:
                run += v
                prefix.append(run)
            th = theta.detach().tolist()
            heads.append([th[k] + prefix[k] if k >= self.min_per_layer else NEG_INF
                          for k in range(len(prefix))])
        # suffix[l][j]: best value of layers l.. keeping exactly j channels (max-plus chain from the end)
        suffix = [[NEG_INF] * (self.k + 1) for _ in range(len(heads) + 1)]
        suffix[-1][0] = 0.0
        for layer in range(len(heads) - 1, -1, -1):
            h, after = heads[layer], suffix[layer + 1]
            for j in range(self.k + 1):
                suffix[layer][j] = max((h[k] + after[j - k] for k in range(min(j, len(h) - 1) + 1)),
                                       default=NEG_INF)
        counts, left = [], self.k
        for layer, h in enumerate(heads):
            after = suffix[layer + 1]
            best = suffix[layer][left]
            # largest k first: the first count reaching the best value wins (same float expression)
            k = next(k for k in range(min(left, len(h) - 1), -1, -1) if h[k] + after[left - k] == best)
            counts.append(k)
            left -= k
        return counts

    @torch.no_grad()
    def mode(self) -> torch.Tensor:
        """``(N,)`` bool: the single most probable mask (exact), i.e. the argmax of :meth:`log_prob`
        over the support. Its allocation is :meth:`mode_counts`; in each layer it keeps the channels
        with the ``k_l`` largest log-weights, and among equal log-weights the lower channel index.
        Deterministic: the same parameters always give the same mask."""
        out = torch.zeros(self.n, dtype=torch.bool)
        start = 0
        for size, k, lw in zip(self.sizes, self.mode_counts(), torch.split(self.log_w.detach(), self.sizes)):
            keep = torch.sort(lw, descending=True, stable=True).indices[:k]
            out[start + keep] = True
            start += size
        return out
