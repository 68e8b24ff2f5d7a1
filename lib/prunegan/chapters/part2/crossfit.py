"""Cross-fitting: every network of the chapter held out exactly once. For fold ``k``
(:meth:`~prunegan.chapters.part2.config.Configs.fold`) everything learned or chosen — the channel
features, the design chosen leave-one-network-out, the critics and generators, the best standard
criterion — uses only the other folds' networks; the protocol then measures on fold ``k``'s networks
(and on the transfer network, with fold ``k``'s pairs)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd

from ...gan import AccuracyCritic, Generator

from .config import CHANNEL_FEATURES, SETTINGS, Configs
from .criteria import best_criteria, criterion_choice
from .fits import fit_table, in_sample
from .learned import (chosen_design, design_advantages, design_choice, designs, expected_table,
                      feature_choice, fit_learned, landscapes)
from .methods import run_protocol, with_best_criterion


@dataclass(frozen=True)
class Fold:
    """What fold ``k`` learned and chose on its training networks, and what it measured on its own.
    ``critics``: setting → critic of seed ``i`` at position ``i``; ``generators``: setting → design name
    (:func:`.learned.designs`) → generator of seed ``i`` at position ``i``; ``fit_seconds``: setting →
    mean seconds of one fit per design and of one critic."""

    k: int
    cfg: Configs
    signal_per_net: pd.DataFrame
    signal_summary: pd.DataFrame
    features: tuple[str, ...]
    design_table: pd.DataFrame
    chosen: tuple[float, float]
    critics: Mapping[str, Sequence[AccuracyCritic]]
    generators: Mapping[str, Mapping[str, Sequence[Generator]]]
    quality: pd.DataFrame
    fit_seconds: Mapping[str, Mapping[str, float]]
    choice: pd.DataFrame
    best: pd.DataFrame
    protocol: pd.DataFrame       # the fold's held-out networks, both settings, with best-criterion
    transfer: pd.DataFrame       # the transfer network, the fold's pairs (trial = k · samples + i)
    expected: pd.DataFrame       # exact expectations on the fold's landscapes (conv, landscape sparsity)
    fits: pd.DataFrame           # every generator's fit checks (.fits.fit_table)
    in_sample: pd.DataFrame      # the seed-0 GAN's in-sample accuracy (.fits.in_sample)


def run_fold(banks: dict, cfg: Configs, k: int, *, progress: bool = True, **where) -> Fold:
    """Fold ``k`` of ``cfg`` (the chapter's configs) end to end. ``where``: passed to every evaluation
    (:func:`criterion_choice`, :func:`run_protocol`: where the masks are retrained); ``progress``: of
    the fits."""
    f = cfg.fold(k)
    conv = banks["conv"]
    per_net, summary, features = feature_choice(conv, f)
    table = design_choice(conv, f, per_net, progress=progress)
    chosen = chosen_design(table)
    critics, generators, quality, seconds = fit_learned(banks, f, designs(f, features, chosen),
                                                        progress=progress)
    fit_rows = fit_table(banks, generators, f.train_networks[0], f.landscape_sparsity).assign(fold=k)
    ins = in_sample(banks, f, {s: generators[s]["gan"][0] for s in SETTINGS}, f.train_networks,
                    label=f"fold {k}", **where).assign(fold=k)
    choice = pd.concat([criterion_choice(f, s, **where) for s in SETTINGS], ignore_index=True)
    best = best_criteria(choice)
    df = pd.concat([run_protocol(f, s, generators[s], critics[s], bank=banks[s], **where) for s in SETTINGS],
                   ignore_index=True)
    tdf = run_protocol(f, "transfer", generators["conv"], critics["conv"], **where)
    tdf = tdf.assign(trial=tdf["trial"] + k * f.protocol.samples)
    reported = landscapes(conv, f.landscape_sparsity, f.held_out, "retrained_acc")
    expected = expected_table(generators["conv"], conv, f, reported)
    return Fold(k=k, cfg=f, signal_per_net=per_net.assign(fold=k), signal_summary=summary.assign(fold=k),
                features=features, design_table=table.assign(fold=k), chosen=chosen, critics=critics,
                generators=generators, quality=quality.assign(fold=k), fit_seconds=seconds,
                choice=choice.assign(fold=k), best=best.assign(fold=k),
                protocol=with_best_criterion(df, best).assign(fold=k),
                transfer=with_best_criterion(tdf, best).assign(fold=k), expected=expected.assign(fold=k),
                fits=fit_rows, in_sample=ins)


def cross_fit(banks: dict, cfg: Configs, *, progress: bool = True, **where) -> list[Fold]:
    """:func:`run_fold` for every fold of ``cfg``: every network is held out exactly once."""
    return [run_fold(banks, cfg, k, progress=progress, **where) for k in range(len(cfg.folds))]


def gather(folds: list[Fold], name: str) -> pd.DataFrame:
    """One table of every fold's ``name`` (a :class:`Fold` frame; each carries ``fold``)."""
    return pd.concat([getattr(f, name) for f in folds], ignore_index=True)


def fold_of(folds: list[Fold], network: int) -> Fold:
    """The fold in which ``network`` is held out."""
    for f in folds:
        if network in f.cfg.held_out:
            return f
    raise ValueError(f"network {network} is in no fold (folds: {[f.cfg.held_out for f in folds]})")


def design_overview(folds: list[Fold]) -> pd.DataFrame:
    """Per fold and candidate design: its advantage over the simplest design on the fold's training
    networks (:func:`~prunegan.chapters.part2.learned.design_advantages`: points, 95 % CI over the
    left-out networks, ``clears``) and ``chosen`` (the design the fold used)."""
    return pd.concat([design_advantages(f.design_table).assign(
        fold=f.k, chosen=lambda d, f=f: [(e, c) == f.chosen for e, c in zip(d["entropy_weight"],
                                                                               d["critic_weight"])])
        for f in folds], ignore_index=True)[["fold", "entropy_weight", "critic_weight", "networks",
                                              "advantage", "ci_low", "ci_high", "clears", "chosen"]]


def final_design(folds: list[Fold]) -> tuple[tuple[float, float], tuple[str, ...]]:
    """The design to use on a new network, from what the folds chose: the (entropy_weight,
    critic_weight) most folds chose (ties: the first fold's), and the structural features plus every
    channel feature that at least half of the folds chose, in the first fold's order."""
    designs_ = [f.chosen for f in folds]
    design = max(dict.fromkeys(designs_), key=designs_.count)
    chosen = [x for f in folds for x in f.features]
    order = list(dict.fromkeys(chosen))
    feats = tuple(x for x in order if x not in CHANNEL_FEATURES or 2 * chosen.count(x) >= len(folds))
    return design, feats


def final_fit(banks: dict, cfg: Configs, folds: list[Fold], *, progress: bool = True) -> dict:
    """Per setting, one generator of :func:`final_design` fitted on *every* network of the chapter
    (seed ``cfg.choice_seed``; with a critic of the same seed when the design uses one): what a reader
    applies to a new network (``prunegan.gan.load_shipped``). Not measured here: each network's numbers
    come from the fold that held it out."""
    from dataclasses import replace

    from ... import gan

    (entropy, critic), feats = final_design(folds)
    everyone = tuple(range(len(cfg.networks)))
    config = replace(cfg.gan, networks=everyone, features=feats, entropy_weight=entropy, critic_weight=critic,
                     seed=cfg.choice_seed)
    out = {}
    for setting, b in banks.items():
        crit = (gan.fit_critics(b, networks=[everyone], seeds=[cfg.choice_seed], steps=cfg.critic_steps,
                                features=feats, progress=progress)[0] if critic > 0 else None)
        out[setting] = gan.fit(b, config, critic=crit, progress=progress)
    return out


def final_checks(banks: dict, cfg: Configs, final: dict, *,
                 execution=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fit checks of :func:`final_fit`'s generators (setting → generator), fitted on every network:
    their :func:`.fits.fit_table` rows (design ``"gan"``, fold ``"final"``) and their in-sample accuracy on
    every network (:func:`.fits.in_sample`, generator ``"final"``)."""
    from ...pruning.executors import Execution

    where = {"execution": execution or Execution()}
    rows = fit_table(banks, {s: {"gan": [g]} for s, g in final.items()}, 0, cfg.landscape_sparsity)
    ins = in_sample(banks, cfg, final, tuple(range(len(cfg.networks))), label="final", **where)
    return rows.assign(fold="final"), ins
