"""The accuracy critic: predicts a mask's retrained accuracy from (network's channel features, mask,
sparsity), trained on bank masks; used as an auxiliary reward and for best-of-K selection. Its quality
is its rank correlation (Spearman) with measured accuracy on masks it was not trained on."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from scipy import stats

from ..core.validate import check_int, check_number
from .features import ChannelFeatures
from .nets import DiscriminatorNet


@dataclass(frozen=True)
class Labelled:
    """Masks ``(M, N)`` of one network at one sparsity with their measured accuracy ``(M,)``."""

    feats: ChannelFeatures
    sparsity: float
    masks: torch.Tensor
    accuracy: torch.Tensor


class AccuracyCritic:
    """A set-of-sets regressor (the discriminator's architecture with a regression output)."""

    def __init__(self, n_features: int, hidden: int = 32, seed: int = 0) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = DiscriminatorNet(n_features, hidden)
        self.mean, self.std = 0.0, 1.0

    @torch.no_grad()
    def predict(self, feats: ChannelFeatures, masks: torch.Tensor, sparsity: float) -> torch.Tensor:
        """``(B,)`` predicted retrained accuracy of ``(B, N)`` masks."""
        masks = masks.float()
        s = torch.full((masks.shape[0],), float(sparsity))
        return self.net(feats.x, feats.pool(), s, masks) * self.std + self.mean

    def fit(self, data: list[Labelled], *, steps: int = 500, batch_size: int = 64, lr: float = 3e-3,
            seed: int = 0) -> list[float]:
        """Mean-squared-error training on standardised accuracies; returns the loss per step."""
        check_int("steps", steps, 1)
        check_int("batch_size", batch_size, 1)
        check_number("lr", lr, 0, low_open=True)
        if not data:
            raise ValueError("the critic needs at least one Labelled set of masks")
        acc = torch.cat([d.accuracy for d in data]).float()
        self.mean, self.std = float(acc.mean()), float(acc.std().clamp_min(1e-6))
        rng = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        losses = []
        for _ in range(steps):
            d = data[int(torch.randint(len(data), (1,), generator=rng))]
            idx = torch.randint(len(d.masks), (batch_size,), generator=rng)
            s = torch.full((batch_size,), float(d.sparsity))
            pred = self.net(d.feats.x, d.feats.pool(), s, d.masks[idx].float())
            loss = ((pred - (d.accuracy[idx].float() - self.mean) / self.std) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return losses

    def spearman(self, data: Labelled) -> float:
        """Rank correlation of predicted and measured accuracy on ``data``."""
        pred = self.predict(data.feats, data.masks, data.sparsity)
        return float(stats.spearmanr(pred.numpy(), data.accuracy.numpy()).statistic)
