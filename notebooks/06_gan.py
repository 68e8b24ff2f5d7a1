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
# as the best masks we know — measured on networks it never saw.
#
# **The generator is an exact distribution over structured masks.** For a network and a sparsity it keeps
# exactly `K = n − round(sparsity · n)` channels, at least one in every layer, with probability
# `P(mask) ∝ Π_layers exp(θ_l[k_l]) · Π_kept w_c`: a factor per (layer, number kept) — the allocation
# across layers — times a weight per channel. A dynamic programme over layers (elementary symmetric
# polynomials of the weights) gives the exact normaliser, the exact log-probability of a mask, the exact
# keep-probability of every channel (the *probabilistic map*) and exact samples. **Layer collapse is
# impossible by construction.** An MLP maps each channel's features (computed from the weights alone:
# magnitude ranks and z-scores, layer depth, width, fan-in, kind) and the sparsity to the weights and the
# count factors, so it applies to networks of any shape; all zeros is the uniform distribution over
# collapse-free masks (`uniform-min1` below).
#
# **Training is a GAN.** A discriminator on (network, mask) — the network's channels as a set of sets —
# tells bank masks, drawn with soft weights `exp((acc − best)/0.01)` that favour the best, from generated
# masks. Its logit is the generator's reward, and reaches the generator through the exact log-probability
# (score function with the batch mean as baseline). An **accuracy critic** — the discriminator's
# architecture regressing the bank's measured accuracy — adds its standardised prediction to the reward.
#
# **Protocol.** Five LeNet-5s trained from seeds 0–4; the generator and the critic learn from networks
# 0–2 only, and everything is measured on networks 3 and 4 (held out) and on `lenet5-caffe` (an
# architecture never seen). Each method gives 20 masks per (network, sparsity); mask *i* of every method
# is retrained with the same seed `1000 + i`, disjoint from the bank's seeds 0–2, so methods are compared
# pair by pair (paired 95 % CIs). The GAN is trained with three seeds.

# %% tags=["parameters"]
smoke = False              # tiny fast run for tests
data = "mnist-5k"          # "mnist-5k" (embedded, offline), "mnist", "fashion-mnist"
epochs = 10                # baseline training epochs (every network)
networks = 5               # LeNet-5s trained from seeds 0, 1, ...; the last `held_out` are never trained on
held_out = 2
sparsities = [0.8, 0.9]
temperatures = [0.0, 0.5, 1.0, 2.0]   # temperatures of the bank's noisy criteria
draws = 2                  # bank draws per (criterion, temperature, min channels)
retrain_epochs = 1         # the one retraining budget of every mask in this chapter
retrain_seeds = 3          # a bank label is the mean retrained accuracy over this many seeds
min_distinct = 50          # bank masks per (network, sparsity), topped up with random-min1
exhaustive_limit = 200     # add every collapse-free mask where there are at most this many
gan_steps = 300
gan_seeds = 3
critic_weight = 1.0        # weight of the accuracy critic in the generator's reward
critic_steps = 1000
samples = 20               # masks (and paired retraining seeds) per method, network and sparsity
critic_candidates = 16     # best-of-K for the critic-ranked methods
transfer_model = "lenet5-caffe"
executor = "local"         # where masks are evaluated: "local" (this machine) or "ray" (a Ray cluster)
ray_address = None         # with "ray": None (start a local Ray), "auto", or the head node's "host:port"

# %%
import time
from dataclasses import replace

import pandas as pd
import scrapbook as sb
from IPython.display import display

from prunegan import gan
from prunegan.analysis import masks
from prunegan.chapters import part2 as chapter
from prunegan.chapters.summary import MarkdownText
from prunegan.plots import part2 as plots
from prunegan.runs import bank
from prunegan.runs.baseline import baseline

pd.set_option("display.precision", 3)
pd.set_option("display.width", 160)
cfg = chapter.configs(smoke=smoke, data=data, epochs=epochs, networks=networks, held_out=held_out,
                       sparsities=sparsities, temperatures=temperatures, draws=draws, retrain_epochs=retrain_epochs,
                       retrain_seeds=retrain_seeds, min_distinct=min_distinct, exhaustive_limit=exhaustive_limit,
                       gan_steps=gan_steps, gan_seeds=gan_seeds, critic_weight=critic_weight,
                       critic_steps=critic_steps, samples=samples, critic_candidates=critic_candidates,
                       transfer_model=transfer_model)
print("trained on networks", cfg.train_networks, "| held out", cfg.held_out)
print(cfg.gan)

# %% [markdown]
# ## How many masks are there?
#
# Collapse-free masks that keep `n_kept` channels. With LeNet-5's 22 conv channels at 90 % there are 96 per
# network — few enough to retrain every one (the *landscape*); with the hidden Linear units (226
# channels) the space is astronomically larger.

# %%
chapter.mask_space_overview(cfg)

# %% [markdown]
# ## The mask banks
#
# Per network and sparsity, masks from the randomised standard methods — noisy L1 and Torch-Pruning's
# magnitude, LAMP and FPGM importances with Gumbel noise at each temperature (0 = the plain criterion),
# each with and without one channel per layer, and random — topped up with random-min1 draws to at
# least 50 distinct masks, or every collapse-free mask where there are at most 200. Every mask's label is
# its retrained accuracy averaged over three seeds (`seed_sd`: the mean standard deviation between them).

# %%
t0 = time.perf_counter()
banks = {setting: bank.build(bc, executor=executor, ray_address=ray_address) for setting, bc in cfg.banks.items()}
bank_evaluations = sum(int(b.unique()["n_seeds"].sum()) for b in banks.values())
print(f"{bank_evaluations} retrainings in the two banks")
print("networks' test accuracy:", ", ".join(f"{b.accuracy:.3f}" for b in banks["conv"].baselines))
pd.concat({s: chapter.bank_overview(b) for s, b in banks.items()}, names=["setting"]).droplevel(1)

# %% [markdown]
# ## The accuracy critic
#
# Trained on the bank masks of the training networks; its quality is the rank correlation of its
# predictions with the measured accuracy of every bank mask of the **held-out** networks (and of their
# collapse-free masks alone, which are harder to rank).

# %%
critics, critic_seconds, quality = {}, {}, []
for setting, b in banks.items():
    critics[setting] = gan.fit_critic(b, networks=cfg.train_networks, steps=cfg.critic_steps)
    critic_seconds[setting] = critics[setting].seconds  # of the fit that made it, also when cached
    quality.append(chapter.critic_quality(critics[setting], gan.from_bank(b, networks=cfg.held_out), setting))
quality = pd.concat(quality, ignore_index=True)
quality

# %% [markdown]
# ## Training the GAN
#
# Three generator seeds per setting (main design: discriminator + critic reward), plus the
# discriminator-only variant for the ablation. The curves show the discriminator's logit gap between
# bank and generated masks (it has a signal when the gap is clearly above 0) and the mean reward.

# %%
generators, variants, gan_seconds = {}, {}, {}
for setting, b in banks.items():
    generators[setting] = [gan.fit(b, replace(cfg.gan, seed=s), critic=critics[setting]) for s in cfg.gan_seeds]
    # training seconds of one generator, from its history (so also when it was loaded from the cache)
    gan_seconds[setting] = sum(g.history[-1]["seconds"] for g in generators[setting]) / len(cfg.gan_seeds)
    variants[setting] = {name: [gan.fit(b, vc)] for name, vc in cfg.variants.items()}
    print(setting, generators[setting][0])
fig = plots.gan_training({f"{s}, seed {g.config.seed}": g.history for s, gs in generators.items() for g in gs})

# %% [markdown]
# ## The probabilistic map
#
# The main generator's exact keep-probability of every channel of the first held-out network, conv +
# hidden Linear setting (channels ordered by mean |w| within each layer, largest first). The table gives
# the expected number of channels kept per layer (the allocation the generator learnt) and, per layer,
# the rank correlation between keep-probability and mean |w| (1: the map orders channels like L1).

# %%
held_net = banks["conv+linear"].baselines[cfg.held_out[0]].model
keep = masks.keep_map(generators["conv+linear"][0], held_net, cfg.sparsities, include_linear=True)
fig = plots.keep_map(keep, title="GAN keep-probability per channel (held-out LeNet-5, conv + hidden Linear)")
allocation = keep.groupby(["sparsity", "layer"], sort=False)["keep_prob"].sum().rename("expected_kept")
allocation.to_frame().join(masks.l1_agreement(keep).set_index(["sparsity", "layer"])).unstack("layer").round(2)

# %% [markdown]
# ## Collapse: every generated mask, every feasible sparsity
#
# Sampled (no retraining) at every sparsity 5 %, 10 %, … that leaves a channel per layer, on every
# LeNet-5 and on `lenet5-caffe`: masks with a collapsed layer, and whether every mask prunes exactly
# `round(sparsity · n)` channels.

# %%
models_ = {f"lenet5 seed {i}": b.model for i, b in enumerate(banks["conv"].baselines)}
sweeps = [chapter.collapse_sweep(generators["conv"], {**models_, "lenet5-caffe": baseline(cfg.transfer).model},
                                 include_linear=False).assign(setting="conv"),
          chapter.collapse_sweep(generators["conv+linear"], models_, include_linear=True).assign(setting="conv+linear")]
collapse = pd.concat(sweeps, ignore_index=True)
collapse.groupby("setting")[["masks", "collapsed", "exact_count"]].agg({"masks": "sum", "collapsed": "sum", "exact_count": "all"})

# %% [markdown]
# ## The comparison on held-out networks
#
# Every method at each sparsity on each held-out network, 20 masks with paired retraining seeds. `GAN`
# pools the three generator seeds (60 masks); `GAN + critic` keeps the critic's favourite of 16 GAN
# samples, `random-min1 + critic` of 16 random-min1 masks (the same search with the same critic, without
# the generator); `uniform-min1` is the untrained generator; `best bank mask` is the bank's best mask of
# that network re-measured with fresh seeds (its bank accuracy was a maximum over many masks, so
# re-measuring removes the selection bias).

# %%
df = pd.concat([chapter.evaluate(cfg, setting, {"GAN": generators[setting], **variants[setting]}, critics[setting],
                                 bank=banks[setting], executor=executor, ray_address=ray_address)
                for setting in chapter.SETTINGS], ignore_index=True)
cells = chapter.cell_table(df)
fig = plots.protocol(cells)
chapter.cell_pivot(cells).round(3)

# %% [markdown]
# How many *different* masks each method proposed (of 20; of 60 for `GAN`, its three seeds pooled). A
# generator that has concentrated its probability on a few masks shows few distinct ones here and
# sharp 0/1 keep-probabilities in the map above.

# %%
chapter.cell_pivot(cells, "distinct").astype(int)

# %% [markdown]
# Paired differences, GAN (mean of its seeds per pair) minus each other method, in accuracy points with
# the 95 % CI (n = 20 pairs):

# %%
chapter.paired_table(df).pivot_table(index=["setting", "network", "sparsity"], columns="other",
                                     values="diff_points").round(1)

# %% [markdown]
# ## Transfer: `lenet5-caffe`, never seen
#
# The conv-setting generators (trained on LeNet-5 only) prune `lenet5-caffe`, trained here from scratch.
# No bank exists for it, so there is no best bank mask; the critic is the conv-setting critic.

# %%
tdf = chapter.evaluate(cfg, "transfer", {"GAN": generators["conv"]}, critics["conv"], executor=executor,
                       ray_address=ray_address)
tcells = chapter.cell_table(tdf)
tcells.drop(columns=["label", "setting", "network"])

# %% [markdown]
# ## The targets, checked
#
# Each target of the design, on the measured numbers above (generated, nothing typed by hand). Differences
# are in accuracy points with their paired 95 % CI; `at least landscape p85` compares the GAN's mean accuracy
# with the 85th percentile of the 96-mask landscape of the same network (its labels come from the bank's
# seeds, the GAN's from fresh seeds).

# %%
landscapes = chapter.landscape(banks["conv"], max(cfg.sparsities), cfg.held_out)
display(landscapes)
checks = dict(landscapes=landscapes, transfer=tdf, collapse=collapse)
targets = chapter.target_checks(df, "gan", **checks)
MarkdownText(chapter.verdict(targets))

# %% [markdown]
# ## Ablation: what each design meets
#
# The same targets checked for each variant in place of the GAN (cells met / cells checked). The
# uniform collapse-free distribution is the untrained generator; random-min1 + critic is search without a
# generator.

# %%
chapter.ablation(df, {"gan": "GAN (discriminator + critic reward)", "gan-discriminator-only": "GAN, discriminator only",
                      "gan+critic": "GAN + critic best-of-16", "random-min1+critic": "random-min1 + critic best-of-16",
                      "uniform-min1": "uniform collapse-free (untrained)"}, **checks)

# %% [markdown]
# ## Compute per mask
#
# Seconds to retrain a mask (the same budget for every method) and to propose it, the total in
# retraining-equivalents, and the one-off cost the learned methods share.

# %%
compute = chapter.compute_table(pd.concat([df, tdf], ignore_index=True), gan_seconds=sum(gan_seconds.values()) / 2,
                                critic_seconds=sum(critic_seconds.values()) / 2, bank_evaluations=bank_evaluations)
print(f"chapter computed in {time.perf_counter() - t0:.0f} s")
compute

# %% [markdown]
# ## Headline numbers
#
# Glued for the findings page (accuracy as a fraction, averaged over the held-out networks; prefixes
# `conv_`, `linear_`, `transfer_`; `target_*_met` / `_cells`: cells meeting each target).

# %%
numbers = chapter.headlines(pd.concat([cells, tcells], ignore_index=True), targets)
numbers["gan_retrain_epochs"] = float(retrain_epochs)
numbers["gan_critic_spearman_collapse_free_linear"] = float(quality.loc[quality.setting == "conv+linear", "spearman_collapse_free"].mean())
numbers["gan_critic_spearman_collapse_free_conv"] = float(quality.loc[quality.setting == "conv", "spearman_collapse_free"].mean())
for name, value in numbers.items():
    sb.glue(name, value)
sb.glue("gan_verdict", chapter.verdict(targets))
pd.Series(numbers, name="value").to_frame()
