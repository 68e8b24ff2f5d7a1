"""Figures of Part 2 (mask bank and GAN). Each function takes tidy data and returns a Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .part1 import COLUMN_IN, DPI

#: Smallest font (points) of every Part 2 figure, shown at its own size in the book's column.
FONT_PT = 9


def _palette(labels) -> dict:
    """One distinct colour per method label, in order of appearance (tab10, tab20 beyond 10 labels)."""
    labels = list(dict.fromkeys(labels))
    name = "tab10" if len(labels) <= 10 else "tab20"
    return dict(zip(labels, sns.color_palette(name, max(len(labels), 1))))


def _grid(n_panels: int, panel_height: float, **kw):
    """``n_panels`` axes in rows of at most two, :data:`COLUMN_IN` wide; returns (fig, flat axes)."""
    ncols = min(2, n_panels)
    nrows = -(-n_panels // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_IN, panel_height * nrows), dpi=DPI,
                             squeeze=False, layout="constrained", **kw)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def gan_training(histories: dict[str, list[dict]], *, window: int = 25) -> plt.Figure:
    """Per training run (name → :attr:`prunegan.gan.Generator.history`), against the step (moving averages
    over ``window`` steps): left, the weighted negative log-likelihood of the bank masks (``nll``: the
    likelihood stage's loss); right, the discriminator's mean probability on bank masks (solid) and on
    generated masks (dashed) during the adversarial stage, with the divergence threshold's gap in mind
    (a fit whose two lines end far apart diverged). A run without a stage leaves its panel empty."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(COLUMN_IN, 3.2 + 0.22 * len(histories)), dpi=DPI,
                                   layout="constrained")
    colours = _palette(histories)
    for name, history in histories.items():
        df = pd.DataFrame(history)
        if "stage" not in df:
            df["stage"] = "adversarial"
        lik = df[df["stage"] == "likelihood"]
        if not lik.empty:
            ax1.plot(lik["step"], lik["nll"].rolling(window, min_periods=1).mean(), color=colours[name],
                     label=name, lw=1.2)
        adv = df[df["stage"] == "adversarial"] if "d_real" in df else df[:0]
        if not adv.empty:
            for col, ls in (("d_real", "-"), ("d_fake", "--")):
                ax2.plot(adv["step"], adv[col].rolling(window, min_periods=1).mean(), color=colours[name],
                         ls=ls,
                         lw=1.2, label=name if lik.empty and col == "d_real" else None)
    ax1.set_xlabel("step (likelihood stage)", fontsize=FONT_PT + 1)
    ax1.set_ylabel(f"bank masks' weighted −log P\n(nats, {window}-step mean)", fontsize=FONT_PT + 1)
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("step (adversarial stage)", fontsize=FONT_PT + 1)
    ax2.set_ylabel("discriminator's P(bank)\nsolid: bank masks, dashed: generated", fontsize=FONT_PT + 1)
    for ax in (ax1, ax2):
        ax.tick_params(labelsize=FONT_PT)
    handles, labels = [], []
    for ax in (ax1, ax2):
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labels += lab
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=FONT_PT, frameon=False)
    return fig


def protocol(cells: pd.DataFrame) -> plt.Figure:
    """Retrained accuracy (mean and 95 % CI) of every method, one panel per (setting, sparsity),
    one point per held-out network (:func:`prunegan.chapters.part2.cell_table`)."""
    panels = list(dict.fromkeys(zip(cells["setting"], cells["sparsity"])))
    labels = list(dict.fromkeys(cells["label"]))
    colours = _palette(labels)
    nets = list(dict.fromkeys(cells["network"]))
    fig, axes = _grid(len(panels), 0.3 * len(labels) + 1.0, sharey=True)
    for i, (ax, (setting, s)) in enumerate(zip(axes, panels)):
        d = cells[(cells["setting"] == setting) & np.isclose(cells["sparsity"], s)]
        for r in d.itertuples():
            y = labels.index(r.label) + (nets.index(r.network) - (len(nets) - 1) / 2) * 0.6 / len(nets)
            ax.errorbar(r.mean, y, xerr=[[r.mean - r.ci_low], [r.ci_high - r.mean]], fmt="o", ms=3,
                        color=colours[r.label], capsize=1.5, lw=0.8)
        ax.set_title(f"{setting}, {s:.0%}", fontsize=FONT_PT + 1)
        ax.set_xlabel("retrained test accuracy", fontsize=FONT_PT)
        ax.tick_params(labelsize=FONT_PT)
        ax.grid(axis="x", lw=0.4)
        ax.tick_params(labelleft=i % 2 == 0)
    axes[0].set_yticks(range(len(labels)), labels)
    axes[0].invert_yaxis()
    return fig


def keep_map(keep: pd.DataFrame, *, title: str = "Keep-probability per channel",
             max_channels: int = 64) -> plt.Figure:
    """Heatmap of the generator's keep-probabilities (:func:`prunegan.analysis.masks.keep_map`): one panel
    per layer, rows = sparsity, columns = channels ordered by mean |w| (largest first); layers wider
    than ``max_channels`` show their ``max_channels`` largest-|w| channels."""
    layers = list(dict.fromkeys(keep["layer"]))
    n_sp = keep["sparsity"].nunique()
    fig, axes = plt.subplots(len(layers), 1, figsize=(COLUMN_IN, len(layers) * (0.32 * n_sp + 0.75) + 0.6),
                             dpi=DPI, squeeze=False, layout="constrained")
    for i, (ax, layer) in enumerate(zip(axes[:, 0], layers)):
        d = keep[(keep["layer"] == layer) & (keep["l1_position"] < max_channels)]
        grid = d.pivot(index="sparsity", columns="l1_position", values="keep_prob").sort_index()
        sns.heatmap(grid, ax=ax, vmin=0, vmax=1, cmap="viridis", cbar=i == 0,
                    cbar_ax=None, cbar_kws={"label": "keep-probability", "location": "top",
                                            "shrink": 0.5} if i == 0 else None,
                    yticklabels=[f"{s:.0%}" for s in grid.index], xticklabels=False)
        n = keep.loc[keep["layer"] == layer, "channel"].nunique()
        shown = f", {grid.shape[1]} largest shown" if grid.shape[1] < n else ""
        ax.set_ylabel(f"{layer}\n({n} ch.{shown})", fontsize=FONT_PT, rotation=0, ha="right", va="center")
        ax.set_xlabel("")
        ax.tick_params(labelsize=FONT_PT, rotation=0)
    axes[-1, 0].set_xlabel("channels ordered by mean |w| within the layer, largest first →", fontsize=FONT_PT)
    fig.suptitle(title, fontsize=FONT_PT + 1)
    return fig


def feature_signal(table: pd.DataFrame) -> plt.Figure:
    """Mean within-layer Spearman of each channel feature with the channel's landscape value, with
    its 95 % CI over networks (:func:`prunegan.analysis.signal.signal_table`); filled where the CI
    excludes 0."""
    t = table.iloc[::-1]
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 0.28 * len(t) + 1.2), dpi=DPI)
    y = np.arange(len(t))
    for yi, r in zip(y, t.itertuples()):
        ax.errorbar(r.mean, yi, xerr=[[r.mean - r.ci_low], [r.ci_high - r.mean]], fmt="o",
                    mfc="C0" if r.signal else "white", color="C0", capsize=2, ms=5)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, t["feature"])
    ax.tick_params(labelsize=FONT_PT)
    ax.set_xlabel("Spearman with the channel's landscape value (within layer)", fontsize=FONT_PT)
    ax.set_title("Which channel features carry a signal (training networks, 95 % CI)", fontsize=FONT_PT + 1)
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
    fig, axes = _grid(len(panels), 0.3 * n_rows + 1.1)
    for ax, (setting, s) in zip(axes, panels):
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
        _difference_axis(ax, f"{setting}, {s:.0%}", f"{method} − {other} (points)")
    return fig


def _difference_axis(ax, title: str, xlabel: str) -> None:
    """A panel of differences drawn as rows (first on top): title, x label, the book's font, x grid."""
    ax.invert_yaxis()
    ax.set_title(title, fontsize=FONT_PT + 1)
    ax.set_xlabel(xlabel, fontsize=FONT_PT)
    ax.tick_params(labelsize=FONT_PT)
    ax.grid(axis="x", lw=0.4)


def baselines(rows: pd.DataFrame, *, method: str = "GAN") -> plt.Figure:
    """``method`` − each baseline (points), one panel per (setting, sparsity): the mean paired difference
    over networks with its 95 % CI (rows of :func:`prunegan.chapters.part2.tables.baseline_frame`: ``label``,
    ``setting``, ``sparsity``, ``value``, ``ci_low``, ``ci_high``), one row per baseline, a line at 0."""
    panels = list(dict.fromkeys(zip(rows["setting"], rows["sparsity"])))
    if not panels:
        raise ValueError("no baseline rows to plot")
    labels = list(dict.fromkeys(rows["label"]))
    fig, axes = _grid(len(panels), 0.28 * len(labels) + 1.2)
    for ax, (setting, s) in zip(axes, panels):
        d = rows[(rows["setting"] == setting) & np.isclose(rows["sparsity"], s)].set_index("label")
        for y, label in enumerate(labels):
            if label not in d.index:
                continue
            r = d.loc[label]
            clear = r["ci_low"] > 0 or r["ci_high"] < 0
            ax.errorbar(r["value"], y, xerr=[[r["value"] - r["ci_low"]], [r["ci_high"] - r["value"]]],
                        fmt="o", ms=4, capsize=2, color="tab:blue" if clear else "grey")
        ax.set_yticks(range(len(labels)), labels)
        ax.axvline(0, color="black", lw=0.8)
        _difference_axis(ax, f"{setting}, {s:.0%}", f"{method} − baseline (points)")
    return fig


def training_size(summary: pd.DataFrame) -> plt.Figure:
    """Two panels against the number of training networks (rows of
    :func:`prunegan.chapters.part2.limits.size_summary`: ``where``, ``networks``, ``gap``, ``ci_low``,
    ``ci_high``): left, the held-out networks (GAN − best standard criterion, test accuracy); right, the
    training networks (GAN − soft-weighted bank, validation accuracy); the mean with its 95 % CI, a line
    at 0."""
    panels = {"held-out": "held-out networks: GAN − best criterion",
              "training": "training networks: GAN − soft bank"}
    if summary.empty or not set(summary["where"]) <= set(panels):
        raise ValueError(f"training_size needs size_summary rows with where in {list(panels)}")
    fig, axes = _grid(2, 2.6, sharex=True)
    for ax, (where, title) in zip(axes, panels.items()):
        d = summary[summary["where"] == where].sort_values("networks")
        ax.errorbar(d["networks"], d["gap"], yerr=[d["gap"] - d["ci_low"], d["ci_high"] - d["gap"]], fmt="o-",
                    ms=5, capsize=3, color="tab:blue")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(sorted(summary["networks"].unique()))
        ax.set_title(title, fontsize=FONT_PT + 1)
        ax.set_xlabel("training networks", fontsize=FONT_PT)
        ax.set_ylabel("points", fontsize=FONT_PT)
        ax.tick_params(labelsize=FONT_PT)
        ax.grid(axis="y", lw=0.4)
    return fig
