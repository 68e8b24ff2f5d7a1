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
# # 4. Twenty trials of random pruning at 90 %
#
# At 90 % sparsity LeNet-5 keeps 2 of its 22 convolutional channels. We prune it at random 20 times
# (seeds 0–19; these are the same runs as trials 0–19 of the random sweep, which the cache shares) and
# retrain each mask with the same budget.

# %% tags=["parameters"]
model = "lenet5"        # prunegan.models.names()
data = "mnist-5k"       # "mnist-5k" (embedded, offline), "mnist", "fashion-mnist"
epochs = 10             # baseline training epochs
seed = 0                # initial weights and training order of the baseline
smoke = False           # tiny fast run for tests
retrain_epochs = 3      # retraining epochs after pruning
executor = "local"      # where masks are evaluated: "local" (this machine) or "ray" (a Ray cluster)
ray_address = None      # with "ray": None (start a local Ray), "auto", or the head node's "host:port"
trials = 20             # random masks at this sparsity
sparsity = 0.9          # fraction of conv channels pruned

# %%
import pandas as pd
import scrapbook as sb

from prunegan.analysis import collapse
from prunegan.chapters import part1 as chapter
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
config = chapter.sweep_config(base_config, strategy="random", retrain_epochs=retrain_epochs, smoke=smoke)
df = sweep.trials(config, sparsity, chapter.smoke_trials(trials, smoke), execution=where)
chapter.sweep_table(df)

# %% [markdown]
# Each dot is one trial; red trials lost a whole layer.

# %% tags=["hide-input", "remove-output"]
plots.glue_figure("fig_trials",
                  plots.trials_strip(df, title=f"{len(df)} random masks at sparsity {sparsity}"))

# %% [markdown]
# :::{glue:figure} fig_trials
# ---
# alt: >-
#   Strip chart with one dot per random mask for the pruned and for the retrained test accuracy,
#   green for masks that kept every layer and red for masks that emptied a layer.
# name: fig-trials
# ---
# Random masks at one sparsity: each dot is one trial's test accuracy before (pruned) and after
# retraining (retrained); red trials lost a whole layer.
# :::

# %% [markdown]
# The 2×2 count below classifies each trial as *stuck* (retraining gained less than 0.02 and the
# retrained accuracy stays more than 0.05 below the original) or *recovered*, against whether a layer
# collapsed.

# %%
answer = collapse.collapse_explains_stuck(df)
for name, value in chapter.trials_headlines(df, sparsity=sparsity).items():
    sb.glue(name, value)
chapter.answer_table({f"{len(df)} trials": answer})
