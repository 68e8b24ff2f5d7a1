"""A GAN that is given a network and returns an exact probabilistic map of its channels.

**The generator is an exact structured distribution over masks** (:mod:`prunegan.core.distribution`): for a
network and a target sparsity it keeps exactly ``K = n − round(sparsity · n)`` channels, at least
``max(1, min_channels_per_layer)`` in every layer, with probability

    P(mask) ∝ Π_layers exp(θ_l[k_l]) · Π_{kept c} w_c        (k_l = channels kept in layer l),

a count factor per (layer, kept count) times a weight per channel. A chain dynamic programme over
layers (elementary symmetric polynomials of the weights) gives the exact normaliser, the exact
log-probability of any mask, the exact keep-probability of every channel (the *probabilistic map*,
:meth:`Generator.keep_probabilities`) and exact samples (counts backwards through the chain, then
conditional-Poisson sampling within each layer). Layer collapse is impossible by construction.

**Channel features** (:mod:`.features`) describe every prunable channel of *any* network from its
weights alone, so the same generator applies to networks of any size: :class:`.nets.GeneratorNet`
maps (features, sparsity) to the log-weights and count factors; it starts at zero, i.e. at the
uniform distribution over collapse-free masks.

**Training is a GAN** (:mod:`.train`): a set-of-sets discriminator on (network, mask) tells the
bank's masks, drawn with soft weights that favour the best ones, from generated masks; its logit is
the generator's reward, which reaches the generator through the exact log-probability (score
function with a baseline). An **accuracy critic** (:mod:`.critic`), a regressor of retrained
accuracy trained on the bank, can be added to the reward and ranks candidates for best-of-K search.

The chapter's generators ship with the package (:mod:`.shipped`): ``gan.load_shipped("conv")``;
``prunegan map --model lenet5 --weights my_net.pt --sparsity 0.8`` prints a network's
keep-probability map (:mod:`prunegan.cli`).

A trained generator prunes through the ``"gan"`` strategy:
``strategies.prune(model, "gan", sparsity, seed=..., generator=generator)``.

Modules: :mod:`.features`, :mod:`.config`, :mod:`.nets`, :mod:`.examples`,
:mod:`.generator`, :mod:`.critic`, :mod:`.train`, :mod:`.shipped`, :mod:`.cli`.
"""
from .config import MODEL_VERSION, GanConfig  # noqa: F401
from .critic import AccuracyCritic  # noqa: F401
from ..core.distribution import StructuredMasks  # noqa: F401
from .examples import Examples, from_bank  # noqa: F401
from .features import FEATURE_VERSION, FEATURES, ChannelFeatures, channel_features, features_of_layers  # noqa: F401
from .generator import Generator  # noqa: F401
from .shipped import export_shipped, load_shipped, shipped_is_current, shipped_manifest  # noqa: F401
from .train import fit, fit_critic, fit_critics, fit_many, in_processes, training_set  # noqa: F401
