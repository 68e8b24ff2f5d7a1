"""Training the generator on a mask bank (:func:`fit`): an optional *likelihood stage* (weighted maximum
likelihood of the bank masks under the exact ``log_prob``, no discriminator), then the *adversarial stage*.

Each adversarial step takes the bank masks of one (network, sparsity) (:mod:`.examples`): ``batch_size`` real
masks drawn with the bank's soft weights, as many generated masks sampled exactly from the
generator's distribution. The discriminator learns real against generated (cross-entropy). The
generator's reward for a mask is the discriminator's logit on it (plus ``critic_weight`` × the
accuracy critic's standardised prediction, if a critic is given, plus ``entropy_weight`` × the
mask's surprisal ``−log P(mask)``, the score-function form of an entropy bonus); its gradient
reaches the generator through the exact log-probability of the mask (score function, REINFORCE,
with the batch's mean reward as baseline), so the per-layer counts and the channel choice both move.
The discriminator can be kept from winning outright by one-sided label smoothing and an R1 gradient
penalty on bank masks; ``likelihood_weight`` keeps the likelihood loss in the generator's loss.
"""
from __future__ import annotations

import time
import warnings

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..core.store import Run, config_digest, weights_digest
from ..core.validate import check_int
from ..train import CPU_THREADS, cpu_threads
from .config import MODEL_VERSION, GanConfig
from .critic import AccuracyCritic
from .diagnostics import bank_likelihood, likelihood_loss
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
    return config_digest([[ex.network, round(ex.sparsity, 6),
                           weights_digest([ex.feats.x, ex.masks, ex.accuracy])] for ex in examples])


def _run_key(examples: list[Examples], include_linear: bool, config: GanConfig, critic) -> dict:
    crit = None
    if critic is not None and config.critic_weight > 0:
        crit = weights_digest(critic.net)
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
    _check_critic(config, critic)
    return _fit_examples(training_set(bank, config), bank.config.include_linear, config, critic,
                         progress, cache)


def _check_critic(config: GanConfig, critic) -> None:
    if config.critic_weight > 0 and critic is None:
        raise ValueError(f"GanConfig.critic_weight={config.critic_weight} "
                         "needs critic=<trained AccuracyCritic>")
    if config.critic_weight > 0 and tuple(critic.feature_names) != tuple(config.features):
        raise ValueError(f"the critic reads features {list(critic.feature_names)}, the generator "
                         f"{list(config.features)}: fit the critic with features=config.features")


def _fit_examples(examples, include_linear: bool, config: GanConfig, critic, progress: bool,
                  cache: bool) -> Generator:
    """:func:`fit` on a training set already built (``examples``, from :func:`training_set`). A
    likelihood + GAN config starts from the likelihood stage's generator, itself a cached fit
    (:meth:`GanConfig.likelihood_stage`), so designs that differ only in their adversarial stage share it."""
    run = Run("gan", _run_key(examples, include_linear, config, critic)) if cache else None
    if run is not None and run.exists("generator.pt"):
        try:
            return Generator.load(run.file("generator.pt"))
        except ValueError as exc:
            warnings.warn(f"{exc}; retraining it", stacklevel=2)
    start = None
    if config.stage == "likelihood+gan":
        start = _fit_examples(examples, include_linear, config.likelihood_stage(), None, progress, cache)
    with cpu_threads(CPU_THREADS):
        gen = _train(examples, config, include_linear, critic, progress, start)
    gen.fit_report = {"bank_gain": float(bank_likelihood(gen, examples)["gain"].mean())}
    if run is not None:
        gen.save(run.file("generator.pt"))
    return gen


def fit_critic(bank, *, networks, steps: int = 500, seed: int = 0, hidden: int = 32,
               features: tuple[str, ...] = FEATURES, cache: bool = True) -> AccuracyCritic:
    """An :class:`AccuracyCritic` trained on the bank masks of ``networks`` (indices into the bank's
    baselines) for ``steps`` steps, or loaded from the cache (``results/critic_<hash>/critic.pt``,
    keyed by the examples, ``steps``, ``seed``, ``hidden``, ``features`` (the channel features it
    reads) and the versions). ``critic.seconds`` is
    the wall time of the fit that made it, also when it was loaded."""
    features = tuple(features)
    examples = from_bank(bank, networks=networks, features=features)
    key = {"feature_version": FEATURE_VERSION, "model_version": MODEL_VERSION, "examples": _digest(examples),
           "steps": check_int("steps", steps, 1), "seed": check_int("seed", seed, 0),
           "hidden": check_int("hidden", hidden, 1), "features": features}
    run = Run("critic", key) if cache else None
    state = run.load_torch("critic.pt") if run is not None else None
    if state is not None:
        return AccuracyCritic.from_state(state)
    critic = AccuracyCritic(len(features), hidden, seed, feature_names=features).fit(examples, steps=steps)
    if run is not None:
        run.save_torch("critic.pt", critic.state())
    return critic


def _train(examples: list[Examples], config: GanConfig, include_linear: bool, critic,
           progress: bool, start: Generator | None = None) -> Generator:
    """The likelihood stage (``config.likelihood_steps``), then the adversarial stage (``config.steps``)
    with a fresh optimiser. ``start``: the likelihood stage already fitted (its weights and history are
    copied, not retrained). One history row per step; ``stage`` names its stage."""
    rng = torch.Generator().manual_seed(config.seed)
    gen = Generator(config, include_linear=include_linear)
    gen.net.train()
    history, t0 = [], time.perf_counter()
    bar = tqdm(total=config.likelihood_steps + config.steps, desc="generator", unit="step",
               disable=not progress, mininterval=5)
    if start is not None:
        gen.net.load_state_dict(start.net.state_dict())
        history = [dict(h) for h in start.history]
        t0 -= history[-1]["seconds"]
        for _ in range(config.likelihood_steps):
            torch.randint(len(examples), (1,), generator=rng)  # the stage's draws, as if it ran here
        bar.update(config.likelihood_steps)
    else:
        opt = torch.optim.Adam(gen.net.parameters(), lr=config.lr_generator)
        for step in range(1, config.likelihood_steps + 1):
            ex = examples[int(torch.randint(len(examples), (1,), generator=rng))]
            loss = likelihood_loss(gen.distribution(ex.feats, ex.sparsity), ex)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append({"stage": "likelihood", "step": step, "nll": float(loss.detach()),
                            "seconds": time.perf_counter() - t0})
            bar.update()
    if config.steps:
        opt_g = torch.optim.Adam(gen.net.parameters(), lr=config.lr_generator)
        _adversarial(examples, config, gen, opt_g, critic, rng, history, t0, bar)
    bar.close()
    gen.net.eval()
    gen.history = history
    return gen


def _adversarial(examples, config: GanConfig, gen: Generator, opt_g, critic, rng, history: list,
                 start: float, bar) -> None:
    """The adversarial stage, continuing ``gen`` (and its optimiser) in place; appends to ``history``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + 1)
        disc = DiscriminatorNet(len(config.features), config.hidden)
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr_discriminator, betas=(0.5, 0.999))
    use_critic = critic is not None and config.critic_weight > 0
    first = len(history)
    for step in range(first + 1, first + config.steps + 1):
        ex = examples[int(torch.randint(len(examples), (1,), generator=rng))]
        pool = ex.feats.pool()
        s = torch.full((config.batch_size,), float(ex.sparsity))
        real = ex.masks[torch.multinomial(ex.weights, config.batch_size, replacement=True, generator=rng)]
        dist = gen.distribution(ex.feats, ex.sparsity)
        fake = dist.sample(config.batch_size, rng).float()
        if config.r1_weight > 0:
            real = real.clone().requires_grad_(True)
        d_real, d_fake = disc(ex.feats.x, pool, s, real), disc(ex.feats.x, pool, s, fake)
        target = torch.full_like(d_real, 1 - config.label_smoothing)
        d_loss = (F.binary_cross_entropy_with_logits(d_real, target)
                  + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        if config.r1_weight > 0:
            grad, = torch.autograd.grad(d_real.sum(), real, create_graph=True)
            d_loss = d_loss + config.r1_weight / 2 * grad.pow(2).sum(1).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with torch.no_grad():
            reward = disc(ex.feats.x, pool, s, fake)
            if use_critic:
                pred = critic.predict(ex.feats, fake, ex.sparsity)
                reward = reward + config.critic_weight * (pred - pred.mean()) / pred.std().clamp_min(1e-6)
        log_p = dist.log_prob(fake)
        if config.entropy_weight > 0:
            reward = reward + config.entropy_weight * (-log_p.detach()).float()
        g_loss = -((reward - reward.mean()).double() * log_p).mean()
        # the anchor: the likelihood loss estimated on the batch of bank masks (drawn with the soft weights)
        nll = -dist.log_prob(real.detach()).mean() if config.likelihood_weight > 0 else None
        if nll is not None:
            g_loss = g_loss + config.likelihood_weight * nll
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        history.append({"stage": "adversarial", "step": step, "d_loss": float(d_loss.detach()),
                        "g_loss": float(g_loss.detach()),
                        "d_real": float(torch.sigmoid(d_real.detach()).mean()),
                        "d_fake": float(torch.sigmoid(d_fake.detach()).mean()),
                        "d_gap": float((d_real - d_fake).detach().mean()), "reward": float(reward.mean()),
                        "nll": float(nll.detach()) if nll is not None else None,
                        "seconds": time.perf_counter() - start})
        bar.update()
        if step % 20 == 0:
            bar.set_postfix(d_loss=f"{history[-1]['d_loss']:.3f}", d_gap=f"{history[-1]['d_gap']:.2f}")


# ------------------------------------------------------------------------- many fits in parallel
_CALLS: list = []  # (function, args, kwargs) of the fits a forked worker runs (inherited, not pickled)


def _call(i: int) -> None:
    torch.set_num_threads(1)
    fn, args, kwargs = _CALLS[i]
    fn(*args, **kwargs)


def in_processes(calls: list, workers: int | None = None, desc: str = "fits", progress: bool = True) -> None:
    """Run ``calls`` (each caches its result on disk) in ``workers`` forked processes (default: one
    per core), one thread each, so the results are those of running them here; sequentially where
    fork is unavailable or there is one worker or call."""
    import concurrent.futures as cf
    import multiprocessing as mp
    import os

    n = min(len(calls), workers or len(os.sched_getaffinity(0)))
    if n <= 1 or "fork" not in mp.get_all_start_methods() or torch.cuda.is_initialized():
        for fn, args, kwargs in tqdm(calls, desc=desc, disable=not progress or not calls, mininterval=5):
            fn(*args, **kwargs)
        return
    global _CALLS
    _CALLS = calls
    try:
        with cf.ProcessPoolExecutor(n, mp_context=mp.get_context("fork")) as pool:
            futures = [pool.submit(_call, i) for i in range(len(calls))]
            for f in tqdm(cf.as_completed(futures), total=len(calls), desc=desc, disable=not progress,
                          mininterval=5):
                f.result()
    finally:
        _CALLS = []


def fit_critics(bank, *, networks, seeds, steps: int = 500, hidden: int = 32,
                features: tuple[str, ...] = FEATURES, workers: int | None = None,
                progress: bool = True) -> list[AccuracyCritic]:
    """:func:`fit_critic` on ``networks`` once per seed of ``seeds`` (fits not in the cache run in
    parallel processes; the critics are the same as fitted one by one). ``networks`` may also be one
    tuple of networks per seed (e.g. leave-one-network-out folds)."""
    seeds = tuple(seeds)
    folds = list(networks) if networks and isinstance(networks[0], (tuple, list)) else [networks] * len(seeds)
    if len(folds) != len(seeds):
        raise ValueError(f"got {len(folds)} tuples of networks but {len(seeds)} seeds; give one per seed")
    kw = {"steps": steps, "hidden": hidden, "features": tuple(features)}
    fits = [{**kw, "networks": tuple(n), "seed": s} for n, s in zip(folds, seeds)]
    in_processes([(fit_critic, (bank,), f) for f in fits], workers, "critics", progress)
    return [fit_critic(bank, **f) for f in fits]


def fit_many(bank, configs, *, critics=None, workers: int | None = None,
             progress: bool = True) -> list[Generator]:
    """:func:`fit` for every config (with ``critics[i]``, if given): fits not in the cache run in
    parallel processes, one thread each (the generators are those of fitting one by one)."""
    configs = list(configs)
    critics = list(critics) if critics is not None else [None] * len(configs)
    if len(critics) != len(configs):
        raise ValueError(f"got {len(configs)} configs but {len(critics)} critics; give one critic per config")
    for c, cr in zip(configs, critics):
        _check_critic(c, cr)
    include_linear = bank.config.include_linear
    sets = [training_set(bank, c) for c in configs]
    stages = {c.likelihood_stage(): ex for ex, c in zip(sets, configs) if c.stage == "likelihood+gan"}
    in_processes([(fit, (bank, c), {"progress": False}) for c, ex in stages.items()
                  if not Run("gan", _run_key(ex, include_linear, c, None)).exists("generator.pt")],
                 workers, "likelihood stages", progress)
    todo = [(fit, (bank, c), {"critic": cr, "progress": False})
            for ex, c, cr in zip(sets, configs, critics)
            if not Run("gan", _run_key(ex, include_linear, c, cr)).exists("generator.pt")]
    in_processes(todo, workers, "GAN fits", progress)
    return [_fit_examples(ex, include_linear, c, cr, progress=False, cache=True)
            for ex, c, cr in zip(sets, configs, critics)]

