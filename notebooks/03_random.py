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
# # 3. Random channel pruning, 0–95 %
#
# The same sweep with channels picked uniformly at random over all convolutional channels. Each trial
# draws one random ranking of the channels (seed = trial number), so within a trial the masks of
# growing sparsity are nested. The study repeated the sweep twice (`trials = 2`); run
# `papermill notebooks/03_random.ipynb out.ipynb -p trials 20` for more.

# %% tags=["parameters"]
model = "lenet5"        # prunegan.models.names()
data = "mnist-5k"       # "mnist-5k" (embedded, offline), "mnist", "fashion-mnist"
epochs = 10             # baseline training epochs
seed = 0                # initial weights and training order of the baseline
smoke = False           # tiny fast run for tests
retrain_epochs = 3      # retraining epochs after pruning
executor = "local"      # where masks are evaluated: "local" (this machine) or "ray" (a Ray cluster)
ray_address = None      # with "ray": None (start a local Ray), "auto", or the head node's "host:port"
trials = 2              # independent random trials over the sweep

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
config = chapter.sweep_config(base_config, strategy="random", retrain_epochs=retrain_epochs, trials=trials,
                            smoke=smoke)
df = sweep.sweep(config, execution=where)
chapter.sweep_table(df)

# %% [markdown]
# The mean over trials as lines. A 95 % confidence interval from a handful of trials would span most of
# the axis and say nothing, so with few trials every trial is drawn as a dot instead; with enough trials
# (`-p trials 20`) the figure shows the interval as a band. The legend says which the figure shows.

# %% tags=["hide-input", "remove-output"]
plots.glue_figure("fig_random_sweep",
                  plots.accuracy_vs_sparsity(df, title=f"Global random channel pruning, {trials} trials"))

# %% [markdown]
# :::{glue:figure} fig_random_sweep
# ---
# alt: >-
#   Line chart of test accuracy against the fraction of channels pruned at random: the mean over
#   trials of the original, pruned and retrained accuracy, with each trial's accuracies as dots or a
#   confidence band around each line.
# name: fig-random-sweep
# ---
# Random pruning: test accuracy of the original network, of the pruned network before retraining and
# after retraining, at each sparsity; lines are means over the trials, dots (or a band: the legend says)
# show how far the trials spread.
# :::

# %% [markdown]
# The retrained accuracy of single runs either comes back close to the original or stays at the
# pruned accuracy (about chance, 0.1). The collapsed layers of each run are listed in the table above;
# chapter 5 tests whether collapse explains every stuck run.

# %%
sb.glue("random_trials", int(trials))
for name, value in chapter.random_sweep_headlines(df, sparsity=0.9).items():
    sb.glue(name, value)
collapse.collapse_table(df)
