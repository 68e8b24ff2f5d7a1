"""The generator chosen per setting where no exhaustive landscape exists (issue 29, item 3), as a
measurement: leave-one-network-out on one fold's *training* networks, each candidate generator is fitted
on the other training networks and scored on the left-out one by the retrained validation accuracy of
masks sampled from it (the protocol's retraining budget and seeds). A candidate replaces the first
(the design the fold chose on the conv landscapes) only where its advantage, paired per left-out
network, clears its 95 % CI (:func:`~.learned.paired_advantages`): a float cannot flip the choice.

- :func:`candidates`: the fold's design and what item 3 asks to choose between (stage and features).
- :func:`sampled_choice`: one row per (candidate, left-out network, sparsity), ``val_acc`` the mean
  over ``masks`` sampled masks.
- :func:`choice_advantages`, :func:`chosen_candidate`: the rule.
- :func:`heldout_rows`, :func:`heldout_effect`: candidates fitted and measured as the chapter's GAN on the
  fold's held-out networks (its generator seeds, its protocol's pairs), and one's paired effect over another.

Chapter 6 does not run this (its cost is what ``benchmarks/setting_choice.py`` measures); the
benchmark does, on a built chapter's cache.
"""
from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ... import gan
from ...analysis.stats import mean_ci
from ...gan.config import GanConfig
from ...pruning.executors import Execution
from ...runs import protocol, runner
from .config import BASE_FEATURES, CHANNEL_FEATURES, SETTINGS, STRUCTURAL_FEATURES, Configs
from .fits import sampled_jobs
from .learned import designs, paired_advantages
from .methods import gan_entry

#: Candidate names in the order the rule reads them (the first is the one that stays unless beaten).
CANDIDATES = ("design", "likelihood", "magnitude", "every-feature")


def candidates(f: Configs, features: tuple[str, ...], chosen: tuple[float, float], *,
               grid: bool = False) -> dict[str, GanConfig]:
    """The generators a setting chooses between (name → config; fold ``f``'s settings):
    ``"design"``: the fold's design (likelihood + adversarial stage, ``features``, the ``chosen``
    entropy and critic weights), ``"likelihood"``: its likelihood stage alone, ``"magnitude"``: the
    design reading the structural and magnitude features only, ``"every-feature"``: the design reading
    every feature of the catalogue; with ``grid``, also the design at every other (entropy, critic)
    weight pair of ``f.grid`` (``"entropy0.1-critic1"``: the same likelihood stage, another adversarial
    stage)."""
    main = designs(f, features, chosen)["gan"]
    out = {"design": main, "likelihood": main.likelihood_stage(),
           "magnitude": replace(main, features=tuple(BASE_FEATURES)),
           "every-feature": replace(main, features=tuple(STRUCTURAL_FEATURES + CHANNEL_FEATURES))}
    for e, c in (f.grid if grid else ()):
        if (e, c) != tuple(chosen):
            out[f"entropy{e:g}-critic{c:g}"] = replace(main, entropy_weight=e, critic_weight=c)
    return out


def _critics(bank, configs: list[GanConfig], f: Configs, workers, progress) -> list:
    """One critic per config that weighs one (seed ``f.choice_seed``, the config's networks and
    features), else ``None``."""
    need = [i for i, c in enumerate(configs) if c.critic_weight > 0]
    out: list = [None] * len(configs)
    by_features: dict[tuple, list[int]] = {}
    for i in need:
        by_features.setdefault(tuple(configs[i].features), []).append(i)
    for feats, idx in by_features.items():
        fitted = gan.fit_critics(bank, networks=[configs[i].networks for i in idx],
                                 seeds=[f.choice_seed] * len(idx), steps=f.critic_steps, features=feats,
                                 workers=workers, progress=progress)
        for i, c in zip(idx, fitted):
            out[i] = c
    return out


def sampled_choice(banks: dict, f: Configs, setting: str, cands: dict[str, GanConfig], *, masks: int = 4,
                   execution: Execution = Execution(), workers: int | None = None,
                   progress: bool = True) -> pd.DataFrame:
    """Leave-one-network-out on fold ``f``'s training networks in ``setting``: for each training network
    ``j`` and candidate of ``cands`` (name → config), the candidate fitted on the other training networks
    (seed ``f.choice_seed``), ``masks`` masks sampled from it on ``j`` at each of ``f.sparsities`` and
    retrained (the protocol's budget and seeds). One row per (candidate, network, sparsity): ``val_acc``,
    the mean retrained validation accuracy of its ``masks`` masks, ``trained_on`` (the networks its
    generator learned from) and ``fit_seconds`` of that generator's fit."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {list(SETTINGS)}, got {setting!r}")
    if not cands:
        raise ValueError("cands is empty: give at least one candidate config")
    train = tuple(f.train_networks)
    if len(train) < 3:
        raise ValueError(f"leave-one-network-out needs at least 3 training networks, fold has {train}")
    b, include_linear = banks[setting], SETTINGS[setting]
    jobs = [(name, j) for name in cands for j in train]
    configs = [replace(cands[name], networks=tuple(n for n in train if n != j), seed=f.choice_seed)
               for name, j in jobs]
    gens = gan.fit_many(b, configs, critics=_critics(b, configs, f, workers, progress), workers=workers,
                        progress=progress)
    proto = replace(f.protocol, samples=masks)
    frames = []
    for j in train:
        work = [job for (name, n), c, g in zip(jobs, configs, gens) if n == j
                for job in sampled_jobs(b.baselines[j].model, g, f.sparsities, proto,
                                        include_linear=include_linear,
                                        labels={"candidate": name, "fit_seconds": g.history[-1]["seconds"],
                                                "trained_on": ", ".join(map(str, c.networks))})]
        frames.append(runner.run(b.baselines[j], work, execution=execution).assign(network=j))
    df = pd.concat(frames, ignore_index=True)
    df["sparsity"] = df["sparsity"].astype(float).round(6)
    df["retrained_val_acc"] = df["retrained_val_acc"].astype(float)
    out = (df.groupby(["candidate", "network", "sparsity"], sort=False)
           .agg(val_acc=("retrained_val_acc", "mean"), masks=("retrained_val_acc", "size"),
                trained_on=("trained_on", "first"), fit_seconds=("fit_seconds", "first")).reset_index())
    return out.assign(setting=setting)


def choice_advantages(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per candidate of a :func:`sampled_choice` table: its advantage over the first candidate (points of
    validation accuracy; per left-out network the mean over sparsities), mean and Student-t
    ``confidence`` CI over the networks, ``clears`` = CI low above 0 (:func:`~.learned.paired_advantages`)."""
    per_net = table.groupby(["network", "candidate"], sort=False)["val_acc"].mean()
    wide = per_net.unstack("candidate")[list(dict.fromkeys(table["candidate"]))]
    first = wide.columns[0]
    return paired_advantages(wide, first, confidence).rename(columns={"design": "candidate"})


def chosen_candidate(table: pd.DataFrame) -> str:
    """The candidate a setting uses: the first of the table, unless another's advantage over it clears its
    95 % CI (:func:`choice_advantages`); then, of those, the largest mean advantage (ties: table order)."""
    adv = choice_advantages(table)
    clear = adv[adv["clears"]]
    if clear.empty:
        return str(adv["candidate"].iloc[0])
    return str(clear.loc[clear["advantage"].idxmax(), "candidate"])


def heldout_rows(banks: dict, f: Configs, setting: str, cands: dict[str, GanConfig], *,
                 execution: Execution = Execution(), workers: int | None = None,
                 progress: bool = True) -> pd.DataFrame:
    """Each candidate of ``cands`` fitted as chapter 6 fits its GAN — on fold ``f``'s training networks,
    one generator per seed of ``f.gan_seeds``, with the fold's critic of that seed where it weighs one — and
    measured as the chapter measures it on ``f``'s held-out networks: pair ``i`` draws one mask from
    generator ``i`` (:func:`~.methods.gan_entry`), retrained with the protocol's seed ``+ i``. One row per
    (candidate, network, sparsity, trial) with ``retrained_acc`` (test images)."""
    b, include_linear = banks[setting], SETTINGS[setting]
    train, seeds = tuple(f.train_networks), tuple(f.gan_seeds)
    gens = {}
    for name, c in cands.items():
        critics = (gan.fit_critics(b, networks=train, seeds=seeds, steps=f.critic_steps, features=c.features,
                                   workers=workers, progress=progress) if c.critic_weight > 0 else None)
        gens[name] = gan.fit_many(b, [replace(c, networks=train, seed=s) for s in seeds], critics=critics,
                                  workers=workers, progress=progress)
    frames = []
    for n in f.held_out:
        model = b.baselines[n].model
        work = [job for name, gs in gens.items() for s in f.sparsities
                for job in protocol.jobs(model, s, [gan_entry(name, gs, include_linear=include_linear,
                                                              seed=f.protocol.seed)],
                                         f.protocol, include_linear=include_linear,
                                         labels={"candidate": name, "network": n})]
        frames.append(runner.run(b.baselines[n], work, execution=execution))
    df = pd.concat(frames, ignore_index=True)
    df["sparsity"] = df["sparsity"].astype(float).round(6)
    df["retrained_acc"] = df["retrained_acc"].astype(float)
    return df[["candidate", "network", "sparsity", "trial", "retrained_acc"]].assign(setting=setting)


def heldout_effect(rows: pd.DataFrame, candidate: str, base: str, confidence: float = 0.95) -> pd.DataFrame:
    """Per sparsity of :func:`heldout_rows` rows: ``candidate`` − ``base`` in test accuracy (points), per
    network the mean over its pairs, then the mean and Student-t ``confidence`` CI over networks."""
    per = rows.groupby(["sparsity", "network", "candidate"])["retrained_acc"].mean().unstack("candidate")
    missing = {candidate, base} - set(per.columns)
    if missing:
        raise ValueError(f"no rows of {sorted(missing)}; the rows hold {sorted(per.columns)}")
    out = []
    for s, g in per.groupby(level="sparsity"):
        diff = 100 * (g[candidate] - g[base])
        mean, lo, hi = mean_ci(diff, confidence)
        out.append({"sparsity": float(s), "networks": len(diff), "effect": mean, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(out)
