# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. Layer-wise sparsity and layer collapse
#
# The original study saw retrained accuracy either recover to about its best or stay stuck at the
# pruned accuracy, and suspected *layer collapse*: a layer that loses all its channels cuts the
# network in two, and no retraining can pass a signal through it. Here we track the fraction of every
# layer's channels that each run removes, at every sparsity and trial, and answer the question in
# numbers. Then we repeat the sweeps with `min_channels_per_layer = 1`, which forbids collapse and
# otherwise keeps the global ranking.

# %% tags=["parameters"]
model = "lenet5"        # prunegan.models.names()
data = "mnist-5k"       # "mnist-5k" (embedded, offline), "mnist", "fashion-mnist"
epochs = 10             # baseline training epochs
seed = 0                # initial weights and training order of the baseline
smoke = False           # tiny fast run for tests
retrain_epochs = 3      # retraining epochs after pruning
executor = "local"      # where masks are evaluated: "local" (this machine) or "ray" (a Ray cluster)
ray_address = None      # with "ray": None (start a local Ray), "auto", or the head node's "host:port"
trials = 5              # random trials over the whole sweep (per setting)
trials_90 = 20          # random trials at 90 % (shared with chapter 4)

# %%
import pandas as pd
import scrapbook as sb
from IPython.display import display

from prunegan.analysis import collapse
from prunegan.chapters import part1 as chapter
from prunegan.chapters.summary import MarkdownText
from prunegan.plots import part1 as plots
from prunegan.pruning.executors import Execution
from prunegan.runs import baseline, sweep

pd.set_option("display.precision", 3)
where = Execution(kind=executor, address=ray_address)  # where masks are evaluated, checked once

# %%
base_config = chapter.baseline_config(model=model, data=data, epochs=epochs, seed=seed, smoke=smoke)
base = baseline.baseline(base_config)
print(base.data, f"baseline test accuracy = {base.accuracy:.4f}")

# %%
# L1 and random, each with a minimum of 0 and of 1 channel per layer (a minimum of 1 allows at most
# 90 %), and after each random sweep the trials at 90 % (with the minimum 0: chapter 4's runs)
configs = chapter.layer_sparsity_configs(base_config, retrain_epochs=retrain_epochs, trials=trials,
                                         trials_90=trials_90, sparsity=0.9, smoke=smoke)
runs = [sweep.sweep(config, execution=where) for config in configs]
df = collapse.unique_runs(pd.concat(runs, ignore_index=True))
chapter.runs_per_setting(df)

# %% [markdown]
# ## Layer-wise sparsity
#
# Each row of a heat map is one layer (of one trial), each column a global sparsity; the colour is the
# fraction of that layer's channels removed. A fully dark cell is a collapsed layer.

# %% tags=["hide-input", "remove-output"]
plots.glue_figure("fig_l1_layers",
                  plots.layer_sparsity_heatmap(df[df["method"] == "l1"], title="Global L1: layer sparsity"))

# %% [markdown]
# :::{glue:figure} fig_l1_layers
# ---
# alt: >-
#   Heat map with one row per convolutional layer and one column per global sparsity; the shade of
#   each cell is the fraction of that layer's channels that global L1 pruning removed.
# name: fig-l1-layers
# ---
# Global L1 pruning: the fraction of each layer's channels removed at each global sparsity (darkest: the
# layer lost every channel).
# :::

# %% tags=["hide-input", "remove-output"]
sweep_rows = df[(df["method"] == "random") & (df["trial"] < trials)]
n_sweep_trials = sweep_rows["trial"].nunique()
plots.glue_figure("fig_random_layers", plots.layer_sparsity_heatmap(
    sweep_rows, title=f"Random, {n_sweep_trials} trials: layer sparsity"))

# %% [markdown]
# :::{glue:figure} fig_random_layers
# ---
# alt: >-
#   Heat map with two rows per random trial, one per convolutional layer, and one column per global
#   sparsity; the shade of each cell is the fraction of that layer's channels removed.
# name: fig-random-layers
# ---
# Random pruning: the fraction of each layer's channels removed, per trial and global sparsity (darkest:
# the layer lost every channel).
# :::

# %% [markdown]
# ## How often does a layer collapse?

# %% tags=["hide-input", "remove-output"]
plots.glue_figure("fig_collapse_rate", plots.collapse_rate(df, title="Runs with a collapsed layer"))

# %% [markdown]
# :::{glue:figure} fig_collapse_rate
# ---
# alt: >-
#   Line chart of the fraction of runs with a collapsed layer against sparsity, one line per setting
#   (L1 or random, with a minimum of 0 or 1 channel per layer).
# name: fig-collapse-rate
# ---
# How often a layer collapses: the fraction of runs of each setting that emptied a layer, at each
# sparsity. Settings with a minimum of one channel per layer cannot collapse.
# :::
#
# The same rates as a table ("–": the setting has no run at that sparsity, since a minimum of one
# channel per layer allows at most 90 %):

# %%
table = collapse.collapse_table(df)
chapter.setting_pivot(table, "collapse_rate")

# %% [markdown]
# ## Does collapse explain every stuck run?
#
# Each marker is a run: retrained against pruned accuracy. Runs on the diagonal did not recover.
# Crosses are runs with a collapsed layer. Runs that land on the same point share one marker, whose area
# grows with their number; the largest is labelled with its count.

# %% tags=["hide-input", "remove-output"]
plots.glue_figure("fig_recovery", plots.recovery_scatter(df, title="Recovery after retraining"))

# %% [markdown]
# :::{glue:figure} fig_recovery
# ---
# alt: >-
#   Two scatter plots, one per minimum of channels per layer, of retrained against pruned test
#   accuracy with a dashed diagonal; circles for runs that kept every layer, crosses for runs that
#   emptied one, coloured by strategy, marker area growing with the number of runs at that point.
# name: fig-recovery
# ---
# Recovery after retraining: each marker is a set of runs with (to 0.01) the same pruned and retrained
# accuracy, its area proportional to their number. On the dashed diagonal retraining gained nothing.
# :::

# %% [markdown]
# The counts below answer the question over all runs of the original setting (`min 0`) and of the
# setting that forbids collapse (`min 1`): how many runs were stuck, how many of those had a collapsed
# layer, and how many collapsed runs still recovered (a collapse at a layer whose loss the network
# can route around would show up there; in LeNet-5 none can).

# %%
answer = chapter.collapse_answers(df)
display(MarkdownText(chapter.collapse_verdict(answer[0])))
chapter.answer_table({f"min {m}": a for m, a in answer.items()})

# %% [markdown]
# Mean retrained accuracy per setting and sparsity ("–": no run, as above):

# %%
chapter.setting_pivot(table, "retrained_acc")

# %%
for name, value in chapter.layer_sparsity_headlines(df, sparsity=0.9).items():
    sb.glue(name, value)
