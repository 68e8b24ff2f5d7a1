"""The learned methods and the choices made for them on the *training* networks only: exhaustive
landscapes, which channel features carry a signal, the design (entropy and critic weights) chosen
leave-one-network-out (feature selection nested in each split; a design replaces the simplest only
when its advantage clears its CI), one critic and one generator per seed, the critics' quality, exact expected
accuracy on a landscape, and the collapse property check."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from ... import gan
from ...analysis import comparison, signal
from ...analysis.stats import mean_ci
from ...core import counts
from ...core.masks import ChannelMask, layer_sizes
from ...gan import features as gan_features
from ...gan.config import GanConfig
from .config import BASE_FEATURES, CHANNEL_FEATURES, Configs


def critic_quality(critic, held, setting: str = "") -> pd.DataFrame:
    """Spearman rank correlation of the critic's prediction with the bank label, per held-out
    (network, sparsity) of ``held`` (:func:`prunegan.gan.from_bank` examples), over all its bank masks
    and over the collapse-free ones only; ``setting`` labels the rows."""
    rows = []
    for ex in held:
        ok = [i for i, m in enumerate(ex.masks) if all(p.sum() > 0 for p in m.split(list(ex.feats.sizes)))]
        free = replace(ex, masks=ex.masks[ok], accuracy=ex.accuracy[ok], weights=ex.weights[ok])
        rows.append({"setting": setting, "network": ex.network, "sparsity": ex.sparsity,
                     "masks": len(ex.masks), "spearman": critic.spearman(ex), "collapse_free": len(ok),
                     "spearman_collapse_free": critic.spearman(free) if len(ok) > 2 else float("nan")})
    return pd.DataFrame(rows)


def critic_summary(quality: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, network, sparsity): the critics' Spearman (all masks, collapse-free masks) as the
    mean over critic seeds with its 95 % CI."""
    rows = []
    for key, g in quality.groupby(["setting", "network", "sparsity"], sort=False):
        row = dict(zip(["setting", "network", "sparsity"], key))
        for col in ("spearman", "spearman_collapse_free"):
            v = g[col].dropna()
            mean, lo, hi = mean_ci(v) if len(v) else (np.nan, np.nan, np.nan)
            row.update({col: mean, f"{col}_ci_low": lo, f"{col}_ci_high": hi})
        rows.append(row)
    return pd.DataFrame(rows)


def landscape_rows(bank, sparsity: float, networks) -> pd.DataFrame:
    """The exhaustive landscape's rows (every collapse-free mask, once) of ``networks`` at ``sparsity``."""
    # every draw: a landscape mask that a method drew first is a duplicate here, not in unique()
    f = bank.frame
    u = f[(f["method"] == "exhaustive") & np.isclose(f["sparsity"], sparsity)
          & f["baseline"].isin(list(networks))]
    return u.drop_duplicates(["baseline", "key"])


def landscapes(bank, sparsity: float, networks, column: str, setting: str = "conv") -> pd.DataFrame:
    """Per network: masks in the landscape and the 50th / 85th / 100th percentiles of ``column``
    (``"val_acc"`` to choose, ``"retrained_acc"`` (test) to report)."""
    rows = [{"setting": setting, "network": int(n), "sparsity": sparsity, "masks": len(g),
             **comparison.landscape_percentiles(g[column])}
            for n, g in landscape_rows(bank, sparsity, networks).groupby("baseline")]
    return pd.DataFrame(rows, columns=["setting", "network", "sparsity", "masks", "p50", "p85", "p100"])


def landscape_examples(bank, sparsity: float, networks, column: str, *, inputs=None, labels=None) -> list:
    """``(network, ChannelFeatures, masks (M, C) float, labels (M,))`` of every landscape, for
    :mod:`prunegan.analysis.signal` (all candidate features; ``inputs``/``labels``: the images and their
    classes the image and probe features read, as in :func:`prunegan.gan.features.channel_features`)."""
    out = []
    for n, g in landscape_rows(bank, sparsity, networks).groupby("baseline"):
        feats = gan_features.channel_features(bank.baselines[int(n)].model,
                                              include_linear=bank.config.include_linear, inputs=inputs,
                                              labels=labels)
        masks = torch.stack([ChannelMask.from_dict(m).to_vector().to(torch.float32) for m in g["mask"]])
        out.append((int(n), feats, masks, torch.tensor(g[column].to_numpy(float), dtype=torch.float32)))
    return out


def selected_features(per_net: pd.DataFrame, networks=None) -> tuple[str, ...]:
    """The generator's features from a :func:`feature_choice` per-network table: the structural and
    magnitude ones (:data:`~.config.BASE_FEATURES`) plus the other channel features whose 95 % CI over
    ``networks`` (default: every network of the table) excludes 0. Selecting on a subset is how feature
    selection is nested inside a split."""
    rows = per_net if networks is None else per_net[per_net["network"].isin(list(networks))]
    if rows.empty:
        raise ValueError(f"no feature-signal rows for networks {networks}: the table has networks "
                         f"{sorted(set(per_net['network']))}")
    chosen = tuple(f for f in signal.select_features(signal.signal_table(rows))
                   if f in CHANNEL_FEATURES and f not in BASE_FEATURES)
    return BASE_FEATURES + chosen


def feature_choice(bank, cfg: Configs) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]:
    """Which channel features predict a channel's value on the *training* networks' landscapes
    (validation labels): the per-network Spearman table, its summary with CIs over networks, and the
    generator's features (:func:`selected_features` over every training network)."""
    ex = landscape_examples(bank, cfg.landscape_sparsity, cfg.train_networks, "val_acc")
    per_net = signal.feature_signal(ex, features=CHANNEL_FEATURES)
    return per_net, signal.signal_table(per_net), selected_features(per_net)


def expected_on_landscape(generator, bank, network: int, sparsity: float, column: str) -> float:
    """Exact expected ``column`` of a mask drawn by ``generator`` on ``network``'s landscape
    (probabilities from the exact distribution; they sum to 1 over the collapse-free masks)."""
    rows = landscape_rows(bank, sparsity, (network,))
    masks = [ChannelMask.from_dict(m) for m in rows["mask"]]
    p = generator.mask_probabilities(bank.baselines[network].model, masks, sparsity)
    return comparison.expected_accuracy(p.numpy(), rows[column].to_numpy(float))


def design_choice(bank, cfg: Configs, per_net: pd.DataFrame, *, workers: int | None = None,
                  progress: bool = True) -> pd.DataFrame:
    """Each (entropy_weight, critic_weight) of ``cfg.grid``, leave-one-network-out on the *training*
    networks' landscapes: for each training network ``j``, the features selected without ``j``
    (:func:`selected_features` of ``per_net``, :func:`feature_choice`'s table, over the other training
    networks: selection nested in the split), and a critic and a generator (seed ``cfg.choice_seed``)
    reading them, fitted on the other training networks, scored by the exact expected validation
    accuracy of its masks on ``j``'s landscape and that value's percentile there. One row per (grid
    point, network), with the split's ``features``."""
    s, train, seed = cfg.landscape_sparsity, cfg.train_networks, cfg.choice_seed
    folds = {j: tuple(n for n in train if n != j) for j in train}
    feats = {j: selected_features(per_net, folds[j]) for j in train}
    critics = {}
    for f in dict.fromkeys(feats.values()):  # one batch of critic fits per distinct feature set
        split = [j for j in train if feats[j] == f]
        fitted = gan.fit_critics(bank, networks=[folds[j] for j in split], seeds=[seed] * len(split),
                                 steps=cfg.critic_steps, features=f, workers=workers, progress=progress)
        critics.update(zip(split, fitted))
    jobs = [(e, c, j) for e, c in cfg.grid for j in folds]
    configs = [replace(cfg.gan, networks=folds[j], features=feats[j], entropy_weight=e,
                       critic_weight=c, seed=seed) for e, c, j in jobs]
    gens = gan.fit_many(bank, configs, critics=[critics[j] for _, _, j in jobs], workers=workers,
                        progress=progress)
    rows = []
    for (e, c, j), g in zip(jobs, gens):
        land = landscape_rows(bank, s, (j,))
        exp = expected_on_landscape(g, bank, j, s, "val_acc")
        rows.append({"entropy_weight": e, "critic_weight": c, "network": j, "expected_val_acc": exp,
                     "percentile": comparison.percentile_of(exp, land["val_acc"]),
                     "features": ", ".join(x for x in feats[j] if x in CHANNEL_FEATURES) or "none"})
    return pd.DataFrame(rows)


def simplest_design(choice: pd.DataFrame) -> tuple[float, float]:
    """The simplest (entropy_weight, critic_weight) of a :func:`design_choice` table: the smallest
    critic weight, then the smallest entropy weight (no entropy bonus and no critic in the default grid)."""
    pairs = choice[["entropy_weight", "critic_weight"]].drop_duplicates().itertuples(index=False)
    e, c = min(pairs, key=lambda p: (p.critic_weight, p.entropy_weight))
    return float(e), float(c)


def paired_advantages(wide: pd.DataFrame, base, confidence: float = 0.95) -> pd.DataFrame:
    """Per column of ``wide`` (one row per network, one column per design, values in [0, 1]): its
    advantage over column ``base`` paired per network (points), the mean with its Student-t
    ``confidence`` CI over the networks both have, and ``clears`` = the CI low is above 0. ``base``
    itself has advantage 0 and never clears. One row per column, in column order (``design``: its name)."""
    rows = []
    for col in wide.columns:
        diff = 100 * (wide[col] - wide[base]).dropna()
        mean, lo, hi = mean_ci(diff, confidence) if len(diff) else (np.nan, np.nan, np.nan)
        rows.append({"design": col, "networks": len(diff), "advantage": mean, "ci_low": lo, "ci_high": hi,
                     "clears": bool(col != base and lo > 0)})  # NaN bounds compare False
    return pd.DataFrame(rows)


def best_clearing(adv: pd.DataFrame) -> pd.Series | None:
    """The row of a :func:`paired_advantages`-like table whose advantage clears its CI with the largest
    mean advantage (ties: the first row), or ``None`` where no row clears: the base stays."""
    clear = adv[adv["clears"]]
    return None if clear.empty else clear.loc[clear["advantage"].idxmax()]


def design_advantages(choice: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per design of a :func:`design_choice` table: its advantage over :func:`simplest_design` in
    expected validation accuracy, paired per left-out network (points), the mean with its Student-t
    ``confidence`` CI over those networks, and ``clears`` = the CI low is above 0
    (:func:`paired_advantages`). The simplest design itself has advantage 0 and never clears. Rows in
    grid order."""
    wide = choice.pivot_table(index="network", columns=["entropy_weight", "critic_weight"],
                              values="expected_val_acc", sort=False)
    order = list(dict.fromkeys(zip(choice["entropy_weight"], choice["critic_weight"])))
    adv = paired_advantages(wide[order], simplest_design(choice), confidence)
    pairs = pd.DataFrame(adv.pop("design").tolist(), columns=["entropy_weight", "critic_weight"])
    return pd.concat([pairs.astype(float), adv], axis=1)


def chosen_design(choice: pd.DataFrame) -> tuple[float, float]:
    """The design a fold uses: :func:`simplest_design`, unless some other design's advantage over it
    clears its 95 % CI over the left-out training networks (:func:`design_advantages`); then, of those,
    the one with the largest mean advantage (ties: the first in grid order). A float difference that
    moves a mean cannot flip this choice unless it moves a CI across 0."""
    best = best_clearing(design_advantages(choice))
    if best is None:
        return simplest_design(choice)
    return float(best["entropy_weight"]), float(best["critic_weight"])


def expected_table(generators: dict, bank, cfg: Configs, reported: pd.DataFrame) -> pd.DataFrame:
    """Per learned method (name → generators) of ``generators``, held-out network and generator seed:
    the exact expected test accuracy of its masks on the network's landscape (labels: the bank's
    test accuracy, ``reported``'s networks) and its percentile there; and (method ``gan-mode``) the
    label of the ``"gan"`` generators' most probable mask and its exact percentile."""
    rows = []
    s = cfg.landscape_sparsity
    for r in reported.itertuples():
        land = landscape_rows(bank, s, (r.network,))
        labels = land["retrained_acc"]
        by_key = dict(zip(land["key"], labels))
        for method, gens in generators.items():
            for g in gens:
                exp = expected_on_landscape(g, bank, r.network, s, "retrained_acc")
                rows.append({"method": method, "setting": r.setting, "network": r.network, "sparsity": s,
                             "seed": g.config.seed, "expected_acc": exp,
                             "percentile": comparison.percentile_of(exp, labels)})
                if method != "gan":
                    continue
                mode = g.mode(bank.baselines[r.network].model, s, include_linear=False)
                if mode.key() not in by_key:
                    raise ValueError(f"generator {g.config.seed}'s most probable mask is not on network "
                                     f"{r.network}'s landscape at sparsity {s}")
                acc = float(by_key[mode.key()])
                rows.append({"method": "gan-mode", "setting": r.setting, "network": r.network, "sparsity": s,
                             "seed": g.config.seed, "expected_acc": acc,
                             "percentile": comparison.percentile_of(acc, labels)})
    return pd.DataFrame(rows, columns=["method", "setting", "network", "sparsity", "seed", "expected_acc",
                                       "percentile"])


def designs(cfg: Configs, features: tuple[str, ...], chosen: tuple[float, float]) -> dict[str, GanConfig]:
    """The learned designs compared, all reading ``features``: ``"gan"`` (the likelihood stage, then the
    adversarial stage with the chosen entropy and critic weights), ``"gan-likelihood"`` (its likelihood
    stage alone: no discriminator) and ``"gan-from-scratch"`` (the adversarial stage from the untrained
    generator, without the discriminator's stabilisers: the third design's training)."""
    entropy, critic = chosen
    main = replace(cfg.gan, features=tuple(features), entropy_weight=entropy, critic_weight=critic)
    scratch = replace(main, likelihood_steps=0, label_smoothing=0.0, r1_weight=0.0, likelihood_weight=0.0)
    return {"gan": main, "gan-likelihood": main.likelihood_stage(), "gan-from-scratch": scratch}


def fit_learned(banks: dict, cfg: Configs, design: dict[str, GanConfig], *, progress: bool = True):
    """Per setting: one critic per generator seed (reading the designs' features), and per design one
    generator per seed (generator ``i`` with critic ``i``). Returns ``(critics, generators,
    quality, seconds)``: setting → list of critics; setting → design name → list of generators; the
    critics' Spearman on the held-out networks' bank masks (:func:`critic_quality`, one row per critic
    seed); setting → mean fit seconds of one critic and one main generator (of the fits that made
    them, also when loaded from the cache)."""
    features = design["gan"].features
    critics, generators, quality, seconds = {}, {}, [], {}
    for setting, b in banks.items():
        crit = gan.fit_critics(b, networks=cfg.train_networks, seeds=cfg.gan_seeds, steps=cfg.critic_steps,
                               features=features, progress=progress)
        gens = {name: gan.fit_many(b, [replace(c, seed=s) for s in cfg.gan_seeds], critics=crit,
                                   progress=progress)
                for name, c in design.items()}
        held = gan.from_bank(b, networks=cfg.held_out, features=features)
        quality.append(pd.concat([critic_quality(c, held, setting).assign(seed=c.seed) for c in crit]))
        critics[setting], generators[setting] = crit, gens
        seconds[setting] = {"critic": float(np.mean([c.seconds for c in crit])),
                            **{name: float(np.mean([g.history[-1]["seconds"] for g in gs]))
                               for name, gs in gens.items()}}
    return critics, generators, pd.concat(quality, ignore_index=True), seconds


def collapse_sweep(generators, models: dict, *, include_linear: bool, n: int = 20, seed: int = 0,
                   step: float = 0.05) -> pd.DataFrame:
    """Sample ``n`` masks from every generator on every model (name → network) at every sparsity
    ``step, 2·step, …`` feasible with one channel per layer; count the masks with a collapsed layer
    (a property check of the generator: collapse is impossible by construction)."""
    rows = []
    grid = [round(step * i, 6) for i in range(1, int(round(1 / step)))]
    for name, model in models.items():
        sizes = layer_sizes(model, include_linear=include_linear)
        for s in counts.feasible_sparsities(sizes, 1, grid):
            for g in generators:  # one batch of n draws (a property check needs no per-mask seeds)
                feats = g.features(model, include_linear=include_linear)
                with torch.no_grad():
                    vectors = g.distribution(feats, s).sample(n, torch.Generator().manual_seed(seed))
                masks = [ChannelMask.from_vector(v, feats.size_dict()) for v in vectors]
                rows.append({"model": name, "sparsity": s, "generator_seed": g.config.seed,
                             "masks": len(masks),
                             "collapsed": sum(bool(m.collapsed_layers()) for m in masks),
                             "exact_count": all(m.n_pruned == counts.n_pruned(m.n_channels, s)
                                                for m in masks)})
    return pd.DataFrame(rows)
