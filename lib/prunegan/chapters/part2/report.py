"""From the protocol's rows to what the chapter reports: the statistics the targets judge, the
ablation, the verdict text and the glued numbers."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ...analysis import comparison
from ...analysis.targets import check
from .config import CHANNEL_FEATURES, TARGETS, VARIANTS, Configs
from .crossfit import final_design
from .summary import short, slug


#: The variants judged in place of the GAN (the ablation's rows, in order): every learned method of
#: :data:`VARIANTS` (the designs of :func:`.learned.designs`, the critic-ranked searches, the untrained
#: generator).
ABLATION = dict(VARIANTS)


def statistics(df: pd.DataFrame, expected: pd.DataFrame | None,
               reported_landscapes: pd.DataFrame | None) -> pd.DataFrame:
    """Every statistic a target can judge. Per network: paired differences of each learned variant
    against every other method (``"paired"``; CI over that network's pairs) and, where exhaustive
    landscapes exist, the exact expected accuracy and the SD across seeds (``"landscape"``,
    ``"seed_sd"``). Over networks (the network as the unit, in every setting with two networks or
    more): ``"networks_paired"``, ``"networks_landscape"``, ``"networks_seed_sd"``
    (:func:`prunegan.analysis.comparison.over_networks`, ``network="all"``)."""
    paired = comparison.paired_stats(df, list(ABLATION))
    frames = [paired, comparison.over_networks(paired)]
    if expected is not None and not expected.empty and reported_landscapes is not None:
        frames += [comparison.landscape_stats(expected, reported_landscapes),
                   comparison.landscape_over_networks(expected, reported_landscapes)]
    return pd.concat([f for f in frames if not f.empty], ignore_index=True)


def ablation(stats: pd.DataFrame, targets=TARGETS) -> pd.DataFrame:
    """Design variant × target: cells met of cells checked (``"met/total"``), each variant judged by
    the same targets in place of the GAN (same seeds and pairs for every row). A row per variant of
    :data:`ABLATION` that was measured (``stats`` has a row of it)."""

    rows = {}
    measured = set(stats["method"])
    for method, label in ABLATION.items():
        if method not in measured:
            continue
        ts = [replace(t, method=method) for t in targets if t.method == "gan" and t.other != method]
        c = check(ts, stats)
        rows[label] = {t.name: (f"{int(c[c.target == t.name]['met'].sum())}/{int((c.target == t.name).sum())}"
                                if (c.target == t.name).any() else "–") for t in ts}
    return pd.DataFrame(rows).T.fillna("–")


def verdict(checks: pd.DataFrame, targets=TARGETS) -> str:
    """One Markdown bullet per target: met in how many cells, with each cell's judged CI."""
    lines = []
    for t in targets:
        g = checks[checks["target"] == t.name]
        if g.empty:
            lines.append(f"{t.name} ({t.describe()}): **not checked** (no cell in this run).")
            continue
        status = "met" if g["met"].all() else "not met"
        cells = "; ".join(_cell_text(r) for r in g.itertuples())
        lines.append(f"{t.name} ({t.describe()}): **{status}** "
                     f"({int(g['met'].sum())}/{len(g)} cells) — {cells}.")
    return "\n".join(f"- {line}" for line in lines)


def _cell_text(r) -> str:
    cell, detail, text = _cell_parts(r)
    return f"{cell}{detail}: {text}"


def _cell_parts(r) -> tuple[str, str, str]:
    """A checked cell as the verdict writes it: its name (``"conv 80%"``, ``"conv net 3 90%"``), the
    parenthesis after the name (``" (10 networks)"`` or ``""``) and its judged numbers as text."""
    if r.target.startswith("fit: no generator"):
        return f"{r.setting}", "", f"{int(r.value)} of {_count(r.n)} generators"
    detail = ""
    if r.network == "all":
        cell = f"{r.setting} {r.sparsity:.0%}"
        detail = f" ({_count(r.n)} networks)"
        if r.target.startswith("SD across"):
            detail = f" (pooled within networks, {_count(r.n)} df)"
    else:
        cell = f"{r.setting} net {r.network} {r.sparsity:.0%}"
    if r.target.startswith("at least the landscape"):
        if r.network == "all":
            return cell, detail, (f"{r.value:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}] points from the 85th "
                                  "percentile")
        return cell, detail, f"{r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] vs {r.threshold:.3f}"
    if r.target.startswith("SD across"):
        return cell, detail, f"{r.value:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}] points"
    return cell, detail, f"{r.value:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}]"


def _count(n) -> str:
    return "?" if n is None or (isinstance(n, float) and np.isnan(n)) else f"{int(n)}"


def judged_cells(checks: pd.DataFrame, targets=TARGETS) -> dict[str, list[dict]]:
    """Per target (its name, every target of ``targets``): its checked cells as plain JSON values, in the
    verdict's order: ``cell`` (the cell's name in :func:`verdict`, ``"conv 80%"``), ``text`` (its judged
    numbers as the verdict writes them), ``value``, ``ci_low``, ``ci_high``, ``threshold`` (``None`` where
    NaN) and ``met`` (the target's judgement, :func:`prunegan.analysis.targets.check`)."""
    def plain(v):
        v = float(v)
        return None if np.isnan(v) else v
    out = {}
    for t in targets:
        rows = []
        for r in checks[checks["target"] == t.name].itertuples():
            cell, _, text = _cell_parts(r)
            rows.append({"cell": cell, "text": text, "value": plain(r.value), "ci_low": plain(r.ci_low),
                         "ci_high": plain(r.ci_high), "threshold": plain(r.threshold), "met": bool(r.met)})
        out[t.name] = rows
    return out


def headlines(cells: pd.DataFrame, best: pd.DataFrame) -> dict[str, float | str]:
    """Values to glue: ``{setting}_{method}_acc_{pct}`` averaged over the held-out networks
    (``conv+linear`` → ``linear``; ``-``/``+`` → ``_``) and the best standard criterion per (setting,
    sparsity) (``best`` may hold one choice per ``fold``: ``best_criterion_{setting}_{pct}``: the name
    measured in most folds, ``best_criterion_folds_…``: in how many; ``best_criterion_ties_…``: per fold
    every name that tied, ``" = "``-joined). Margins and targets: :class:`.summary.Chapter6Summary`."""
    out: dict[str, float | str] = {}
    for (setting, method, s), g in cells.groupby(["setting", "method", "sparsity"]):
        out[f"{short(setting)}_{slug(method)}_acc_{round(s * 100)}"] = float(g["mean"].mean())
    chosen = best[best["best"]]
    for (setting, s), g in chosen.groupby(["setting", "sparsity"], sort=False):
        names = g["method"].astype(str).tolist()
        key = f"{short(setting)}_{round(s * 100)}"
        out[f"best_criterion_{key}"] = max(dict.fromkeys(names), key=names.count)
        folds = g["fold"].tolist() if "fold" in g else [None] * len(g)
        out[f"best_criterion_ties_{key}"] = "; ".join(
            str(t) if k is None else f"fold {k}: {t}" for k, t in zip(folds, g["ties"]))
        out[f"best_criterion_folds_{key}"] = float(names.count(out[f"best_criterion_{key}"]))
    return out


def one_off_costs(bank_evaluations: int, folds: list, cfg: Configs) -> dict[str, str]:
    """Method → the one-off cost it shares: the bank retrainings, and per fold (:class:`.crossfit.Fold`)
    and seed one generator fit of its design and one critic fit (mean seconds over folds and settings;
    a design's seconds include its likelihood stage)."""
    secs = [v for f in folds for v in f.fit_seconds.values()]
    fit = {name: float(np.mean([v[name] for v in secs if name in v]))
           for name in ("gan", "gan-likelihood", "gan-from-scratch", "critic")}
    bank = f"{bank_evaluations} bank retrainings"
    per = f"{len(folds)} folds × {len(cfg.gan_seeds)} seeds ×"
    with_critic = f"{bank} + {per} (GAN {fit['gan']:.0f} s + critic {fit['critic']:.0f} s)"
    return {"gan": with_critic, "gan+critic": with_critic,
            "gan-likelihood": f"{bank} + {per} likelihood fit {fit['gan-likelihood']:.0f} s",
            "gan-from-scratch": f"{bank} + {per} (GAN from scratch {fit['gan-from-scratch']:.0f} s "
                                f"+ critic {fit['critic']:.0f} s)",
            "random-min1+critic": f"{bank} + {per} critic {fit['critic']:.0f} s", "best-bank": bank}


def extra_numbers(cfg: Configs, splits: dict, folds: list) -> dict[str, float | str]:
    """The chapter's other glued values: split sizes, networks and folds (per fold: networks trained on
    and held out), seeds, the retraining budget and pairs (read from ``cfg``, the configs the chapter
    ran), the design and channel features the folds chose (the design most folds chose, how many chose
    it, and every fold's), the critics' quality and the exact landscape results (means over seeds and
    networks); ``folds``: the :class:`.crossfit.Fold` results."""
    first = folds[0].cfg
    designs_ = [f.chosen for f in folds]
    modal, _ = final_design(folds)
    feats = [x for f in folds for x in f.features if x in CHANNEL_FEATURES]
    summary = pd.concat([f.signal_summary for f in folds], ignore_index=True)
    out: dict[str, float | str] = {
        "gan_retrain_epochs": float(cfg.retrain_epochs), "gan_samples": float(cfg.protocol.samples),
        "gan_replicate": float(cfg.seed),
        "gan_n_train": float(splits["train"]), "gan_n_val": float(splits["val"]),
        "gan_n_test": float(splits["test"]),
        "gan_networks": float(len(cfg.networks)), "gan_folds": float(len(folds)),
        "gan_networks_train": float(len(first.train_networks)),
        "gan_networks_held_out": float(len(first.held_out)),
        "gan_seeds": float(len(cfg.gan_seeds)),
        "gan_entropy_weight": modal[0], "gan_critic_weight": modal[1],
        "gan_design_folds": float(designs_.count(modal)),
        "gan_designs": "; ".join(f"fold {f.k}: entropy {f.chosen[0]:g}, critic {f.chosen[1]:g}"
                                 for f in folds),
        "gan_features": ", ".join(f"{x} ({feats.count(x)}/{len(folds)} folds)" for x in dict.fromkeys(feats))
                        or "none",
        "gan_features_with_signal": float(summary.groupby("fold")["signal"].sum().mean()),
        "gan_features_tried": float(len(folds[0].signal_summary))}
    top = summary.groupby("feature", sort=False)["mean"].mean().sort_values(ascending=False)
    out.update({"signal_top_feature": str(top.index[0]), "signal_top_spearman": float(top.iloc[0])})
    quality = pd.concat([f.quality for f in folds], ignore_index=True)
    for setting, g in quality.groupby("setting"):
        out[f"critic_spearman_collapse_free_{short(setting)}"] = float(
            g["spearman_collapse_free"].mean())
    expected = pd.concat([f.expected for f in folds], ignore_index=True)
    for method, g in expected.groupby("method"):
        out[f"landscape_{slug(method)}_expected"] = float(g["expected_acc"].mean())
        out[f"landscape_{slug(method)}_percentile"] = float(g["percentile"].mean())
    return out
