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
# Part 1 showed that at high sparsity *which* channels survive matters more than how many, and that a
# collapsed layer never recovers. Part 2 asks whether a generative adversarial network, given **any**
# network, can return a keep-probability for each of its channels and sample masks that retrain as well
# as the best masks we know — measured on networks it never saw, against the **best standard criterion**,
# not only against random pruning.
#
# **The generator is an exact distribution over structured masks.** For a network and a sparsity it keeps
# exactly `K = n − round(sparsity · n)` channels, at least one in every layer, with probability
# `P(mask) ∝ Π_layers exp(θ_l[k_l]) · Π_kept w_c`: a factor per (layer, number kept) — the allocation
# across layers — times a weight per channel. A dynamic programme gives the exact normaliser, the exact
# log-probability of any mask, the exact keep-probability of every channel (the *probabilistic map*) and
# exact samples. **Layer collapse is impossible by construction.** An MLP maps each channel's features and
# the sparsity to the weights and the count factors, so it applies to networks of any shape.
#
# **Training has two stages.** First a *likelihood stage*: the generator alone is fitted by weighted maximum
# likelihood to the bank masks (soft weights favour the best; the exact log-probability makes this possible
# without a discriminator). Then the *adversarial stage* starts from it: a discriminator on (network,
# mask) tells bank masks from generated ones, with one-sided label smoothing so that it cannot win outright,
# and the likelihood loss stays in the generator's loss as an anchor; the discriminator's logit is the
# generator's reward (through the exact log-probability). An **accuracy critic** (a regressor of a
# mask's accuracy) may add its prediction to the reward, and an **entropy bonus** keeps the distribution from
# collapsing onto one or two masks. The third design trained the adversarial stage alone, from the
# untrained generator; it stays in the comparison as *GAN from scratch*, beside *likelihood only*: whether
# the adversarial stage adds anything over the likelihood fit is what this chapter asks.
#
# **Three splits, every network held out once, CIs over networks.** Networks are trained on the training
# images minus a validation split. Everything that *chooses* — bank labels and soft weights, the critic's
# targets, the channel features, the design's hyper-parameters, the best bank mask, the best standard
# criterion — reads validation accuracy. The networks are **cross-fitted**: split into folds, and for each
# fold everything is learned and chosen on the *other* folds' networks only (the design leave-one-network-out
# there), then *reported* on the fold's networks with test images. Every network is a held-out network
# exactly once. Pair *i* of a learned method uses its generator and critic trained with seed *i*, and is
# retrained with seed *i* of a seed family disjoint from the bank's, like every other method's mask *i*; a
# verdict is judged on the 95 % CI **over networks** of the per-network paired means (what a reader wants to
# know is what the GAN does on a new network). `seed` shifts every seed family: `-p seed 1` is an
# independent replicate on other networks and another split of the images.

# %% tags=["parameters"]
smoke = False              # tiny fast run for tests
seed = 0                   # replicate: shifts networks, data split, bank draws, generators, critics, protocol
data = "mnist-5k"          # "mnist-5k" (embedded, offline), "mnist", "fashion-mnist"
epochs = 10                # baseline training epochs (every network)
networks = 10              # LeNet-5s, cross-fitted: every network held out once
folds = 5                  # fold k's networks are held out; everything is learned and chosen on the others
n_val = 500                # validation images carved from the training images (never trained on)
sparsities = [0.8, 0.9]
temperatures = [0.0, 1.0]  # temperatures of the bank's noisy criteria
criteria = ["noisy-l1", "tp-magnitude", "tp-lamp", "tp-fpgm"]  # the bank's randomised criteria
draws = 2                  # bank draws per (criterion, temperature, min channels)
retrain_epochs = 1         # the one retraining budget of every mask in this chapter
retrain_seeds = 3          # a bank label is the mean validation accuracy over this many retraining seeds
min_distinct = 24          # bank masks per (network, sparsity), topped up with random-min1
exhaustive_limit = 200     # add every collapse-free mask where there are at most this many (conv 90 %: 96)
likelihood_steps = 600     # the likelihood stage (weighted maximum likelihood of the bank masks)
gan_steps = 300            # the adversarial stage that follows it
gan_seeds = 4              # generators (and critics) per design and fold: pair i uses seed i
entropy_weights = [0.0, 0.1, 0.3]   # tried leave-one-network-out on the training networks
critic_weights = [0.0, 1.0]
critic_steps = 500
samples = 4                # pairs (paired retraining seeds) per method, network, sparsity; equals gan_seeds
critic_candidates = 16     # best-of-K for the critic-ranked methods
transfer_model = "lenet5-caffe"
executor = "local"         # where masks are evaluated: "local" (this machine) or "ray" (a Ray cluster)
ray_address = None         # with "ray": None (start a local Ray), "auto", or the head node's "host:port"

# %%
import pandas as pd
from IPython.display import Markdown, display

from prunegan.chapters import answer
from prunegan.chapters import part2 as chapter
from prunegan.chapters.format import markdown_table
from prunegan.chapters.part2 import choices as ch
from prunegan.chapters.part2 import fits as fitcheck
from prunegan.chapters.part2 import limits
from prunegan.chapters.part2 import overview as ov
from prunegan.chapters.part2 import tables as tb
from prunegan.chapters.part2.shipping import ship, shipped_key
from prunegan.chapters.summary import MarkdownText
from prunegan.plots import glue_figure
from prunegan.plots import part2 as plots
from prunegan.pruning.executors import Execution

pd.set_option("display.precision", 3)
pd.set_option("display.width", 160)
params = chapter.params_from_namespace(globals())
# the whole chapter: banks, cross-fitted folds, final generators, comparison, statistics, targets
result = chapter.run(params, Execution(kind=executor, address=ray_address))
print(result.header())

# %% [markdown]
# ## How many masks are there?
#
# Collapse-free masks that keep `n_kept` channels. With LeNet-5's 22 conv channels at 90 % there are 96 per
# network — few enough to retrain every one (the *landscape*); with the hidden Linear units (226
# channels) the space is astronomically larger.

# %%
display(Markdown(markdown_table(ov.mask_space_display(result.mask_space))))

# %% [markdown]
# ## The mask banks
#
# Per network and sparsity, masks from the randomised standard methods — noisy L1 and Torch-Pruning's
# magnitude, LAMP and FPGM importances with Gumbel noise at each temperature (0 = the plain criterion)
# and random, all with one channel per layer (the generator cannot draw a collapsed mask, so the bank
# holds none) — topped up with random-min1 draws to 24 distinct masks, or every
# collapse-free mask where there are at most 200 (conv 90 %: the landscape, on every network). Every
# mask's label is its **validation** accuracy averaged over the retraining seeds (`seed_sd`: the mean
# standard deviation between them).

# %%
print(result.bank_text())
display(Markdown(markdown_table(ov.bank_display(result.banks))))

# %% [markdown]
# ## Cross-fitting: every network held out once
#
# For each fold, everything below is learned and chosen on the other folds' networks only — the channel
# features, the design (leave-one-network-out among them), one critic and one generator per seed and design,
# the best standard criterion — and then measured on the fold's networks. Per fold: what it held out, what it
# learned on, and what it chose (criteria that tied on its training networks are joined by `=`).

# %%
display(Markdown(markdown_table(ch.fold_table(result.folds))))

# %% [markdown]
# ### The generators a reader can use on a new network
#
# Every number below comes from the fold that held its network out. For a *new* network the design most
# folds chose is fitted once more, on every network of the chapter, per setting; `make book` ships these two
# generators with the package (`prunegan.gan.load_shipped`, `prunegan map`). They are not
# measured here: no network is left to measure them on.

# %%
print(result.design_text())
print(ship(result.final, shipped_key(params)))

# %% [markdown]
# ## Which channel features carry a signal?
#
# A channel's *value* on a landscape is the mean validation accuracy of the masks that keep it. On each
# **training** network's 96-mask landscape (conv, 90 %), the Spearman correlation between each candidate
# feature and the channel value, within each layer (averaged over layers by channel count); the CI is over
# the fold's training networks. Candidates: weight statistics (L1, spread, bias), and — on a batch of
# validation images — activation mean and share of zeros, first-order Taylor |a·∂L/∂a|, the weight mass a
# channel sends into the next layer, and the feature-map rank (HRank). Each fold's generator and critic read
# the structural features (depth, width, fan-in, kind) and the channel features whose CI excludes 0 on that
# fold's training networks (and, for the design choice below, on each split's networks: selection is nested).
# The candidates include two forward-only probes: the loss increase when the channel alone is removed, and the
# accuracy when it is the only channel kept in its layer. The figure is fold 0's; the table gives the mean
# correlation over folds and how many folds chose each feature.

# %%
display(Markdown(markdown_table(ch.feature_table(result.folds))))
display(Markdown(ch.feature_text(result.folds)))

# %% tags=["hide-input", "remove-output"]
glue_figure("fig_feature_signal", plots.feature_signal(result.first.signal_summary))

# %% [markdown]
# :::{glue:figure} fig_feature_signal
# ---
# alt: >-
#   Dot plot, one row per candidate channel feature: its mean within-layer Spearman correlation with the
#   channel's landscape value on fold 0's training networks, with a horizontal 95 % CI bar; filled dots
#   where the CI excludes 0.
# name: fig-feature-signal
# ---
# Fold 0: how well each candidate feature ranks channels by their value on the conv 90 % landscapes
# (within-layer Spearman, 95 % CI over the fold's training networks; filled: the CI excludes 0, so the
# generator reads it).
# :::

# %% [markdown]
# How well fold 0's chosen features predict a channel's value on a network they were not fitted on
# (leave-one-network-out over fold 0's training networks: a ridge map fitted on the others; within-layer
# Spearman):

# %%
lono_rows, lono_text = ch.lono_table(result.lono)
display(Markdown(markdown_table(lono_rows)))
display(Markdown(lono_text))

# %% [markdown]
# ## The design, chosen leave-one-network-out within each fold
#
# Entropy bonus × critic weight: for each training network of a fold, a critic and a generator fitted on the
# fold's other training networks (reading the features selected on those networks), scored by the **exact**
# expected validation accuracy of its masks on the left-out network's landscape. A design replaces the
# simplest one (no entropy bonus, no critic) only when its advantage over it, paired per left-out network,
# has a 95 % CI entirely above 0 — a rule a float difference cannot flip unless it moves a CI across 0. The
# choice is made on the conv 90 % landscapes only, because the exact expected accuracy needs an exhaustive
# landscape and only conv 90 % has one; the chosen design is used in every setting. The table: each
# candidate's advantage (points) per fold, with how many folds it cleared its CI in.

# %%
design_overview = chapter.design_overview(result.folds)
display(Markdown(markdown_table(ch.design_pivot(design_overview))))
display(Markdown(ch.design_text(design_overview, result.design)))

# %% [markdown]
# ## Critics and generators: one per seed and fold
#
# Each fold and setting gets a critic and a generator per seed (pair *i* uses seed *i*), and the ablation's
# variant as many. The critic's quality is its rank correlation with the bank labels of the fold's
# **held-out** networks' masks (all, and collapse-free only), mean over seeds with the 95 % CI.

# %%
display(Markdown(markdown_table(ch.critic_table(chapter.critic_summary(result.gather("quality"))))))

# %% [markdown]
# ## Did the generators learn their banks?
#
# A learned component is judged only after it is shown to have learned. For every generator fitted (each
# fold's seeds of every design, and the final ones): whether its adversarial training **diverged** (the
# discriminator ends with a probability gap of at least 0.8 between bank and generated masks: it won
# outright, and its reward carries no signal), how much more likelihood it gives its own bank masks than the
# untrained generator does (nats per mask, soft-weighted), and whether its keep map ranks channels with their
# magnitude (ρ > 0: its keep-probabilities rank the channels of a training network with their mean |w|).

# %%
display(Markdown(markdown_table(fitcheck.fit_display(result.fits))))
display(Markdown(fitcheck.fit_text(result.fits)))

# %% [markdown]
# In-sample: each fold's seed-0 GAN on its own training networks, and the final generators on every network —
# their expected validation accuracy (exact on the conv 90 % landscape, else sampled masks retrained with the
# chapter's budget) beside the soft-weighted bank's, the distribution they were fitted to reproduce.

# %%
display(Markdown(markdown_table(fitcheck.in_sample_display(result.in_sample))))

# %% tags=["hide-input", "remove-output"]
glue_figure("fig_gan_training", plots.gan_training(result.training_histories()))

# %% [markdown]
# :::{glue:figure} fig_gan_training
# ---
# alt: >-
#   Two line plots against training step, one colour per generator (fold 0, seed 0, both settings, the GAN
#   and the GAN from scratch): left, the likelihood stage's loss; right, the discriminator's probability on
#   bank masks (solid) and generated masks (dashed) during the adversarial stage.
# name: fig-gan-training
# ---
# Training of fold 0's seed-0 generators (moving averages). Left: the weighted negative log-likelihood of the
# bank masks during the likelihood stage (the GAN from scratch has none). Right: the discriminator's
# probability that a mask is a bank mask, on bank masks (solid) and generated masks (dashed). Two lines that
# end far apart mean the discriminator won (the divergence rule: a gap of 0.8 or more); the fit table above
# gives every generator's verdict.
# :::

# %% [markdown]
# ### What limits the fit?
#
# On the conv 90 % landscapes every mask's validation accuracy is known, so each distribution's expected
# accuracy is exact. On the final generators' training networks (every network), beside the soft-weighted
# bank: the **best distribution of the generator's form** — a free weight per channel and a free count factor
# per layer, fitted to each network's bank by the same weighted maximum likelihood, no features: what a
# generator whose features told it everything could reach —, the final generator, its likelihood stage
# alone, that stage refitted four times wider with four times the steps, and refitted reading every
# feature, and the untrained generator. Gap to the bank, 95 % CI over networks.

# %%
display(Markdown(markdown_table(limits.limits_display(limits.limits_summary(result.limits)))))
display(Markdown(limits.limits_text(result.summary.limits, result.cfg.landscape_sparsity)))

# %% [markdown]
# ## The probabilistic map
#
# The seed-0 generator's exact keep-probability of every channel of network 0, conv + hidden Linear setting,
# from the fold that held network 0 out (channels ordered by mean |w| within each layer, largest first). The
# table gives the expected number of channels kept per layer (the allocation) and, per layer, the rank
# correlation between keep-probability and mean |w| (1: the map orders channels like L1).

# %%
display(Markdown(markdown_table(ch.allocation_table(result.keep, result.keep_agreement()))))
display(Markdown(ch.keep_text(ch.keep_spread(result.keep))))

# %% tags=["hide-input", "remove-output"]
glue_figure("fig_keep_map", plots.keep_map(result.keep, title=""))

# %% [markdown]
# :::{glue:figure} fig_keep_map
# ---
# alt: >-
#   Heat maps, one row per layer (conv1, conv2, fc1, fc2), columns the layer's channels ordered by mean |w|,
#   one band per sparsity; colour is the generator's keep-probability of the channel.
# name: fig-keep-map
# ---
# The seed-0 generator's keep-probability of every channel of network 0 (conv + hidden Linear setting,
# the fold that held network 0 out), channels ordered by mean |w| within each layer, largest first.
# :::

# %% [markdown]
# ## Collapse: a property, checked
#
# Sampled (no retraining) from fold 0's first three generators at every sparsity 5 %, 10 %, … that leaves a
# channel per layer, on every LeNet-5 and on `lenet5-caffe`: masks with a collapsed layer (impossible by
# construction, so this is a check of the code, not a finding), and whether every mask prunes exactly
# `round(sparsity · n)` channels.

# %%
display(Markdown(markdown_table(ch.collapse_table(result.collapse))))

# %% [markdown]
# ## The best standard criterion, chosen on each fold's training networks
#
# Each deterministic standard criterion (L1, Torch-Pruning's magnitude, LAMP and FPGM, all with one channel
# per layer, and layer-wise uniform pruning with L1 within the layer) on every training network of the fold,
# labelled by validation accuracy over the bank's retraining seeds. The best per (fold, setting, sparsity) is
# the bar the GAN is held to on that fold's networks (`best-criterion`). Criteria with the same mean
# validation accuracy are a tie, one row with every name (`same_masks`: they chose the same mask on every
# training network); the first name's masks are the ones measured.

# %%
display(Markdown(markdown_table(ch.best_criterion_table(result.folds))))

# %% [markdown]
# ## The comparison on every network
#
# Every method at each sparsity on each network, in the fold that held it out: `samples` masks with paired
# retraining seeds (test accuracy). `GAN` mask *i* is a sample of the fold's generator *i*, `gan-mode` (the
# table's *GAN's mode*) that generator's exact most probable mask (the keep-probability map used as a
# criterion); `GAN + critic` keeps critic *i*'s favourite of `critic_candidates` of generator *i*'s samples,
# `random-min1 + critic` of as many random-min1 masks; `uniform-collapse-free` is the untrained generator;
# the standard criteria are deterministic (one mask, one retraining seed per pair); `best-bank` is the
# bank's best mask of that network by validation label, re-measured with fresh seeds.

# %%
display(Markdown(markdown_table(tb.key_comparison(result.cells))))

# %% tags=["hide-input", "remove-output"]
glue_figure("fig_protocol", plots.protocol(result.cells))

# %% [markdown]
# :::{glue:figure} fig_protocol
# ---
# alt: >-
#   Dot plots, one panel per setting and sparsity: each method's mean retrained test accuracy on each
#   held-out network, one marker per network, with the mean and 95 % CI over networks.
# name: fig-protocol
# ---
# Every method's retrained test accuracy on every held-out network (the fold that held it out), per
# setting and sparsity: markers are networks, bars the mean with its 95 % CI over networks.
# :::

# %% [markdown]
# ### Allocation or channel choice?
#
# A GAN mask is an *allocation* (how many channels each layer keeps) and a *choice* of channels within each
# layer. Baselines that take it apart, paired like every method: **GAN's counts, c** keeps exactly as many
# channels per layer as GAN mask *i* and chooses them by criterion *c* (L1, or the image statistic behind
# one of the generator's channel features: Taylor, activation mean or share of non-zeros, out-going weight
# mass, HRank, the ablation and only-kept probes); **uniform counts, c** keeps the same share of every
# layer, chosen by *c*. GAN − each, in points with the 95 % CI over networks: a
# positive value against *its own allocation* means the generator's channel choice beats *c*'s inside the
# same counts.

# %%
display(Markdown(markdown_table(tb.baseline_table(result.stats, chapter.BASELINES))))

# %% tags=["hide-input", "remove-output"]
glue_figure("fig_baselines", plots.baselines(tb.baseline_frame(result.stats, chapter.BASELINES)))

# %% [markdown]
# :::{glue:figure} fig_baselines
# ---
# alt: >-
#   Dot plots, one panel per setting and sparsity, one row per baseline: the GAN's accuracy minus the
#   baseline's in points, mean over networks with a horizontal 95 % CI bar, a vertical line at zero.
# name: fig-baselines
# ---
# GAN − each baseline, in accuracy points, mean over the held-out networks with its 95 % CI (blue: the CI
# excludes 0). Rows "GAN's counts, c": GAN mask *i*'s number of channels per layer, criterion *c*'s channels
# within each layer; "uniform counts, c": the same share of every layer. At conv 90 % every collapse-free mask
# keeps one channel per layer, so the two rows of a criterion coincide there.
# :::

# %% [markdown]
# Every other method, mean test accuracy over the networks:

# %% tags=["hide-input", "hide-output"]
display(Markdown(markdown_table(tb.other_methods(result.cells))))

# %% [markdown]
# Methods compared at an equal channel count keep different amounts of compute: a hidden Linear unit counts
# as one channel, like a conv channel. Each method's test accuracy (mean over the networks) beside the share
# of the dense network's MACs and parameters its masks keep:

# %%
display(Markdown(markdown_table(tb.cost_table(result.cells))))

# %% [markdown]
# How many *different* masks each method proposed per network (mean over the networks, of its masks per
# network):

# %%
display(Markdown(markdown_table(tb.distinct_table(result.cells))))

# %% [markdown]
# ## Exactly, on every network's landscape
#
# On each network's 96-mask landscape (conv, 90 %; labels = test accuracy over the bank's retraining seeds),
# the exact expected accuracy of each generator of the fold that held the network out (probabilities from
# its distribution) and its percentile there, mean over the fold's seeds — beside the label and exact
# percentile of each generator's most probable mask (`gan-mode`). This judges the distribution itself, free of
# sampling noise. The table gives each landscape's median, 85th percentile and best mask, then the GAN's
# expected accuracy (`GAN E[acc]`) and percentile, and its most probable mask's (`mode`); the ablation's
# variant is judged on the same landscapes in the ablation below.

# %%
display(Markdown(markdown_table(tb.landscape_table(result.reported, result.expected))))

# %% [markdown]
# ## Transfer: `lenet5-caffe`, never seen
#
# Every fold's conv-setting generators and critics (trained on LeNet-5 only) prune `lenet5-caffe`, trained
# here from scratch: `folds × samples` pairs on this one network (fold *k*'s seeds, disjoint from the other
# folds'). No bank exists for it, so there is no best bank mask; each fold's best standard criterion is its
# conv setting's choice.

# %%
display(Markdown(markdown_table(tb.transfer_table(result.transfer_cells))))

# %% [markdown]
# ## The targets, checked over networks
#
# Each target is data (statistic, comparison, threshold) judged on its 95 % CI by one function — never on a
# mean that a float could flip. In the two LeNet-5 settings the CI is **over networks**: each network's paired
# mean (over its pairs), then the Student-t interval over the networks (the network is the unit a reader
# generalises to; with this few networks a bootstrap over them would be too narrow). The transfer network is
# one network, judged over its pairs. Differences in accuracy points.

# %%
display(Markdown(tb.comparison_text(result.stats)))
MarkdownText(result.summary.verdict)

# %% [markdown]
# The spread that decides the verdicts: each network's paired mean with its CI over its pairs, and the pooled
# mean with its CI over networks.

# %% tags=["hide-input", "remove-output"]
glue_figure("fig_forest_gan_best", plots.forest(result.stats, "gan", "best-criterion", threshold=-1.0))
glue_figure("fig_forest_mode_best", plots.forest(result.stats, "gan-mode", "best-criterion", threshold=-1.0))
glue_figure("fig_forest_gan_random", plots.forest(result.stats, "gan", "random-min1", threshold=0.0))

# %% [markdown]
# :::{glue:figure} fig_forest_gan_best
# ---
# alt: >-
#   Forest plot, one panel per setting and sparsity: for each network a point with a horizontal 95 % CI
#   bar for the GAN's accuracy minus the best standard criterion's, in points, and a pooled estimate with
#   its CI over networks; a dashed vertical line at minus one point.
# name: fig-forest-gan-best
# ---
# GAN samples − best standard criterion, in accuracy points: each network (the fold that held it out) with
# its 95 % CI over its pairs, and the pooled mean with its 95 % CI over networks (the interval the verdict
# judges). Dashed: the target's −1 point.
# :::
#
# :::{glue:figure} fig_forest_mode_best
# ---
# alt: >-
#   Forest plot as above for the generator's most probable mask minus the best standard criterion.
# name: fig-forest-mode-best
# ---
# The generator's most probable mask (its keep-probability map used as a criterion) − best standard
# criterion, per network and pooled over networks.
# :::
#
# :::{glue:figure} fig_forest_gan_random
# ---
# alt: >-
#   Forest plot as above for the GAN's samples minus random pruning with one channel per layer, with a
#   dashed line at zero.
# name: fig-forest-gan-random
# ---
# GAN samples − random pruning with one channel per layer, per network and pooled (dashed: 0, the target
# "beats random-min1").
# :::

# %% [markdown]
# ## Where the gap comes from
#
# GAN − best standard criterion on each held-out network, in **validation** accuracy (points), split into
# three parts that add up to it network by network: **bank**, the soft-weighted bank (the distribution the
# generator is fitted to) minus the best criterion on that network — what imitating the bank can win at most,
# on average; **fit**, the fold generators' in-sample gap to the soft bank on their own *training* networks
# (for a network, the mean over the folds that trained on it; each fold's seed-0 GAN, as in the in-sample
# table); **transfer**, the generator's gap to the soft bank on the held-out network minus that in-sample
# gap. Mean with its 95 % CI over networks. Nothing is retrained for this table: it reads the rows above.

# %%
display(Markdown(markdown_table(tb.gap_table(result.summary.gaps))))

# %% [markdown]
# ### More training networks?
#
# Each fold's design (its features and weights, chosen on all its training networks) refitted on 2 and on 4
# of its training networks (a different window of them in each fold, so that the folds learn from different
# networks), with the fold's generator seeds, beside its own generators fitted on all of them — in the conv
# setting at 90 %, where every expectation is exact on the landscapes. On the held-out networks: the
# generators' expected **test** accuracy (mean over seeds) minus the best standard criterion's (the fold's,
# from the comparison above); on the training networks: their expected **validation** accuracy minus the
# soft-weighted bank's, for a network the mean over the folds that trained on it. CIs over networks.

# %% tags=["hide-input", "remove-output"]
glue_figure("fig_training_size", plots.training_size(limits.size_summary(result.sizes)))

# %% [markdown]
# :::{glue:figure} fig_training_size
# ---
# alt: >-
#   Two panels against the number of training networks: left, the GAN's expected test accuracy
#   minus the best standard criterion's on held-out networks; right, its expected validation accuracy minus
#   the soft-weighted bank's on its training networks; dots with 95 % CI bars, a line at zero.
# name: fig-training-size
# ---
# The GAN against the number of networks it is fitted on (conv, 90 %, exact on the landscapes; mean with its
# 95 % CI). The text under the figure gives the values; a curve whose bars overlap across sizes shows no
# measurable effect of more training networks.
# :::

# %%
display(Markdown(limits.size_text(result.summary.sizes, result.cfg.landscape_sparsity)))

# %% [markdown]
# ## Ablation: what each design meets
#
# The same targets with each variant in place of the GAN (cells met / cells checked; every row has the same
# seeds and pairs). The uniform collapse-free distribution is the untrained generator; random-min1 + critic is
# search without a generator.

# %%
ablation_table, ablation_targets = tb.ablation_display(chapter.ablation(result.stats))
display(Markdown(markdown_table(ablation_table)))
display(Markdown(ablation_targets))

# %% [markdown]
# ## Compute per mask
#
# Seconds to retrain a mask (the same budget for every method) and to propose it, the total in
# retraining-equivalents, and the one-off cost the learned methods share.

# %%
print(result.timing_text())
compute_table, compute_one_off = tb.compute_display(result.compute)
display(Markdown(markdown_table(compute_table)))
display(Markdown("One-off costs the learned methods share:\n\n" + compute_one_off))

# %% [markdown]
# ## Headline numbers
#
# Glued for the findings page and the README (accuracy as a fraction, averaged over the networks; margins in
# points with their CI over networks).

# %%
print("the comparison's rows were computed on:", result.provenance())
print(f"{result.summary.glue()} numbers glued (every one is listed on the summary page)")

# %% [markdown]
# ## What this chapter shows

# %%
MarkdownText(answer.answer(result.summary))
