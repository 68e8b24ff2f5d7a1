"""From the protocol's rows to what the chapter reports: the statistics the targets judge, the
ablation, the verdict text and the glued numbers."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ...analysis import comparison
from ...analysis.targets import check
from .config import CHANNEL_FEATURES, TARGETS, VARIANTS, Configs


def statistics(df: pd.DataFrame, expected: pd.DataFrame | None,
               reported_landscapes: pd.DataFrame | None) -> pd.DataFrame:
    """Every statistic a target can judge: paired differences of each learned variant against every
    other method, and (where exhaustive landscapes exist) the exact expected accuracy and the SD
    across seeds of the learned variants."""
    frames = [comparison.paired_stats(df, list(VARIANTS))]
    if expected is not None and not expected.empty and reported_landscapes is not None:
        frames.append(comparison.landscape_stats(expected, reported_landscapes))
    return pd.concat([f for f in frames if not f.empty], ignore_index=True)


def ablation(stats: pd.DataFrame, targets=TARGETS) -> pd.DataFrame:
    """Design variant × target: cells met of cells checked (``"met/total"``), each variant judged by
    the same targets in place of the GAN (same seeds and pairs for every row)."""

    rows = {}
    for method, label in VARIANTS.items():
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
    where = f"{r.setting} net {r.network} {r.sparsity:.0%}"
    if r.target.startswith("at least the landscape"):
        return f"{where}: {r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] vs {r.threshold:.3f}"
    if r.target.startswith("SD across"):
        return f"{where}: {r.value:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}] points"
    return f"{where}: {r.value:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}]"


def headlines(cells: pd.DataFrame, checks: pd.DataFrame, stats: pd.DataFrame, best: pd.DataFrame,
              targets=TARGETS) -> dict[str, float | str]:
    """Values to glue: ``{setting}_{method}_acc_{pct}`` averaged over the held-out networks
    (``conv+linear`` → ``linear``; ``-``/``+`` → ``_``); per target ``target_<slug>_met`` / ``_cells``
    / ``_status`` (``"met"`` in every checked cell, ``"not met"``, ``"not checked"``);
    the best standard criterion's name per (setting, sparsity) (``best_criterion_{setting}_{pct}``: the
    one measured; ``best_criterion_ties_{setting}_{pct}``: every name that tied with it, ``" = "``-joined)
    and the GAN's mean paired margin over it and over random-min1, in points, averaged over the
    held-out networks (``margin_best_{setting}_{pct}``, ``margin_random_{setting}_{pct}``)."""
    out: dict[str, float | str] = {}
    short = lambda s: s.replace("conv+linear", "linear")  # noqa: E731
    for (setting, method, s), g in cells.groupby(["setting", "method", "sparsity"]):
        out[f"{short(setting)}_{_slug(method)}_acc_{round(s * 100)}"] = float(g["mean"].mean())
    for t in targets:
        g = checks[checks["target"] == t.name]
        out[f"target_{_slug(t.name)}_met"] = float(g["met"].sum())
        out[f"target_{_slug(t.name)}_cells"] = float(len(g))
        out[f"target_{_slug(t.name)}_status"] = ("not checked" if g.empty
                                                 else "met" if bool(g["met"].all()) else "not met")
    for r in best[best["best"]].itertuples():
        out[f"best_criterion_{short(r.setting)}_{round(r.sparsity * 100)}"] = str(r.method)
        out[f"best_criterion_ties_{short(r.setting)}_{round(r.sparsity * 100)}"] = str(r.ties)
    paired = stats[(stats["statistic"] == "paired") & (stats["method"] == "gan")]
    for (setting, s, other), g in paired.groupby(["setting", "sparsity", "other"]):
        if other in ("best-criterion", "random-min1"):
            name = "best" if other == "best-criterion" else "random"
            out[f"margin_{name}_{short(setting)}_{round(s * 100)}"] = float(g["value"].mean())
    return out


def one_off_costs(bank_evaluations: int, fit_seconds: dict, cfg: Configs) -> dict[str, str]:
    """Method → the one-off cost it shares (bank retrainings, mean seconds to fit one generator and
    one critic, averaged over the settings)."""
    gan_s = float(np.mean([v["gan"] for v in fit_seconds.values()]))
    critic_s = float(np.mean([v["critic"] for v in fit_seconds.values()]))
    bank = f"{bank_evaluations} bank retrainings"
    per = f"{len(cfg.gan_seeds)} seeds ×"
    return {"gan": f"{bank} + {per} (GAN {gan_s:.0f} s + critic {critic_s:.0f} s)",
            "gan-discriminator-only": f"{bank} + {per} GAN {gan_s:.0f} s",
            "gan-critic-reward": f"{bank} + {per} (GAN {gan_s:.0f} s + critic {critic_s:.0f} s)",
            "gan+critic": f"{bank} + {per} (GAN {gan_s:.0f} s + critic {critic_s:.0f} s)",
            "random-min1+critic": f"{bank} + {per} critic {critic_s:.0f} s", "best-bank": bank}


def extra_numbers(cfg: Configs, splits: dict, design: pd.DataFrame, chosen: tuple[float, float],
                  signal_summary: pd.DataFrame, features: tuple[str, ...], quality: pd.DataFrame,
                  expected: pd.DataFrame) -> dict[str, float | str]:
    """The chapter's other glued values: split sizes, networks, seeds, the retraining budget and pairs
    (read from ``cfg``, the configs the chapter ran), the chosen design and features, the critics'
    quality and the exact landscape results (mean over seeds and held-out networks)."""
    out: dict[str, float | str] = {
        "gan_retrain_epochs": float(cfg.retrain_epochs), "gan_samples": float(cfg.protocol.samples),
        "gan_replicate": float(cfg.seed),
        "gan_n_train": float(splits["train"]), "gan_n_val": float(splits["val"]),
        "gan_n_test": float(splits["test"]),
        "gan_networks_train": float(len(cfg.train_networks)),
        "gan_networks_held_out": float(len(cfg.held_out)),
        "gan_seeds": float(len(cfg.gan_seeds)),
        "gan_entropy_weight": chosen[0], "gan_critic_weight": chosen[1],
        "gan_features": ", ".join(f for f in features if f in CHANNEL_FEATURES) or "none",
        "gan_features_with_signal": float(signal_summary["signal"].sum()),
        "gan_features_tried": float(len(signal_summary))}
    top = signal_summary.iloc[0]
    out.update({"signal_top_feature": str(top["feature"]), "signal_top_spearman": float(top["mean"])})
    for setting, g in quality.groupby("setting"):
        out[f"critic_spearman_collapse_free_{setting.replace('conv+linear', 'linear')}"] = float(
            g["spearman_collapse_free"].mean())
    for method, g in expected.groupby("method"):
        out[f"landscape_{_slug(method)}_expected"] = float(g["expected_acc"].mean())
        out[f"landscape_{_slug(method)}_percentile"] = float(g["percentile"].mean())
    return out


def _slug(text: str) -> str:
    slug = "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")
    while "__" in slug:
        slug = slug.replace("__", "_")
    return slug
