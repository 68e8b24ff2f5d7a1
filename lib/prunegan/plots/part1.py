"""Seaborn figures of Part 1. Each function takes a tidy DataFrame and returns a matplotlib Figure sized
for the book's text column: :data:`COLUMN_IN` inches wide at :data:`DPI` (about 780 px, the column of
Jupyter Book's default theme at a 1400 px window), so that 10-point text is shown at its own size."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from ..analysis.stats import errorbar
from ..analysis.tables import layer_table
from . import glue_figure  # noqa: F401  (re-exported: Part 1's notebooks import it from here)

ACC_COLUMNS = {"original_acc": "original", "pruned_acc": "pruned", "retrained_acc": "retrained"}
#: Width of every figure in inches, and its resolution: COLUMN_IN × DPI ≈ the book's column (px).
COLUMN_IN = 7.6
DPI = 100
#: accuracy_vs_sparsity draws a 95 % CI band only from this many trials on; fewer are drawn as points.
MIN_TRIALS_FOR_BAND = 5
#: recovery_scatter merges runs whose two accuracies round to the same multiple of this into one marker.
MERGE_STEP = 0.01


def _figure(height: float, ncols: int = 1, **kw):
    return plt.subplots(1, ncols, figsize=(COLUMN_IN, height), dpi=DPI, squeeze=False, **kw)


def learning_curve(history: list[dict], title: str = "Baseline training") -> plt.Figure:
    """Mean training loss (left axis) and test accuracy (right axis) per epoch."""
    df = pd.DataFrame(history)
    fig, axes = _figure(3.4)
    ax = axes[0, 0]
    ax.plot(df["epoch"], df["loss"], marker="o", color="tab:blue", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean train loss", color="tab:blue")
    if "test_acc" in df:
        ax2 = ax.twinx()
        ax2.plot(df["epoch"], df["test_acc"], marker="s", color="tab:green", label="test accuracy")
        ax2.set_ylabel("test accuracy", color="tab:green")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def accuracy_vs_sparsity(df: pd.DataFrame, title: str = "") -> plt.Figure:
    """Original, pruned and retrained test accuracy against sparsity: the mean over trials as a line;
    from :data:`MIN_TRIALS_FOR_BAND` trials on a band of the Student-t 95 % CI
    (:func:`prunegan.analysis.stats.errorbar`), with fewer trials every trial as a point instead (a
    CI of two trials spans most of [0, 1] and says nothing). The legend's title says which."""
    n_trials = int(df["trial"].nunique())
    long = df.melt(id_vars=["sparsity", "trial"], value_vars=list(ACC_COLUMNS), var_name="accuracy",
                   value_name="test accuracy")
    long["accuracy"] = long["accuracy"].map(ACC_COLUMNS)
    band = n_trials >= MIN_TRIALS_FOR_BAND
    fig, axes = _figure(4.0)
    ax = axes[0, 0]
    sns.lineplot(long, x="sparsity", y="test accuracy", hue="accuracy", style="accuracy", markers=True,
                 errorbar=errorbar if band else None, ax=ax)
    if band:
        key = f"line: mean of {n_trials} trials\nband: 95 % CI"
    elif n_trials > 1:
        sns.stripplot(long, x="sparsity", y="test accuracy", hue="accuracy", native_scale=True, jitter=0.006,
                      size=4, alpha=0.55, legend=False, ax=ax)
        key = f"line: mean of {n_trials} trials\ndots: each trial"
    else:
        key = "one trial"
    ax.legend(title=key, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9, title_fontsize=9,
              alignment="left")
    ax.set_xlabel("sparsity (fraction of conv channels pruned)")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def trials_strip(df: pd.DataFrame, title: str = "") -> plt.Figure:
    """Pruned and retrained accuracy of every trial, coloured by whether a layer collapsed; a swarm, so
    that trials with the same accuracy sit side by side instead of on one dot."""
    long = df.assign(collapse=df["collapsed"].map({True: "layer collapsed", False: "no collapse"}))
    long = long.melt(id_vars=["trial", "collapse"], value_vars=["pruned_acc", "retrained_acc"],
                     var_name="stage", value_name="test accuracy")
    long["stage"] = long["stage"].map(ACC_COLUMNS)
    fig, axes = _figure(3.8)
    ax = axes[0, 0]
    sns.swarmplot(long, x="stage", y="test accuracy", hue="collapse", dodge=True, size=5, ax=ax,
                  hue_order=["no collapse", "layer collapsed"], palette={"no collapse": "tab:green",
                                                                          "layer collapsed": "tab:red"})
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def layer_sparsity_grid(df: pd.DataFrame) -> pd.DataFrame:
    """Fraction of each layer's channels pruned (1.0 = collapsed): one row per (trial, layer) in
    network order, one column per global sparsity (ascending). Row labels ``"trial 0 · conv1"``
    (just the layer when ``df`` holds one trial), column labels the sparsity in percent."""
    table = layer_table(df)
    one_trial = table["trial"].nunique() == 1
    table["row"] = [layer if one_trial else f"trial {t} · {layer}"
                    for t, layer in zip(table["trial"], table["layer"])]
    order = table.sort_values(["trial", "depth"])["row"].unique()
    grid = table.pivot_table(index="row", columns="sparsity", values="layer_sparsity", aggfunc="first")
    grid = grid.loc[order, sorted(grid.columns)]
    grid.columns = [f"{100 * s:.0f}" for s in grid.columns]
    grid.index.name, grid.columns.name = None, None
    return grid


def layer_sparsity_heatmap(df: pd.DataFrame, title: str = "") -> plt.Figure:
    """:func:`layer_sparsity_grid` as a heat map: layers (per trial) down, global sparsity across,
    so that the figure is as wide as the column and about a quarter inch tall per row."""
    grid = layer_sparsity_grid(df)
    fig, axes = _figure(1.3 + 0.26 * len(grid))
    ax = axes[0, 0]
    sns.heatmap(grid, vmin=0, vmax=1, cmap="rocket_r", linewidths=0.5, linecolor="white", ax=ax,
                cbar_kws={"label": "fraction of layer pruned", "shrink": 0.9})
    ax.set_xlabel("global sparsity (% of conv channels pruned)")
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def collapse_rate(df: pd.DataFrame, hue: str = "label", title: str = "") -> plt.Figure:
    """Fraction of runs with a collapsed layer against sparsity, one line per ``hue`` value."""
    rate = df.groupby([hue, "sparsity"], as_index=False)["collapsed"].mean()
    fig, axes = _figure(3.8)
    ax = axes[0, 0]
    sns.lineplot(rate, x="sparsity", y="collapsed", hue=hue, style=hue, markers=True, ax=ax)
    ax.set_ylabel("fraction of runs with a collapsed layer")
    ax.set_xlabel("sparsity (fraction of conv channels pruned)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=9)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def merged_points(df: pd.DataFrame, step: float = MERGE_STEP) -> pd.DataFrame:
    """Runs of ``df`` counted per marker of :func:`recovery_scatter`: pruned and retrained accuracy rounded
    to multiples of ``step``, one row per (``min_channels_per_layer``, ``strategy``, ``collapsed``, rounded
    point) with the ``runs`` there. ValueError for a ``step`` outside (0, 0.1]."""
    if not 0 < step <= 0.1:
        raise ValueError(f"step must be in (0, 0.1] (an accuracy), got {step!r}")
    d = df.assign(pruned_acc=(df["pruned_acc"] / step).round() * step,
                  retrained_acc=(df["retrained_acc"] / step).round() * step,
                  collapsed=df["collapsed"].astype(bool))
    keys = ["min_channels_per_layer", "strategy", "collapsed", "pruned_acc", "retrained_acc"]
    return d.groupby(keys, as_index=False).size().rename(columns={"size": "runs"})


def recovery_scatter(df: pd.DataFrame, title: str = "", step: float = MERGE_STEP) -> plt.Figure:
    """Retrained against pruned accuracy, one panel per ``min_channels_per_layer``; colour = strategy,
    cross = a layer collapsed. Runs that round to the same point (:func:`merged_points`) share one
    marker whose area is proportional to their number; the largest is labelled with it. Runs on the
    diagonal did not recover."""
    points = merged_points(df, step)
    minima = sorted(points["min_channels_per_layer"].unique())
    strategies = sorted(points["strategy"].unique())
    colours = dict(zip(strategies, sns.color_palette("colorblind", len(strategies))))
    area = 28.0  # marker area (pt²) of one run
    fig, axes = _figure(4.2, ncols=len(minima), sharey=True)
    for ax, minimum in zip(axes[0], minima):
        part = points[points["min_channels_per_layer"] == minimum]
        for (strategy, collapsed), group in part.groupby(["strategy", "collapsed"]):
            ax.scatter(group["pruned_acc"], group["retrained_acc"], s=area * group["runs"],
                       marker="X" if collapsed else "o", color=colours[strategy], alpha=0.6,
                       edgecolors="white", linewidths=0.5)
        top = part.loc[part["runs"].idxmax()]
        if top["runs"] > 1:
            ax.annotate(f"{int(top['runs'])} runs", (top["pruned_acc"], top["retrained_acc"]),
                        xytext=(12, 12), textcoords="offset points", fontsize=9,
                        arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.8})
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("pruned accuracy (before retraining)")
        ax.set_ylabel("retrained accuracy")
        floor = ("no minimum per layer (collapse possible)" if minimum == 0 else
                 f"at least {minimum} channel{'' if minimum == 1 else 's'} per layer")
        ax.set_title(f"{floor}\n{int(part['runs'].sum())} runs", fontsize=10)
    handles = [Line2D([], [], ls="", marker="o", color=colours[s], label=s) for s in strategies]
    handles += [Line2D([], [], ls="", marker="o", color="grey", label="no collapse"),
                Line2D([], [], ls="", marker="X", color="grey", label="layer collapsed")]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False,
               title=f"marker area ∝ number of runs (runs within {step:g} of each other share a marker)",
               title_fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return fig
