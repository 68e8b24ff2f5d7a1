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


def losses(history: list[dict], *, window: int = 25, title: str = "GAN training") -> plt.Figure:
    """Discriminator and generator losses per step (moving average over ``window`` steps), and the
    discriminator's mean output on real and generated masks."""
    df = pd.DataFrame(history)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    for col, label in (("d_loss", "discriminator"), ("g_loss", "generator")):
        ax1.plot(df["step"], df[col].rolling(window, min_periods=1).mean(), label=label)
    ax1.set_xlabel("step")
    ax1.set_ylabel(f"loss ({window}-step mean)")
    ax1.legend()
    for col, label in (("d_real", "D(good bank mask)"), ("d_fake", "D(generated mask)")):
        ax2.plot(df["step"], df[col].rolling(window, min_periods=1).mean(), label=label)
    ax2.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("step")
    ax2.set_ylabel("mean discriminator output")
    ax2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def keep_map(keep: pd.DataFrame, *, title: str = "Keep-probability per channel",
             max_channels: int = 64) -> plt.Figure:
    """Heatmap of the generator's keep-probabilities (:func:`prunegan.analysis.masks.keep_map`): one panel
    per layer, rows = sparsity, columns = channels ordered by mean |w| (largest first); layers wider
    than ``max_channels`` show their ``max_channels`` largest-|w| channels."""
    layers = list(dict.fromkeys(keep["layer"]))
    widths = [min(keep.loc[keep["layer"] == l, "channel"].nunique(), max_channels) for l in layers]
    fig, axes = plt.subplots(1, len(layers), figsize=(min(2 + 0.28 * sum(widths), 16), 0.45 * keep["sparsity"].nunique() + 1.8),
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


def bank_layers(layers: pd.DataFrame, *, title: str = "Kept channels per layer: good vs other bank masks") -> plt.Figure:
    """Kept channels per layer of every distinct bank mask (:meth:`prunegan.runs.bank.Bank.layer_table`),
    good masks against the rest, one panel per sparsity."""
    d = layers.assign(kind=np.where(layers["good"], "good", "other"))
    sparsities = sorted(d["sparsity"].unique())
    fig, axes = plt.subplots(1, len(sparsities), figsize=(2.6 * len(sparsities) + 1, 3.4), sharey=False, squeeze=False)
    for ax, s in zip(axes[0], sparsities):
        sns.stripplot(d[d["sparsity"] == s], x="layer", y="kept", hue="kind", hue_order=["good", "other"],
                      palette={"good": "tab:green", "other": "tab:grey"}, dodge=True, jitter=0.25, alpha=0.6,
                      size=4, ax=ax)
        ax.set_title(f"sparsity {s:.0%}")
        ax.set_xlabel("")
        ax.tick_params(axis="x", rotation=45)
        if ax is not axes[0][-1] and ax.get_legend():
            ax.get_legend().remove()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def comparison(summary: pd.DataFrame, *, title: str = "Retrained accuracy (mean and 95 % CI)") -> plt.Figure:
    """Mean retrained accuracy with its 95 % CI per method against sparsity
    (:func:`prunegan.analysis.masks.summarize`)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    labels = list(dict.fromkeys(summary["label"]))
    palette = _palette(labels)
    offsets = np.linspace(-0.008, 0.008, len(labels)) if len(labels) > 1 else [0.0]
    for off, label in zip(offsets, labels):
        d = summary[summary["label"] == label].sort_values("sparsity")
        yerr = np.vstack([d["mean"] - d["ci_low"], d["ci_high"] - d["mean"]])
        yerr = np.nan_to_num(yerr, nan=0.0)
        ax.errorbar(d["sparsity"] + off, d["mean"], yerr=yerr, marker="o", capsize=3, label=label,
                    color=palette[label])
    ax.set_xlabel("sparsity (fraction of prunable channels removed)")
    ax.set_ylabel("retrained test accuracy")
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def collapse_diversity(summary: pd.DataFrame, *, title: str = "") -> plt.Figure:
    """Collapse rate and diversity (mean pairwise Hamming distance of the masks) per method."""
    d = summary.assign(sparsity_pct=(summary["sparsity"] * 100).round().astype(int))
    order = list(dict.fromkeys(d["label"]))
    palette = _palette(order)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    sns.barplot(d, x="sparsity_pct", y="collapse_rate", hue="label", hue_order=order, palette=palette, ax=ax1)
    ax1.set_ylim(0, 1.02)
    ax1.set_xlabel("sparsity (%)")
    ax1.set_ylabel("share of masks with a collapsed layer")
    ax1.legend(fontsize=7)
    sns.barplot(d, x="sparsity_pct", y="diversity", hue="label", hue_order=order, palette=palette, ax=ax2)
    ax2.set_xlabel("sparsity (%)")
    ax2.set_ylabel("mean pairwise Hamming distance (channels)")
    ax2.get_legend().remove()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
