"""Training the generator as a GAN on a mask bank (:func:`fit`).

Each step takes the bank masks of one (network, sparsity) (:mod:`.examples`): ``batch_size`` real
masks drawn with the bank's soft weights, as many generated masks sampled exactly from the
generator's distribution. The discriminator learns real against generated (cross-entropy). The
generator's reward for a mask is the discriminator's logit on it (plus ``critic_weight`` × the
accuracy critic's standardised prediction, if a critic is given); its gradient reaches the generator
through the exact log-probability of the mask (score function, REINFORCE, with the batch's mean
reward as baseline), so the per-layer counts and the channel choice both move.
"""
from __future__ import annotations

import hashlib
import time
import warnings

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..core.store import Run, canonical_json
from ..core.validate import check_int
from ..pruning.engine import CPU_THREADS, cpu_threads
from .config import MODEL_VERSION, GanConfig
from .critic import AccuracyCritic
from .examples import Examples, from_bank
from .features import FEATURE_VERSION, FEATURES
from .generator import Generator
from .nets import DiscriminatorNet


def training_set(bank, config: GanConfig) -> list[Examples]:
    """The weighted bank masks ``config`` learns from (its networks and sparsities)."""
    return from_bank(bank, networks=config.networks, sparsities=config.sparsities,
                     temperature=config.weight_temperature, features=config.features)


def _digest(examples: list[Examples]) -> str:
    """Short hash of the examples' networks, sparsities, features, masks and accuracies."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(canonical_json([ex.network, round(ex.sparsity, 6)]).encode())
        for t in (ex.feats.x, ex.masks, ex.accuracy):
            h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


def _run_key(examples: list[Examples], include_linear: bool, config: GanConfig, critic) -> dict:
    crit = None
    if critic is not None and config.critic_weight > 0:
        crit = hashlib.sha256(b"".join(t.numpy().tobytes() for t in critic.net.state_dict().values())).hexdigest()[:16]
    return {"feature_version": FEATURE_VERSION, "model_version": MODEL_VERSION, "gan": config,
            "include_linear": include_linear, "examples": _digest(examples), "critic": crit}


def fit(bank, config: GanConfig = GanConfig(), *, critic=None, progress: bool = True,
        cache: bool = True) -> Generator:
    """Train a generator on ``bank`` (or load it from the cache, ``results/gan_<hash>/generator.pt``),
    with one CPU thread so that the result does not depend on the machine's cores.
    ``critic``: a trained :class:`prunegan.gan.critic.AccuracyCritic`, used when
    ``config.critic_weight > 0``. ``generator.history`` holds, per step, the losses, the
    discriminator's mean probability on real and generated masks and their logit gap ``d_gap``,
    the mean reward, and ``seconds`` since the start."""
    if config.critic_weight > 0 and critic is None:
        raise ValueError(f"GanConfig.critic_weight={config.critic_weight} needs critic=<trained AccuracyCritic>")
    examples = training_set(bank, config)
    include_linear = bank.config.include_linear
    run = Run("gan", _run_key(examples, include_linear, config, critic)) if cache else None
    if run is not None and run.exists("generator.pt"):
        try:
            return Generator.load(run.file("generator.pt"))
        except ValueError as exc:
            warnings.warn(f"{exc}; retraining it", stacklevel=2)
    with cpu_threads(CPU_THREADS):
        gen = _train(examples, config, include_linear, critic, progress)
    if run is not None:
        gen.save(run.file("generator.pt"))
    return gen


def fit_critic(bank, *, networks, steps: int = 500, seed: int = 0, hidden: int = 32,
               cache: bool = True) -> AccuracyCritic:
    """An :class:`AccuracyCritic` trained on the bank masks of ``networks`` (indices into the bank's
    baselines) for ``steps`` steps, or loaded from the cache (``results/critic_<hash>/critic.pt``,
    keyed by the examples, ``steps``, ``seed``, ``hidden`` and the versions). ``critic.seconds`` is
    the wall time of the fit that made it, also when it was loaded."""
    examples = from_bank(bank, networks=networks)
    key = {"feature_version": FEATURE_VERSION, "model_version": MODEL_VERSION, "examples": _digest(examples),
           "steps": check_int("steps", steps, 1), "seed": check_int("seed", seed, 0),
           "hidden": check_int("hidden", hidden, 1)}
    run = Run("critic", key) if cache else None
    state = run.load_torch("critic.pt") if run is not None else None
    if state is not None:
        return AccuracyCritic.from_state(state)
    critic = AccuracyCritic(len(FEATURES), hidden, seed).fit(examples, steps=steps)
    if run is not None:
        run.save_torch("critic.pt", critic.state())
    return critic


def _train(examples: list[Examples], config: GanConfig, include_linear: bool, critic, progress: bool) -> Generator:
    rng = torch.Generator().manual_seed(config.seed)
    gen = Generator(config, include_linear=include_linear)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + 1)
        disc = DiscriminatorNet(len(config.features), config.hidden)
    gen.net.train()
    opt_g = torch.optim.Adam(gen.net.parameters(), lr=config.lr_generator)
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr_discriminator, betas=(0.5, 0.999))
    use_critic = critic is not None and config.critic_weight > 0
    history, start = [], time.perf_counter()
    bar = tqdm(range(1, config.steps + 1), desc="GAN", unit="step", disable=not progress, mininterval=5)
    for step in bar:
        ex = examples[int(torch.randint(len(examples), (1,), generator=rng))]
        pool = ex.feats.pool()
        s = torch.full((config.batch_size,), float(ex.sparsity))
        real = ex.masks[torch.multinomial(ex.weights, config.batch_size, replacement=True, generator=rng)]
        dist = gen.distribution(ex.feats, ex.sparsity)
        fake = dist.sample(config.batch_size, rng).float()
        d_real, d_fake = disc(ex.feats.x, pool, s, real), disc(ex.feats.x, pool, s, fake)
        d_loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                  + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with torch.no_grad():
            reward = disc(ex.feats.x, pool, s, fake)
            if use_critic:
                pred = critic.predict(ex.feats, fake, ex.sparsity)
                reward = reward + config.critic_weight * (pred - pred.mean()) / pred.std().clamp_min(1e-6)
        g_loss = -((reward - reward.mean()).double() * dist.log_prob(fake)).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        history.append({"step": step, "d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()),
                        "d_real": float(torch.sigmoid(d_real.detach()).mean()),
                        "d_fake": float(torch.sigmoid(d_fake.detach()).mean()),
                        "d_gap": float((d_real - d_fake).detach().mean()), "reward": float(reward.mean()),
                        "seconds": time.perf_counter() - start})
        if step % 20 == 0 or step == config.steps:
            bar.set_postfix(d_loss=f"{history[-1]['d_loss']:.3f}", d_gap=f"{history[-1]['d_gap']:.2f}")
    gen.net.eval()
    gen.history = history
    return gen
