"""Figures of Part 2 (mask bank and GAN). Each function takes tidy data and returns a Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns



def _palette(labels) -> dict:
    """One colour per method label, in order of appearance (the same label gets the same colour in
    every figure of one call)."""
    labels = list(dict.fromkeys(labels))
    return dict(zip(labels, sns.color_palette("tab10", max(len(labels), 1))))


def gan_training(histories: dict[str, list[dict]], *, window: int = 25) -> plt.Figure:
    """Per training run (name → :attr:`prunegan.gan.Generator.history`): the discriminator's logit gap
    between bank and generated masks and the generator's mean reward, per step (moving average over
    ``window`` steps)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, history in histories.items():
        df = pd.DataFrame(history)
        ax1.plot(df["step"], df["d_gap"].rolling(window, min_periods=1).mean(), label=name, lw=1.2)
        ax2.plot(df["step"], df["reward"].rolling(window, min_periods=1).mean(), label=name, lw=1.2)
    ax1.axhline(0, color="grey", lw=0.8, ls="--")
    ax1.set(xlabel="step", ylabel=f"D logit gap, bank − generated ({window}-step mean)")
    ax2.set(xlabel="step", ylabel="mean reward of generated masks")
    ax2.legend(fontsize=7, loc="best")
    fig.suptitle("GAN training")
    fig.tight_layout()
    return fig


def protocol(cells: pd.DataFrame) -> plt.Figure:
    """Retrained accuracy (mean and 95 % CI) of every method, one panel per (setting, sparsity),
    one point per held-out network (:func:`prunegan.chapters.part2.cell_table`)."""
    panels = list(dict.fromkeys(zip(cells["setting"], cells["sparsity"])))
    labels = list(dict.fromkeys(cells["label"]))
    colours = _palette(labels)
    nets = list(dict.fromkeys(cells["network"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 0.42 * len(labels) + 1.6),
                             sharey=True, squeeze=False)
    for ax, (setting, s) in zip(axes[0], panels):
        d = cells[(cells["setting"] == setting) & np.isclose(cells["sparsity"], s)]
        for r in d.itertuples():
            y = labels.index(r.label) + (nets.index(r.network) - (len(nets) - 1) / 2) * 0.25
            ax.errorbar(r.mean, y, xerr=[[r.mean - r.ci_low], [r.ci_high - r.mean]], fmt="o", ms=4,
                        color=colours[r.label], capsize=2)
        ax.set_title(f"{setting}, {s:.0%}")
        ax.set_xlabel("retrained accuracy")
        ax.grid(axis="x", lw=0.4)
    axes[0][0].set_yticks(range(len(labels)), labels)
    axes[0][0].invert_yaxis()
    fig.suptitle("Held-out networks: one point per network (mean, 95 % CI)")
    fig.tight_layout()
    return fig


def keep_map(keep: pd.DataFrame, *, title: str = "Keep-probability per channel",
             max_channels: int = 64) -> plt.Figure:
    """Heatmap of the generator's keep-probabilities (:func:`prunegan.analysis.masks.keep_map`): one panel
    per layer, rows = sparsity, columns = channels ordered by mean |w| (largest first); layers wider
    than ``max_channels`` show their ``max_channels`` largest-|w| channels."""
    layers = list(dict.fromkeys(keep["layer"]))
    widths = [min(keep.loc[keep["layer"] == layer, "channel"].nunique(), max_channels) for layer in layers]
    fig, axes = plt.subplots(1, len(layers),
                             figsize=(min(2 + 0.28 * sum(widths), 16),
                                      0.45 * keep["sparsity"].nunique() + 1.8),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    for i, (ax, layer) in enumerate(zip(axes[0], layers)):
        d = keep[(keep["layer"] == layer) & (keep["l1_position"] < max_channels)]
        grid = d.pivot(index="sparsity", columns="l1_position", values="keep_prob").sort_index()
        sns.heatmap(grid, ax=ax, vmin=0, vmax=1, cmap="viridis", cbar=i == len(layers) - 1,
                    cbar_kws={"label": "keep-probability"} if i == len(layers) - 1 else None,
                    yticklabels=[f"{s:.0%}" for s in grid.index] if i == 0 else False,
                    xticklabels=False)
        ax.set_title(f"{layer} ({keep.loc[keep['layer'] == layer, 'channel'].nunique()} ch.)")
        ax.set_xlabel("channels by mean |w| →")
        ax.set_ylabel("sparsity" if i == 0 else "")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def feature_signal(table: pd.DataFrame) -> plt.Figure:
    """Mean within-layer Spearman of each channel feature with the channel's landscape value, with
    its 95 % CI over networks (:func:`prunegan.analysis.signal.signal_table`); filled where the CI
    excludes 0."""
    t = table.iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.28 * len(t) + 1.2))
    y = np.arange(len(t))
    for yi, r in zip(y, t.itertuples()):
        ax.errorbar(r.mean, yi, xerr=[[r.mean - r.ci_low], [r.ci_high - r.mean]], fmt="o",
                    mfc="C0" if r.signal else "white", color="C0", capsize=2, ms=5)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, t["feature"])
    ax.set_xlabel("Spearman with the channel's landscape value (within layer)")
    ax.set_title("Which channel features carry a signal (training networks, 95 % CI)")
    ax.grid(axis="x", lw=0.4)
    fig.tight_layout()
    return fig


def forest(stats: pd.DataFrame, method: str, other: str, *, threshold: float | None = None) -> plt.Figure:
    """Forest plot of ``method − other`` (points), one panel per (setting, sparsity): each network's paired
    mean with its 95 % CI over its pairs (``statistic="paired"`` rows, labelled ``net <i>``) and, below, the
    pooled mean with its CI over networks (``"networks_paired"``), a line at 0 and at ``threshold``."""
    sel = stats[(stats["method"] == method) & (stats["other"] == other)]
    per = sel[sel["statistic"] == "paired"]
    pooled = sel[sel["statistic"] == "networks_paired"]
    panels = list(dict.fromkeys(zip(pooled["setting"], pooled["sparsity"])))
    if not panels:
        raise ValueError(f"no networks_paired rows of {method!r} − {other!r} to plot")
    n_rows = max(len(per[(per["setting"] == s) & np.isclose(per["sparsity"], p)]) for s, p in panels) + 2
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 0.32 * n_rows + 1.4), squeeze=False)
    for ax, (setting, s) in zip(axes[0], panels):
        d = per[(per["setting"] == setting) & np.isclose(per["sparsity"], s)].sort_values("network")
        labels = [f"net {n}" for n in d["network"]]
        for y, r in enumerate(d.itertuples()):
            ax.errorbar(r.value, y, xerr=[[r.value - r.ci_low], [r.ci_high - r.value]], fmt="o", ms=4,
                        color="tab:blue", capsize=2)
        p = pooled[(pooled["setting"] == setting) & np.isclose(pooled["sparsity"], s)].iloc[0]
        y = len(d) + 0.5
        ax.errorbar(p["value"], y, xerr=[[p["value"] - p["ci_low"]], [p["ci_high"] - p["value"]]], fmt="D",
                    ms=6, color="black", capsize=3, lw=2)
        ax.set_yticks([*range(len(d)), y], [*labels, f"pooled ({int(p['n'])} networks)"])
        ax.axvline(0, color="grey", lw=0.8)
        if threshold is not None:
            ax.axvline(threshold, color="tab:red", lw=0.8, ls="--")
        ax.invert_yaxis()
        ax.set(title=f"{setting}, {s:.0%}", xlabel=f"{method} − {other} (points)")
        ax.grid(axis="x", lw=0.4)
    fig.suptitle(f"{method} − {other}: each held-out network (CI over its pairs), pooled (CI over networks)")
    fig.tight_layout()
    return fig
