"""Did a generator learn its bank? Checks of a fitted generator, read before it is judged.

- :func:`discriminator_end`: the discriminator's mean probability on bank and on generated masks over the
  last :data:`TAIL` of the adversarial stage.
- :func:`diverged`: the divergence rule — the discriminator won outright (bank masks near 1, generated
  masks near 0: a probability gap of at least :data:`DIVERGENCE_GAP` at the end), from then on its
  reward carries no usable signal. A likelihood-only generator has no discriminator and never diverges.
- :func:`bank_likelihood`: the generator's weighted log-likelihood of its training bank masks (nats per
  mask) beside the untrained generator's (uniform over collapse-free masks): how much of its bank it
  reproduces, exactly.
"""
from __future__ import annotations

import math

import pandas as pd
import torch

from .examples import Examples
from .generator import Generator

#: Probability gap ``d_real − d_fake`` at the end of the adversarial stage from which a fit is diverged.
DIVERGENCE_GAP = 0.8
#: Share of the adversarial stage's last steps averaged by :func:`discriminator_end`.
TAIL = 0.1


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
        ll = [float((ex.weights * g.distribution(ex.feats, ex.sparsity).log_prob(ex.masks).double()).sum())
              for g in (generator, uniform)]
        rows.append({"network": ex.network, "sparsity": ex.sparsity, "loglik": ll[0], "loglik_uniform": ll[1],
                     "gain": ll[0] - ll[1]})
    return pd.DataFrame(rows, columns=["network", "sparsity", "loglik", "loglik_uniform", "gain"])


def fit_summary(generator: Generator) -> dict:
    """The discriminator's end probabilities, the divergence flag, the stage and the steps of a fitted
    generator (one row of a fit table)."""
    real, fake = discriminator_end(generator.history)
    return {"stage": generator.config.stage, "steps": len(generator.history), "d_real": real, "d_fake": fake,
            "diverged": diverged(generator.history)}
