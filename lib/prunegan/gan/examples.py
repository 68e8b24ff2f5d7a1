"""Training examples from a mask bank: the distinct masks of one network at one sparsity, with their
label (validation accuracy when the bank's networks have a validation split) and soft weight (what the GAN's
discriminator sees as real, what the critic learns to predict)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.masks import ChannelMask
from ..core.validate import check_number
from .features import ChannelFeatures, channel_features


@dataclass(frozen=True, eq=False)
class Examples:
    """Bank masks of network ``network`` at ``sparsity``: ``masks (M, N)`` 0/1 in the order of
    ``feats``, their ``accuracy (M,)`` (the bank's label: retrained validation accuracy, mean over its
    retraining seeds; see :attr:`prunegan.runs.bank.Bank.label`) and
    ``weights (M,)`` (soft weights summing to 1)."""

    network: int
    feats: ChannelFeatures
    sparsity: float
    masks: torch.Tensor
    accuracy: torch.Tensor
    weights: torch.Tensor


def from_bank(bank, *, networks=None, sparsities=None, temperature: float = 0.01,
              features=None) -> list[Examples]:
    """One :class:`Examples` per (network in ``networks``, sparsity in ``sparsities``) of ``bank``
    (``None``: all), weighted by :meth:`prunegan.runs.bank.Bank.weighted` at ``temperature``.
    Raises ``ValueError`` naming the value when the bank is empty, a network index is not in it, or a
    requested sparsity has no mask."""
    check_number("temperature", temperature, 0, low_open=True)
    if bank is None or len(bank) == 0:
        raise ValueError("the mask bank is empty: build it with "
                         "prunegan.runs.bank.build(BankConfig(...)) first")
    n_nets = len(bank.baselines)
    networks = tuple(range(n_nets)) if networks is None else tuple(networks)
    bad = [i for i in networks if not 0 <= i < n_nets]
    if bad:
        raise ValueError(f"networks {bad} are not in the bank (it holds networks 0..{n_nets - 1})")
    table = bank.weighted(temperature)
    have = sorted(set(table["sparsity"].round(6)))
    if sparsities is not None:
        missing = [s for s in sparsities if not np.isclose(have, s).any()]
        if missing:
            raise ValueError(f"the mask bank has no mask at sparsities {missing} (it has {have})")
    out = []
    for i in networks:
        feats = channel_features(bank.baselines[i].model, include_linear=bank.config.include_linear)
        if features is not None:
            feats = feats.select(features)
        for s in (have if sparsities is None else sparsities):
            rows = table[(table["baseline"] == i) & np.isclose(table["sparsity"], s)]
            if rows.empty:
                raise ValueError(f"the mask bank has no mask of network {i} at sparsity {s}")
            masks = torch.stack([ChannelMask.from_dict(m).to_vector().to(torch.float32)
                                 for m in rows["mask"]])
            out.append(Examples(i, feats, float(s), masks,
                                torch.tensor(rows[bank.label].to_numpy(), dtype=torch.float32),
                                torch.tensor(rows["weight"].to_numpy(), dtype=torch.float64)))
    return out
