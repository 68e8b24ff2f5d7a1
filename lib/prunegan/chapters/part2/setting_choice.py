"""The generator chosen per setting where no exhaustive landscape exists (issue 29, item 3), as a
measurement: leave-one-network-out on one fold's *training* networks, each candidate generator is fitted
on the other training networks and scored on the left-out one by the retrained validation accuracy of
masks sampled from it (the protocol's retraining budget and seeds). A candidate replaces the first
(the design the fold chose on the conv landscapes) only where its advantage, paired per left-out
network, clears its 95 % CI (:func:`~.learned.paired_advantages`): a float cannot flip the choice.

- :func:`candidates`: the fold's design and what item 3 asks to choose between (stage and features);
  :func:`nested_candidates`: them per split, chosen without the left-out network.
- :func:`sampled_choice`: one row per (candidate, left-out network, sparsity), ``val_acc`` the mean
  over ``masks`` sampled masks; and the choice's CPU seconds.
- :func:`choice_advantages`, :func:`chosen_candidate`: the rule. With several candidates each is tested
  at 95 %, so a switch by chance is likelier than 5 % (the chapter's own design rule shares this);
  the benchmark also reports whether a clear survives a Bonferroni correction.
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
from ...core.validate import check_int
from ...gan.config import GanConfig
from ...pruning.executors import Execution
from ...runs import protocol, runner
from .config import BASE_FEATURES, CHANNEL_FEATURES, SETTINGS, STRUCTURAL_FEATURES, Configs
from .fits import sampled_jobs
from .learned import best_clearing, chosen_design, designs, paired_advantages, selected_features
from .methods import gan_entry

#: Candidate names in the order the rule reads them (the first is the one that stays unless beaten).
CANDIDATES = ("design", "likelihood", "magnitude", "every-feature")


def candidates(f: Configs, features: tuple[str, ...], chosen: tuple[float, float], *,
               grid: bool = False) -> dict[str, GanConfig]:
    """The generators a setting chooses between (name → config; fold ``f``'s settings):
    ``"design"``: the fold's design (likelihood + adversarial stage, ``features``, the ``chosen``
    entropy and critic weights), ``"likelihood"``: its likelihood stage alone, ``"magnitude"``: the
    design reading the structural and magnitude features only, ``"every-feature"``: the design reading
    every feature of the catalogue; with ``grid``, also the design at each (entropy, critic) weight pair
    of ``f.grid`` (``"entropy0.1-critic1"``: the same likelihood stage, that adversarial stage; the pair
    chosen is the design itself under a second name, so that every split names the same candidates)."""
    main = designs(f, features, chosen)["gan"]
    out = {"design": main, "likelihood": main.likelihood_stage(),
           "magnitude": replace(main, features=tuple(BASE_FEATURES)),
           "every-feature": replace(main, features=tuple(STRUCTURAL_FEATURES + CHANNEL_FEATURES))}
    for e, c in (f.grid if grid else ()):  # every pair, the chosen one too: the same names in every split
        out[f"entropy{e:g}-critic{c:g}"] = replace(main, entropy_weight=e, critic_weight=c)
    return out


def nested_candidates(f: Configs, per_net: pd.DataFrame, design_table: pd.DataFrame, *,
                      grid: bool = False) -> dict[int, dict[str, GanConfig]]:
    """Per training network ``j`` of fold ``f``: the :func:`candidates` of the split that leaves ``j`` out —
    the channel features selected on the other training networks (:func:`~.learned.selected_features` of
    ``per_net``) and the design's weights chosen on the other networks' rows of ``design_table``
    (:func:`~.learned.chosen_design`), so that ``j`` helps choose nothing it is scored with."""
    out = {}
    for j in f.train_networks:
        others = tuple(n for n in f.train_networks if n != j)
        chosen = chosen_design(design_table[design_table["network"] != j])
        out[j] = candidates(f, selected_features(per_net, others), chosen, grid=grid)
    return out


def _fit_once(bank, configs: list[GanConfig], f: Configs, workers, progress) -> tuple[list, float]:
    """Each distinct config fitted once (seed and networks as given; a critic of seed ``f.choice_seed`` on
    the config's networks and features where it weighs one): the generators in ``configs`` order and the
    CPU seconds of the distinct fits (likelihood stages, adversarial stages and critics, one thread each,
    as recorded when they were computed)."""
    distinct = list(dict.fromkeys(configs))
    crit_keys = list(dict.fromkeys((c.networks, tuple(c.features)) for c in distinct if c.critic_weight > 0))
    critics = {}
    for feats in dict.fromkeys(k[1] for k in crit_keys):
        nets = [k[0] for k in crit_keys if k[1] == feats]
        fitted = gan.fit_critics(bank, networks=nets, seeds=[f.choice_seed] * len(nets), steps=f.critic_steps,
                                 features=feats, workers=workers, progress=progress)
        critics.update({(n, feats): c for n, c in zip(nets, fitted)})
    gens = gan.fit_many(bank, distinct, workers=workers, progress=progress,
                        critics=[critics.get((c.networks, tuple(c.features))) for c in distinct])
    seconds = sum(c.seconds for c in critics.values())
    stages = {}
    for c, g in zip(distinct, gens):
        lik = [h["seconds"] for h in g.history if h["stage"] == "likelihood"]
        stage = max(lik, default=0.0)
        if c.stage != "gan":
            stages[c.likelihood_stage()] = stage
        seconds += g.history[-1]["seconds"] - stage
    by_config = dict(zip(distinct, gens))
    return [by_config[c] for c in configs], seconds + sum(stages.values())


def sampled_choice(banks: dict, f: Configs, setting: str, splits: dict[int, dict[str, GanConfig]], *,
                   masks: int = 4, execution: Execution = Execution(), workers: int | None = None,
                   progress: bool = True) -> tuple[pd.DataFrame, float]:
    """Leave-one-network-out on fold ``f``'s training networks in ``setting``. ``splits``: training network
    ``j`` → its candidates (name → config, the same names for every ``j``; :func:`nested_candidates`). Each
    candidate of ``j`` is fitted on the other training networks (seed ``f.choice_seed``); ``masks`` masks
    sampled from it on ``j`` at each of ``f.sparsities`` are retrained (the protocol's budget and its pairs'
    seeds, ``masks`` at most ``f.protocol.samples``). Returns the table — one row per (candidate, network,
    sparsity): ``val_acc``, the mean retrained validation accuracy of its masks, ``masks``, ``trained_on``
    (the networks its generator learned from) — and the CPU seconds of the choice (its distinct fits and
    retrainings, one thread each, as recorded when computed: the same whether read back or not)."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {list(SETTINGS)}, got {setting!r}")
    train = tuple(f.train_networks)
    if len(train) < 3:
        raise ValueError(f"leave-one-network-out needs at least 3 training networks, fold has {train}")
    if sorted(splits) != sorted(train) or not all(splits.values()):
        raise ValueError(f"splits must give candidates for every training network {train}, "
                         f"got {sorted(splits)}")
    names = list(splits[train[0]])
    if any(list(c) != names for c in splits.values()):
        raise ValueError(f"every split must name the same candidates {names}")
    check_int("masks", masks, 1)
    if masks > f.protocol.samples:
        raise ValueError(f"masks={masks} must be at most the protocol's {f.protocol.samples} pairs "
                         "(their seeds)")
    b, include_linear = banks[setting], SETTINGS[setting]
    jobs = [(name, j) for name in names for j in train]
    configs = [replace(splits[j][name], networks=tuple(n for n in train if n != j), seed=f.choice_seed)
               for name, j in jobs]
    gens, seconds = _fit_once(b, configs, f, workers, progress)
    proto = replace(f.protocol, samples=masks)
    frames = []
    for j in train:
        work = [job for (name, n), c, g in zip(jobs, configs, gens) if n == j
                for job in sampled_jobs(b.baselines[j].model, g, f.sparsities, proto,
                                        include_linear=include_linear,
                                        labels={"candidate": name,
                                                "trained_on": ", ".join(map(str, c.networks))})]
        frames.append(runner.run(b.baselines[j], work, execution=execution).assign(network=j))
    df = pd.concat(frames, ignore_index=True)
    seconds += float(df.drop_duplicates(["network", "key", "trial"])["seconds"].astype(float).sum())
    df["sparsity"] = df["sparsity"].astype(float).round(6)
    df["retrained_val_acc"] = df["retrained_val_acc"].astype(float)
    out = (df.groupby(["candidate", "network", "sparsity"], sort=False)
           .agg(val_acc=("retrained_val_acc", "mean"), masks=("retrained_val_acc", "size"),
                trained_on=("trained_on", "first")).reset_index())
    return out.assign(setting=setting), seconds


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
    best = best_clearing(adv)
    return str(adv["candidate"].iloc[0] if best is None else best["candidate"])


def heldout_rows(banks: dict, f: Configs, setting: str, cands: dict[str, GanConfig], *,
                 execution: Execution = Execution(), workers: int | None = None,
                 progress: bool = True) -> pd.DataFrame:
    """Each candidate of ``cands`` fitted as chapter 6 fits its GAN — on fold ``f``'s training networks,
    one generator per seed of ``f.gan_seeds``, with a critic of that seed reading the candidate's features
    where it weighs one (the fold's own critic for the fold's features) — and
    measured as the chapter measures it on ``f``'s held-out networks: pair ``i`` draws one mask from
    generator ``i`` (:func:`~.methods.gan_entry`), retrained with the protocol's seed ``+ i``. One row per
    (candidate, network, sparsity, trial) with ``retrained_acc`` (test images)."""
    b, include_linear = banks[setting], SETTINGS[setting]
    train, seeds = tuple(f.train_networks), tuple(f.gan_seeds)
    gens, critics_by_features = {}, {}
    for name, c in cands.items():
        if c.critic_weight > 0 and c.features not in critics_by_features:
            critics_by_features[c.features] = gan.fit_critics(
                b, networks=train, seeds=seeds, steps=f.critic_steps, features=c.features, workers=workers,
                progress=progress)
        critics = critics_by_features[c.features] if c.critic_weight > 0 else None
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
        diff = 100 * (g[candidate] - g[base]).dropna()
        mean, lo, hi = mean_ci(diff, confidence) if len(diff) else (float("nan"),) * 3
        out.append({"sparsity": float(s), "networks": len(diff), "effect": mean, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(out)
