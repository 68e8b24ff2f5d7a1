"""Did a generator learn its bank? Checks of a fitted generator, read before it is judged.

- :func:`discriminator_end`: the discriminator's mean probability on bank and on generated masks over the
  last :data:`TAIL` of the adversarial stage.
- :func:`diverged`: the divergence rule — the discriminator won outright (bank masks near 1, generated
  masks near 0: a probability gap of at least :data:`DIVERGENCE_GAP` at the end), from then on its
  reward carries no usable signal. A likelihood-only generator has no discriminator and never diverges.
- :func:`bank_likelihood`: the generator's weighted log-likelihood of its training bank masks (nats per
  mask) beside the untrained generator's (uniform over collapse-free masks): how much of its bank it
  reproduces, exactly.
- :func:`form_ceiling`: the generator's distribution at its best on one (network, sparsity), features
  aside (free parameters fitted to the bank masks): what its form can reproduce of its bank at most.
"""
from __future__ import annotations

import math

import pandas as pd
import torch

from ..core import counts
from ..core.distribution import StructuredMasks
from ..core.validate import check_int, check_number
from .examples import Examples
from .generator import Generator

#: Probability gap ``d_real − d_fake`` at the end of the adversarial stage from which a fit is diverged.
DIVERGENCE_GAP = 0.8
#: Share of the adversarial stage's last steps averaged by :func:`discriminator_end`.
TAIL = 0.1
#: Adam steps and learning rate of :func:`form_ceiling` (converged: on a one-channel-per-layer landscape its
#: marginals match the weighted bank's to 2e-3, ``tests/test_gan_stages.py``).
FORM_STEPS, FORM_LR = 400, 0.1


def likelihood_loss(dist, ex: Examples) -> torch.Tensor:
    """The weighted negative log-likelihood ``−Σ weight · log P(mask)`` (nats, float64) of the bank
    masks of ``ex`` under the distribution ``dist`` (the weights sum to 1)."""
    return -(ex.weights * dist.log_prob(ex.masks).double()).sum()


def discriminator_end(history: list[dict], tail: float = TAIL) -> tuple[float, float]:
    """``(d_real, d_fake)``: the discriminator's mean probability on bank and generated masks over the
    last ``tail`` share (at least one step) of the adversarial steps of ``history``; ``(nan, nan)``
    when the generator had no adversarial stage."""
    rows = [h for h in history if h.get("stage", "adversarial") == "adversarial" and "d_real" in h]
    if not rows:
        return math.nan, math.nan
    last = rows[-max(1, int(round(tail * len(rows)))):]
    return (sum(h["d_real"] for h in last) / len(last), sum(h["d_fake"] for h in last) / len(last))


def diverged(history: list[dict], gap: float = DIVERGENCE_GAP) -> bool:
    """Whether the discriminator won outright: ``d_real − d_fake >= gap`` at the end
    (:func:`discriminator_end`). False without an adversarial stage."""
    real, fake = discriminator_end(history)
    return not math.isnan(real) and real - fake >= gap


@torch.no_grad()
def bank_likelihood(generator: Generator, examples: list[Examples]) -> pd.DataFrame:
    """Per (network, sparsity) of ``examples``: the weighted mean log-probability of the bank masks
    (nats per mask, soft weights) under ``generator`` (``loglik``) and under the untrained generator
    of the same config, the uniform distribution over collapse-free masks (``loglik_uniform``), and
    ``gain`` = the difference (> 0: the generator puts more mass on its bank than chance does)."""
    uniform = Generator(generator.config, include_linear=generator.include_linear)
    rows = []
    for ex in examples:
        ll = [-float(likelihood_loss(g.distribution(ex.feats, ex.sparsity), ex))
              for g in (generator, uniform)]
        rows.append({"network": ex.network, "sparsity": ex.sparsity, "loglik": ll[0], "loglik_uniform": ll[1],
                     "gain": ll[0] - ll[1]})
    return pd.DataFrame(rows, columns=["network", "sparsity", "loglik", "loglik_uniform", "gain"])


def form_ceiling(ex: Examples, *, min_per_layer: int = 1, steps: int = FORM_STEPS,
                 lr: float = FORM_LR) -> StructuredMasks:
    """The generator's form at its best on the bank masks of ``ex`` (one network and sparsity), its
    features aside: the exact distribution of :class:`~prunegan.core.distribution.StructuredMasks` with a
    free log-weight per channel ``(N,)`` and free count logits per layer, fitted by weighted maximum
    likelihood (:func:`likelihood_loss`, ``steps`` Adam steps at ``lr`` from the uniform distribution;
    deterministic). A generator whose features told it everything about this network could reach it; the
    distance between the two is what the features (and the fit) cost."""
    steps = check_int("steps", steps, 1)
    lr = check_number("lr", lr, 0, low_open=True)
    sizes = list(ex.feats.sizes)
    k = counts.n_kept(ex.feats.n_channels, ex.sparsity)
    log_w = torch.zeros(sum(sizes), dtype=torch.float64, requires_grad=True)
    thetas = [torch.zeros(n + 1, dtype=torch.float64, requires_grad=True) for n in sizes]
    opt = torch.optim.Adam([log_w, *thetas], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            loss = likelihood_loss(StructuredMasks(sizes, k, log_w, thetas, min_per_layer=min_per_layer), ex)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return StructuredMasks(sizes, k, log_w.detach(), [t.detach() for t in thetas],
                           min_per_layer=min_per_layer)


def fit_summary(generator: Generator) -> dict:
    """The discriminator's end probabilities, the divergence flag, the stage and the steps of a fitted
    generator (one row of a fit table)."""
    real, fake = discriminator_end(generator.history)
    return {"stage": generator.config.stage, "steps": len(generator.history), "d_real": real, "d_fake": fake,
            "diverged": diverged(generator.history)}
