"""Training the GAN on a mask bank's good masks (:func:`fit`)."""
from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..core.store import Run, canonical_json
from ..pruning.engine import CPU_THREADS, cpu_threads
from ..runs.bank import Bank
from .config import MODEL_VERSION, GanConfig
from .features import FEATURE_VERSION, ChannelFeatures, channel_features
from .generator import Generator
from .nets import DiscriminatorNet
from .relax import relaxed_masks


@dataclass
class _Group:
    """Real masks of one bank network, with its features."""

    feats: ChannelFeatures
    pool: torch.Tensor
    masks: torch.Tensor      # (M, N) float
    sparsity: torch.Tensor   # (M,)
    keep: torch.Tensor       # (M,) long

    def draw(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """Indices of ``n`` real masks: a sparsity uniformly among those present, then a mask at it
        (so a sparsity with few good masks is seen as often as one with many)."""
        levels = torch.unique(self.sparsity)
        pick = levels[torch.randint(len(levels), (n,), generator=rng)]
        out = []
        for level in pick:
            idx = torch.nonzero(self.sparsity == level).flatten()
            out.append(idx[int(torch.randint(len(idx), (1,), generator=rng))])
        return torch.stack(out)


def training_set(bank: Bank, config: GanConfig) -> list[_Group]:
    """The good masks of ``bank`` grouped by network, with the networks' features."""
    if bank is None or len(bank) == 0:
        raise ValueError("the mask bank is empty: build it with prunegan.bank.build(BankConfig(...)) first")
    good = bank.good_masks(config.good, sparsities=config.sparsities)
    groups = []
    for index, base in enumerate(bank.baselines):
        mine = [(s, m) for b, s, m in good if b == index]
        if not mine:
            continue
        feats = channel_features(base.model, include_linear=bank.config.include_linear).select(config.features)
        masks = torch.stack([m.to_vector().to(torch.float32) for _, m in mine])
        sparsity = torch.tensor([s for s, _ in mine], dtype=torch.float32)
        groups.append(_Group(feats, feats.pool(), masks, sparsity, masks.sum(1).round().long()))
    if not groups:
        raise ValueError(f"the mask bank has no good mask (rule: {config.good.describe()})")
    return groups


@dataclass(frozen=True)
class _Loss:
    """A GAN loss: the discriminator's loss, the generator's loss on D's outputs for its fakes, and
    how D's raw output is shown in the history (a probability for BCE, the critic value for WGAN)."""

    discriminator: Callable
    generator: Callable[[torch.Tensor], torch.Tensor]
    output: Callable[[torch.Tensor], torch.Tensor]


def _bce_discriminator(disc, g, s, real, fake, d_real, d_fake, config, rng) -> torch.Tensor:
    """Cross-entropy of real (label ``1 − smoothing``) against fake (label 0) masks."""
    return (F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, 1.0 - config.smoothing))
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))


def _wgan_gp_discriminator(disc, g, s, real, fake, d_real, d_fake, config, rng) -> torch.Tensor:
    """Critic difference + gradient penalty on masks interpolated between real and fake."""
    alpha = torch.rand((config.batch_size, 1), generator=rng)
    mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(disc(g.feats.x, g.pool, s, mix).sum(), mix, create_graph=True)
    return d_fake.mean() - d_real.mean() + config.gp_weight * ((grad.norm(dim=1) - 1) ** 2).mean()


#: The losses of :data:`prunegan.gan.config.LOSSES`, by name.
LOSS_FUNCTIONS = {
    "bce": _Loss(_bce_discriminator, lambda out: F.binary_cross_entropy_with_logits(out, torch.ones_like(out)),
                 torch.sigmoid),
    "wgan-gp": _Loss(_wgan_gp_discriminator, lambda out: -out.mean(), lambda out: out),
}


def _run_key(bank: Bank, config: GanConfig) -> dict:
    good = bank.good_masks(config.good, sparsities=config.sparsities)
    digest = hashlib.sha256(canonical_json([(b, round(s, 6), m.key()) for b, s, m in good]).encode()).hexdigest()
    return {"feature_version": FEATURE_VERSION, "model_version": MODEL_VERSION, "gan": config,
            "baselines": bank.config.baselines,
            "include_linear": bank.config.include_linear, "good_masks": digest[:16]}


def fit(bank: Bank, config: GanConfig = GanConfig(), *, progress: bool = True, cache: bool = True) -> Generator:
    """Train a generator on the good masks of ``bank`` (see :func:`_fit`) with a fixed number of CPU
    threads (:data:`prunegan.pruning.engine.CPU_THREADS`): the result then does not depend on the machine's cores."""
    with cpu_threads(CPU_THREADS):
        return _fit(bank, config, progress=progress, cache=cache)


def _fit(bank: Bank, config: GanConfig, *, progress: bool, cache: bool) -> Generator:
    """Train a generator on the good masks of ``bank`` (or load it from the cache,
    ``results/gan_<hash>/generator.pt``). ``generator.history`` holds, per step, the
    discriminator and generator losses and the discriminator's mean output on real and fake masks."""
    groups = training_set(bank, config)
    run = Run("gan", _run_key(bank, config)) if cache else None
    if run is not None and run.exists("generator.pt"):
        try:
            return Generator.load(run.file("generator.pt"))
        except ValueError as exc:
            warnings.warn(f"{exc}; retraining it", stacklevel=2)
    rng = torch.Generator().manual_seed(config.seed)
    gen = Generator(config, include_linear=bank.config.include_linear)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + 1)
        disc = DiscriminatorNet(len(config.features), config.hidden)
    g_net = gen.net.train()
    opt_g = torch.optim.Adam(g_net.parameters(), lr=config.lr_generator, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr_discriminator, betas=(0.5, 0.999))
    loss = LOSS_FUNCTIONS[config.loss]
    history = []
    bar = tqdm(range(1, config.steps + 1), desc="GAN", unit="step", disable=not progress, mininterval=5)
    for step in bar:
        g = groups[int(torch.randint(len(groups), (1,), generator=rng))]
        idx = g.draw(config.batch_size, rng)
        real, s, k = g.masks[idx], g.sparsity[idx], g.keep[idx]
        for _ in range(config.d_steps):
            z = gen._noise(config.batch_size, rng)
            with torch.no_grad():
                fake = relaxed_masks(g_net(g.feats.x, g.pool, g.feats.layer_index, s, z), k, config.tau, rng)
            d_real, d_fake = disc(g.feats.x, g.pool, s, real), disc(g.feats.x, g.pool, s, fake)
            d_loss = loss.discriminator(disc, g, s, real, fake, d_real, d_fake, config, rng)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()

        z = gen._noise(config.batch_size, rng)
        fake = relaxed_masks(g_net(g.feats.x, g.pool, g.feats.layer_index, s, z), k, config.tau, rng)
        g_out = disc(g.feats.x, g.pool, s, fake)
        g_loss = loss.generator(g_out)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()

        history.append({"step": step, "d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()),
                        "d_real": float(loss.output(d_real.detach()).mean()),
                        "d_fake": float(loss.output(d_fake.detach()).mean())})
        if step % 20 == 0 or step == config.steps:
            bar.set_postfix(d_loss=f"{history[-1]['d_loss']:.3f}", g_loss=f"{history[-1]['g_loss']:.3f}")
    gen.net.eval()
    gen.history = history
    if run is not None:
        gen.save(run.file("generator.pt"))
        run.write_json("history.json", history)
    return gen
