"""The methods compared on each held-out network (pair ``i`` of a learned method uses its seed-``i``
instance) and the protocol run over the held-out networks or the transfer network."""
from __future__ import annotations

import pandas as pd

from ...core.masks import ChannelMask
from ...pruning.executors import Execution
from ...pruning.strategies import Method, within_layers
from ...runs import protocol, runner
from ...runs.baseline import baseline
from .config import (ALLOCATION_CRITERIA, BASELINES, CANDIDATE_OFFSET, FEATURE_CRITERIA, SETTINGS, VARIANTS,
                     Configs)
from .criteria import chosen_criterion, standard_methods


def gan_entry(name: str, generators, *, include_linear: bool, seed: int) -> protocol.Entry:
    """A learned method of the protocol: pair ``i`` draws one mask from ``generators[i]`` (seed
    ``seed + i``, at least one channel per layer); rows carry ``name`` as their method."""
    m = Method("gan", min_channels_per_layer=1, include_linear=include_linear, name=name,
               label=VARIANTS.get(name, name))
    return protocol.Entry(m.labels(), protocol.per_trial_proposer(
        lambda i: protocol.method_proposer(m, seed, generator=generators[i])), 1)


def entries(*, include_linear: bool, generators: dict, critics: list, bank=None, network: int | None = None,
            sparsity: float, cfg: Configs) -> list[protocol.Entry]:
    """The methods compared on one network at one sparsity. ``generators``: method name → list of
    generators, generator ``i`` proposes mask ``i`` (pair ``i``); ``gan-mode``: generator ``i``'s exact
    most probable mask (:meth:`prunegan.gan.Generator.mode`); ``critics[i]`` ranks the candidates of
    pair ``i`` for the critic-ranked methods. Then the untrained generator (uniform over collapse-free
    masks), random-min1, random-min1 + critic, every standard criterion and the best bank mask of
    ``network`` re-measured (when ``bank`` is given)."""
    seed, k, il = cfg.protocol.seed, cfg.protocol.critic_candidates, include_linear
    one = {"min_channels_per_layer": 1, "include_linear": il}
    cand = seed + CANDIDATE_OFFSET  # candidates of the critic-ranked methods: no mask of another method
    feats = lambda model: critics[0].features(model, include_linear=il)  # noqa: E731
    out = [gan_entry(name, gens, include_linear=il, seed=seed) for name, gens in generators.items()]
    main = generators["gan"]
    mode = lambda i: lambda model, s, _: main[i].mode(model, s, include_linear=il)  # noqa: E731
    out.append(protocol.Entry({"method": "gan-mode", "label": VARIANTS["gan-mode"], "strategy": "gan-mode",
                               "min_channels_per_layer": 1, "temperature": None},
                              protocol.per_trial_proposer(mode), 1))
    pick = Method("gan", **one, name="gan+critic", label=f"GAN + critic, best of {k}")
    out.append(protocol.Entry(pick.labels(), protocol.per_trial_proposer(
        lambda i: protocol.critic_proposer(lambda model, s, first, n: main[i].sample(model, s, n, seed=first,
                                                                                     include_linear=il),
                                           critics[i], feats, k, cand)), 1))
    sample, drawn = Method("gan", **one), {}  # GAN mask i exactly (same seed), drawn once for every criterion

    def gan_mask(model, s, i):
        key = (id(model), s, i)
        if key not in drawn:
            drawn[key] = sample.prune(model, s, seed=seed + i, generator=main[i])
        return drawn[key]
    for c in ALLOCATION_CRITERIA:
        name = f"gan-alloc-{c}"
        out.append(protocol.Entry(
            {"method": name, "label": BASELINES[name], "strategy": c, "min_channels_per_layer": 1,
             "temperature": None},
            lambda model, s, i, c=c: within_layers(model, gan_mask(model, s, i), c, include_linear=il), 1))
    rm = Method("random", **one, name="random-min1", label="random, min 1/layer")
    rc = Method("random", **one, name="random-min1+critic", label=f"random-min1 + critic, best of {k}")
    out.append(protocol.Entry(rc.labels(), protocol.per_trial_proposer(
        lambda i: protocol.critic_proposer(protocol.method_candidates(rm), critics[i], feats, k, cand)), 1))
    uniform = [Method(f"uniform-{c}", **one, name=f"uniform-{c}", label=BASELINES[f"uniform-{c}"])
               for c in FEATURE_CRITERIA]
    for m in (Method("uniform-collapse-free", **one, name="uniform-collapse-free",
                     label=VARIANTS["uniform-collapse-free"]), rm, *standard_methods(il), *uniform):
        out.append(protocol.entry(m, seed))
    if bank is not None:
        row = bank.best(sparsity, baseline=network)
        out.append(protocol.Entry({"method": "best-bank", "label": "best bank mask (re-measured)",
                                   "strategy": "bank", "min_channels_per_layer": None, "temperature": None,
                                   "bank_acc": float(row[bank.label])},
                                  protocol.fixed_proposer(ChannelMask.from_dict(row["mask"])), 0))
    return out


def run_protocol(cfg: Configs, setting: str, generators: dict, critics: list, *, bank=None,
                 execution: Execution = Execution()) -> pd.DataFrame:
    """The protocol in one setting: every method of :func:`entries` at every sparsity on every
    held-out network of ``bank`` (``setting`` ``"conv"`` or ``"conv+linear"``), or on the transfer
    network when ``setting == "transfer"`` (conv channels, no bank). One row per mask, with
    ``setting`` and ``network`` (the bank index; 0 for the transfer network)."""
    if setting == "transfer":
        nets, il = [(0, baseline(cfg.transfer, progress=execution.progress), None)], False
    else:
        il = SETTINGS[setting]
        nets = [(n, bank.baselines[n], bank) for n in cfg.held_out]
    frames = []
    for net, base, b in nets:
        jobs = []
        for s in cfg.sparsities:
            es = entries(include_linear=il, generators=generators, critics=critics, bank=b, network=net,
                         sparsity=s, cfg=cfg)
            jobs += protocol.jobs(base.model, s, es, cfg.protocol, include_linear=il,
                                  labels={"setting": setting, "network": net, "model": base.config.model})
        frames.append(runner.run(base, jobs, execution=execution))
    return pd.concat(frames, ignore_index=True)


def with_best_criterion(df: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """``df`` plus a copy of the chosen standard criterion's rows per (setting, sparsity) as method
    ``best-criterion`` (transfer uses the conv setting's choice); its label names every criterion that
    tied on the training networks (the rows are the first one's)."""
    extra = []
    for (setting, s), g in df.groupby(["setting", "sparsity"]):
        chosen_in = "conv" if setting == "transfer" else setting
        name = chosen_criterion(best, chosen_in, s)
        ties = chosen_criterion(best, chosen_in, s, ties=True)
        extra.append(g[g["method"] == name].assign(method="best-criterion",
                                                   label=f"best standard criterion ({ties})"))
    return pd.concat([df, *extra], ignore_index=True)
