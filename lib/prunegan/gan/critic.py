"""The accuracy critic: predicts a mask's retrained accuracy from (network's channel features, mask,
sparsity), trained on bank masks; an auxiliary reward for the generator and a selector for
best-of-K search. Its quality is its rank correlation (Spearman) with measured accuracy on masks of
networks it was not trained on."""
from __future__ import annotations

import time

import torch
from scipy import stats

from ..core.validate import check_int, check_number
from ..train import CPU_THREADS, cpu_threads
from .examples import Examples
from .features import FEATURES, ChannelFeatures, channel_features
from .nets import DiscriminatorNet


class AccuracyCritic:
    """A set-of-sets regressor (the discriminator's architecture with a regression output).
    Untrained until :meth:`fit`; ``losses`` holds the training loss per step."""

    def __init__(self, n_features: int, hidden: int = 32, seed: int = 0, *,
                 feature_names: tuple[str, ...] | None = None) -> None:
        self.seed = check_int("seed", seed, 0)
        self.feature_names = tuple(FEATURES if feature_names is None else feature_names)
        unknown = [f for f in self.feature_names if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown channel features {unknown}; valid: {', '.join(FEATURES)}")
        if len(self.feature_names) != n_features:
            raise ValueError(f"n_features={n_features} but feature_names has {len(self.feature_names)} names")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.n_features = check_int("n_features", n_features, 1)
            self.hidden = check_int("hidden", hidden, 1)
            self.net = DiscriminatorNet(self.n_features, self.hidden)
        self.mean, self.std = 0.0, 1.0
        self.losses: list[float] = []
        self.seconds = 0.0  # wall time of fit()

    def features(self, model, *, include_linear: bool = False, inputs=None, labels=None) -> ChannelFeatures:
        """The channel features of ``model`` this critic reads (:attr:`feature_names`; ``inputs``,
        ``labels``: see :func:`prunegan.gan.features.channel_features`)."""
        return channel_features(model, include_linear=include_linear, inputs=inputs, labels=labels,
                                features=self.feature_names)

    @torch.no_grad()
    def predict(self, feats: ChannelFeatures, masks: torch.Tensor, sparsity: float) -> torch.Tensor:
        """``(B,)`` predicted retrained accuracy of ``(B, N)`` 0/1 masks."""
        if not self.losses:
            raise ValueError("the accuracy critic is untrained: call AccuracyCritic.fit(examples) first")
        masks = torch.as_tensor(masks).float().reshape(-1, feats.n_channels)
        s = torch.full((masks.shape[0],), float(sparsity))
        with cpu_threads(CPU_THREADS):
            return self.net(feats.x, feats.pool(), s, masks) * self.std + self.mean

    def fit(self, data: list[Examples], *, steps: int = 500, batch_size: int = 64,
            lr: float = 3e-3) -> "AccuracyCritic":
        """Mean-squared-error training on accuracies standardised over ``data`` (every draw from a
        generator seeded with :attr:`seed`); returns ``self``."""
        check_int("steps", steps, 1)
        check_int("batch_size", batch_size, 1)
        check_number("lr", lr, 0, low_open=True)
        if not data:
            raise ValueError("the critic needs at least one Examples set (bank masks with accuracies)")
        acc = torch.cat([d.accuracy for d in data]).float()
        self.mean, self.std = float(acc.mean()), float(acc.std().clamp_min(1e-6)) if len(acc) > 1 else 1.0
        rng = torch.Generator().manual_seed(self.seed)
        start = time.perf_counter()
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        with cpu_threads(CPU_THREADS):
            for _ in range(steps):
                d = data[int(torch.randint(len(data), (1,), generator=rng))]
                idx = torch.randint(len(d.masks), (batch_size,), generator=rng)
                s = torch.full((batch_size,), float(d.sparsity))
                pred = self.net(d.feats.x, d.feats.pool(), s, d.masks[idx].float())
                loss = ((pred - (d.accuracy[idx].float() - self.mean) / self.std) ** 2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                self.losses.append(float(loss.detach()))
        self.seconds = time.perf_counter() - start
        return self

    def state(self) -> dict:
        """Everything :meth:`from_state` needs: weights, standardisation, losses, fit seconds."""
        return {"state_dict": self.net.state_dict(), "hidden": self.hidden, "n_features": self.n_features,
                "seed": self.seed, "feature_names": list(self.feature_names), "mean": self.mean,
                "std": self.std, "losses": list(self.losses),
                "seconds": self.seconds}

    @classmethod
    def from_state(cls, state: dict) -> "AccuracyCritic":
        """The critic :meth:`state` was taken from (bit-identical weights)."""
        critic = cls(state["n_features"], state["hidden"], state["seed"],
                     feature_names=tuple(state.get("feature_names", FEATURES)))
        critic.net.load_state_dict(state["state_dict"])
        critic.mean, critic.std = state["mean"], state["std"]
        critic.losses, critic.seconds = list(state["losses"]), state["seconds"]
        return critic

    def spearman(self, data: Examples) -> float:
        """Rank correlation of predicted and measured accuracy on ``data``."""
        pred = self.predict(data.feats, data.masks, data.sparsity)
        return float(stats.spearmanr(pred.numpy(), data.accuracy.numpy()).statistic)

    def best_of(self, feats: ChannelFeatures, masks: torch.Tensor, sparsity: float) -> int:
        """Index of the mask (row of ``(K, N)`` ``masks``) with the highest predicted accuracy."""
        return int(self.predict(feats, masks, sparsity).argmax())
