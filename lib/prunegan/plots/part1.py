"""Seaborn figures of the study. Each function takes a tidy DataFrame and returns a matplotlib Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..analysis.stats import errorbar
from ..analysis.tables import layer_table

ACC_COLUMNS = {"original_acc": "original", "pruned_acc": "pruned", "retrained_acc": "retrained"}


def learning_curve(history: list[dict], title: str = "Baseline training") -> plt.Figure:
    """Mean training loss and test accuracy per epoch."""
    df = pd.DataFrame(history)
    fig, ax = plt.subplots(figsize=(6, 3.5))
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
    """Original, pruned and retrained test accuracy against sparsity (mean and Student-t 95 % CI over
    trials, :func:`prunegan.analysis.stats.errorbar`)."""
    long = df.melt(id_vars=["sparsity", "trial"], value_vars=list(ACC_COLUMNS), var_name="accuracy",
                   value_name="test accuracy")
    long["accuracy"] = long["accuracy"].map(ACC_COLUMNS)
    fig, ax = plt.subplots(figsize=(7, 4))
    sns.lineplot(long, x="sparsity", y="test accuracy", hue="accuracy", style="accuracy", markers=True,
                 errorbar=errorbar if df["trial"].nunique() > 1 else None, ax=ax)
    ax.set_xlabel("sparsity (fraction of conv channels pruned)")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def trials_strip(df: pd.DataFrame, title: str = "") -> plt.Figure:
    """Pruned and retrained accuracy of every trial, coloured by whether a layer collapsed."""
    long = df.assign(collapse=df["collapsed"].map({True: "layer collapsed", False: "no collapse"}))
    long = long.melt(id_vars=["trial", "collapse"], value_vars=["pruned_acc", "retrained_acc"],
                     var_name="stage", value_name="test accuracy")
    long["stage"] = long["stage"].map(ACC_COLUMNS)
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.stripplot(long, x="stage", y="test accuracy", hue="collapse", dodge=True, size=7, ax=ax,
                  hue_order=["no collapse", "layer collapsed"], palette={"no collapse": "tab:green",
                                                                          "layer collapsed": "tab:red"})
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def layer_sparsity_heatmap(df: pd.DataFrame, title: str = "") -> plt.Figure:
    """Fraction of each layer's channels pruned, one row per (trial, sparsity); collapsed cells = 1.0."""
    table = layer_table(df)
    table["run"] = [f"t{t} · {s:.2f}" for t, s in zip(table["trial"], table["sparsity"])]
    order = table.sort_values(["trial", "sparsity"])["run"].unique()
    grid = table.pivot(index="run", columns="layer", values="layer_sparsity").loc[order]
    grid = grid[list(table.drop_duplicates("layer").sort_values("depth")["layer"])]
    fig, ax = plt.subplots(figsize=(2.2 + 1.1 * grid.shape[1], 0.9 + 0.17 * grid.shape[0]))
    sns.heatmap(grid, vmin=0, vmax=1, cmap="rocket_r", cbar_kws={"label": "layer sparsity"}, ax=ax,
                yticklabels=max(1, len(grid) // 40))
    ax.set_ylabel("trial · global sparsity")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def collapse_rate(df: pd.DataFrame, hue: str = "label", title: str = "") -> plt.Figure:
    """Fraction of runs with a collapsed layer against sparsity, one line per ``hue`` value."""
    rate = df.groupby([hue, "sparsity"], as_index=False)["collapsed"].mean()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    sns.lineplot(rate, x="sparsity", y="collapsed", hue=hue, style=hue, markers=True, ax=ax)
    ax.set_ylabel("fraction of runs with a collapsed layer")
    ax.set_xlabel("sparsity (fraction of conv channels pruned)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def recovery_scatter(df: pd.DataFrame, title: str = "") -> plt.Figure:
    """Retrained against pruned accuracy of every run, one panel per ``min_channels_per_layer``;
    colour = method label, marker = collapsed or not. Runs on the diagonal did not recover."""
    d = df.assign(collapse=df["collapsed"].map({True: "layer collapsed", False: "no collapse"}))
    minima = sorted(d["min_channels_per_layer"].unique())
    fig, axes = plt.subplots(1, len(minima), figsize=(5.2 * len(minima), 4.3), sharey=True, squeeze=False)
    for ax, minimum in zip(axes[0], minima):
        part = d[d["min_channels_per_layer"] == minimum]
        sns.scatterplot(part, x="pruned_acc", y="retrained_acc", hue="strategy", style="collapse", s=45,
                        alpha=0.7, ax=ax, style_order=["no collapse", "layer collapsed"],
                        hue_order=sorted(d["strategy"].unique()))
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.set_xlabel("pruned accuracy (before retraining)")
        ax.set_ylabel("retrained accuracy")
        ax.set_title(f"min_channels_per_layer = {minimum} ({len(part)} runs)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
