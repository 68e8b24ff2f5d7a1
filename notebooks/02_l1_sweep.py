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
# # 2. Global L1 channel pruning, 0–95 %
#
# Every output channel of every convolutional layer is scored by the L1 criterion — the sum of |w|
# over the channel's weights divided by their number — and the lowest-scoring channels over *all*
# layers are removed until the requested fraction of channels is gone
# (`n_pruned = round(sparsity × 22)` for LeNet-5). The pruned network is evaluated, retrained for a few
# epochs with the removed channels kept removed (the network is physically compacted), and evaluated
# again. This is the original study's first figure.

# %% tags=["parameters"]
model = "lenet5"        # prunegan.models.names()
data = "mnist-5k"       # "mnist-5k" (embedded, offline), "mnist", "fashion-mnist"
epochs = 10             # baseline training epochs
seed = 0                # initial weights and training order of the baseline
smoke = False           # tiny fast run for tests
retrain_epochs = 3      # retraining epochs after pruning
executor = "local"      # where masks are evaluated: "local" (this machine) or "ray" (a Ray cluster)
ray_address = None      # with "ray": None (start a local Ray), "auto", or the head node's "host:port"

# %%
import pandas as pd
import scrapbook as sb

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
config = chapter.sweep_config(base_config, strategy="l1", retrain_epochs=retrain_epochs, smoke=smoke)
df = sweep.sweep(config, execution=where)
chapter.sweep_table(df)

# %% [markdown]
# Original, pruned (before retraining) and retrained test accuracy against sparsity. Where the
# retrained curve drops to the pruned one, retraining could not repair the damage.

# %% tags=["hide-input", "remove-output"]
plots.glue_figure("fig_l1_sweep", plots.accuracy_vs_sparsity(df, title="Global L1 channel pruning"))

# %% [markdown]
# :::{glue:figure} fig_l1_sweep
# ---
# alt: >-
#   Line chart of test accuracy against the fraction of channels pruned by global L1 pruning, with
#   three lines: the original network, the pruned network before retraining and after retraining.
# name: fig-l1-sweep
# ---
# Global L1 pruning: test accuracy of the original network, of the pruned network before retraining and
# after retraining, at each sparsity.
# :::

# %% [markdown]
# Global L1 compares channels of different layers on one scale. The second layer's channels have many
# more inputs and smaller weights, so they are ranked lowest and go first: the table's *channels kept*
# column shows which layer empties, and *collapsed layers* names the layers left with no channel at all.

# %%
headlines = chapter.l1_sweep_headlines(df, sparsity=0.9)
for name, value in headlines.items():
    sb.glue(name, value)
print("first sparsity at which a layer collapses:", headlines["l1_first_collapse"])
