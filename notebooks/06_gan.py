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
# # 6. A GAN that proposes pruning masks
#
# Part 1 showed that at high sparsity *which* channels survive matters more than how many: a global
# ranking happily empties a whole layer, and a collapsed layer never recovers. Part 2 asks whether a
# generative adversarial network can learn, from a bank of masks that retrained well, to propose good
# masks itself: given **any** network, return a keep-probability for each of its channels, and sample
# masks that retrain as well as the best masks we know.
#
# **Mask bank.** Several LeNet-5s are trained from different seeds. For each, at every sparsity of the
# bank's grid, masks are drawn with L1 made a little random (`noisy-l1`, Gumbel noise at several
# temperatures) and with random pruning, each with and without one channel per layer, and every distinct
# mask is retrained with the same small budget. A mask is *good* by the rule printed below (a margin to
# the best mask at its sparsity on the same network). Identical draws are evaluated once.
#
# **Channel features.** Each prunable channel is described from its network's weights alone: log mean
# |w| standardised and ranked within its layer and across the network, the spread of its weights and
# its |bias|, and its layer's relative depth, width, share of all channels, fan-in and kind. No feature
# names a channel index, so the generator can be applied to a network it never saw.
#
# **Generator.** A per-channel MLP embeds (features, target sparsity); the mean embedding of the
# channel's layer and of the whole network give context; a second MLP maps (embedding, layer context,
# network context, noise vector shared by the sample, sparsity) to a keep-logit, squashed into a bounded
# range. A shift found by bisection makes the keep-probabilities sum to the number of channels to keep.
# An exact mask is sampled by adding logistic noise to the logits and pruning the lowest scores with the
# library's one global selection (which can also keep a minimum per layer).
#
# **Discriminator.** An MLP on (features, mask bit, sparsity) per channel, averaged per layer and joined
# with the layer's kept fraction and mean features, a second MLP per layer, then mean- and max-pooled over
# layers to one logit: it sees a network's channels as a set of sets, so it too works on any size.
#
# **Relaxation and losses.** Generated masks are straight-through top-k samples: the forward pass is the
# hard mask (as the real masks are), the backward pass the gradient of a temperature-controlled sigmoid
# calibrated to the same number of kept channels. The losses are the non-saturating GAN losses with
# one-sided label smoothing: the discriminator minimises cross-entropy of good bank masks against
# generated ones (for the same network and sparsity), the generator maximises the discriminator's
# belief that its masks are good bank masks.

# %% tags=["parameters"]
smoke = False              # tiny fast run for tests
data = "mnist-5k"          # "mnist-5k" (embedded, offline), "mnist", "fashion-mnist"
epochs = 10                # baseline training epochs (every network)
bank_seeds = 3             # independently trained LeNet-5s in the bank (seeds 0, 1, ...)
bank_sparsities = [0.5, 0.7, 0.8, 0.9]
temperatures = [0.5, 1.0, 2.0]   # noisy-l1 temperatures of the bank
draws = 1                  # bank masks per (sparsity, method, temperature, min channels)
good_margin = 0.02         # good: retrained accuracy within this margin of the best bank mask
retrain_epochs = 1         # the one retraining budget of every mask in this notebook
executor = "local"         # where masks are evaluated: "local" (this machine) or "ray" (a Ray cluster)
ray_address = None         # with "ray": None (start a local Ray), "auto", or the head node's "host:port"
gan_steps = 600            # GAN training steps
gan_seed = 0
samples = 5                # masks (and retraining seeds) per method and sparsity
sparsities = [0.5, 0.7, 0.8, 0.9, 0.95]
transfer_model = "lenet5-caffe"
transfer_sparsities = [0.8, 0.9]
linear_sparsities = [0.8, 0.9]

# %%
import matplotlib.pyplot as plt
import pandas as pd
import scrapbook as sb
from IPython.display import display

from prunegan import gan
from prunegan.analysis import masks
from prunegan.chapters import part2 as chapter
from prunegan.chapters.summary import MarkdownText
from prunegan.plots import part2 as plots
from prunegan.runs import bank, compare

pd.set_option("display.precision", 3)
pd.set_option("display.width", 160)
cfg = chapter.configs(smoke=smoke, data=data, epochs=epochs, bank_seeds=bank_seeds,
                       bank_sparsities=bank_sparsities, temperatures=temperatures, draws=draws,
                       good_margin=good_margin, retrain_epochs=retrain_epochs, gan_steps=gan_steps,
                       gan_seed=gan_seed, samples=samples, sparsities=sparsities,
                       transfer_model=transfer_model, transfer_sparsities=transfer_sparsities,
                       linear_sparsities=linear_sparsities)
print(cfg.gan)
print("good mask:", cfg.gan.good.describe())

# %% [markdown]
# ## How many masks are there?
#
# Sparsity is the fraction of prunable channels removed, `round(sparsity · n)` of them. The table counts
# every mask with that many channels pruned, and those that keep at least one channel in every layer.
# With LeNet-5's conv channels alone the space at the highest sparsities is tiny (compare `n_masks` with
# the number of bank draws below; `duplicate_share` there shows how often a draw repeated an earlier mask),
# so there is little for a generator to learn at those sparsities; with the hidden Linear units, and on
# the wider `lenet5-caffe`, the space is larger by many orders of magnitude (`log10_masks`).

# %%
chapter.mask_space_overview(cfg)

# %% [markdown]
# ## The mask bank (conv channels of LeNet-5)
#
# One row per sparsity: masks drawn, distinct masks, share of draws that repeated an earlier mask,
# good masks, the size of the whole mask space of one network, the share of distinct masks with a
# collapsed layer, and the mean retrained accuracy of good and other masks.

# %%
the_bank = bank.build(cfg.bank, executor=executor, ray_address=ray_address)
print(f"{len(the_bank.baselines)} networks, test accuracy:",
      ", ".join(f"{b.accuracy:.3f}" for b in the_bank.baselines))
the_bank.summary(cfg.gan.good)

# %% [markdown]
# How good masks differ from the rest: kept channels per layer of every distinct mask (all bank networks).

# %%
fig = plots.bank_layers(the_bank.layer_table(cfg.gan.good))

# %% [markdown]
# ## Training the GAN
#
# Losses per step (moving average) and the discriminator's mean output on good bank masks and on
# generated masks; at an equilibrium both approach the same value.

# %%
generator = gan.fit(the_bank, cfg.gan)
print(generator)
fig = plots.losses(generator.history)

# %% [markdown]
# ## The probabilistic map
#
# The generator's keep-probability of every channel of the first bank network (the one every comparison
# below prunes), at each sparsity; in each layer channels are ordered by mean |w|, largest first. The table
# gives, per sparsity, the rank correlation between keep-probability and mean |w| within a layer
# (averaged over layers): 1 would mean the map orders channels exactly as L1 does.

# %%
net = the_bank.baselines[0].model
keep = masks.keep_map(generator, net, cfg.compare.sparsities)
fig = plots.keep_map(keep, title="GAN keep-probability per channel (LeNet-5, conv layers)")
masks.l1_agreement(keep).groupby("sparsity")["spearman"].mean()

# %% [markdown]
# ## GAN masks against L1, random, random with one channel per layer, and the best bank mask
#
# Every method gives masks at each sparsity and every mask is retrained with the same budget and its own
# retraining seed: GAN samples, global L1 (one mask, retrained with each seed), random masks with and
# without one channel per layer, and the best mask of the bank on this network (retrained again with each
# seed; its bank accuracy was the maximum over many noisy draws, so re-measuring it removes that
# selection bias). `GAN` samples masks freely; `GAN, min 1/layer` takes the same sampled scores through
# the library's selection with at least one channel kept per layer, the guarantee that
# `random, min 1/layer` also gets. `diversity` is the mean pairwise
# Hamming distance between a method's masks, `hamming_to_l1` the mean distance to the L1 mask, both in
# channels; `macs_kept` / `params_kept` are the compact network's MACs / parameters over the dense ones.

# %%
df = compare.compare(cfg.compare, generator=generator, bank=the_bank, executor=executor,
                      ray_address=ray_address)
summary = masks.summarize(df)
summary.drop(columns=["label"])

# %% [markdown]
# Combinations left out, and why:

# %%
compare.skipped(cfg.compare, the_bank)

# %%
fig = plots.comparison(summary, title="LeNet-5 conv channels: retrained accuracy (mean, 95 % CI)")
fig = plots.collapse_diversity(summary)

# %% [markdown]
# The targets set for the GAN, checked on the measured numbers above (this text is generated from them):

# %%
MarkdownText(chapter.verdict(summary))

# %% [markdown]
# ## Transfer: a network the generator never saw
#
# The same generator, trained only on LeNet-5 masks, prunes `lenet5-caffe` (wider conv layers, trained
# here from scratch). There is no bank for this network, so the comparison is with L1 and random pruning.

# %%
tdf = compare.compare(cfg.transfer, generator=generator, executor=executor,
                      ray_address=ray_address)
tsummary = masks.summarize(tdf)
fig = plots.comparison(tsummary, title=f"Transfer to {cfg.transfer.baseline.model}: retrained accuracy")
display(MarkdownText(chapter.verdict(tsummary, label="[transfer] ")))
tsummary.drop(columns=["label"])

# %% [markdown]
# ## Conv channels plus hidden Linear units
#
# Pruning the hidden units of the fully connected layers as well makes the mask space far larger. A second
# bank (same networks, same methods) and a second GAN with the same hyper-parameters are built for this
# setting and compared in the same way.

# %%
linear_bank = bank.build(cfg.bank_linear, executor=executor, ray_address=ray_address)
linear_generator = gan.fit(linear_bank, cfg.gan_linear)
ldf = compare.compare(cfg.compare_linear, generator=linear_generator, bank=linear_bank, executor=executor,
                      ray_address=ray_address)
lsummary = masks.summarize(ldf)
fig = plots.comparison(lsummary, title="LeNet-5 conv + hidden Linear units: retrained accuracy")
display(MarkdownText(chapter.verdict(lsummary, label="[conv + linear] ")))
lsummary.drop(columns=["label"])

# %% [markdown]
# ## Headline numbers
#
# Glued for the findings page (retrained accuracy as a fraction; `_lo` / `_hi` are the 95 % CI bounds;
# prefixes `transfer_` and `linear_` for the last two sections).

# %%
numbers = chapter.headlines(summary, tsummary, lsummary)
for name, value in numbers.items():
    sb.glue(name, value)
sb.glue("gan_retrain_epochs", float(retrain_epochs))
sb.glue("gan_verdict", chapter.verdict(summary))
sb.glue("transfer_verdict", chapter.verdict(tsummary))
pd.Series(numbers, name="value").to_frame()
