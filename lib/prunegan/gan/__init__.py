"""A GAN that is given a network and returns a keep-probability for each of its prunable channels.

**Channel features** (:func:`channel_features`) describe every prunable channel of *any* network
from its weights alone: the log of its mean |w| standardised and ranked within its layer and
across the network, the spread of its weights and its |bias| standardised within the layer, and the
layer's relative depth, width (log₂ and share of all channels), fan-in and kind. No feature names a
channel index, so what is learnt on one network can be applied to another.

**Generator** (per-channel MLP with a layer-context summary, so it works on networks of any size):
each channel's features and the target sparsity ``s`` are embedded by an MLP, ``h_c``; the mean of
``h`` over the channel's layer and over the whole network are the context; a second MLP maps
``[h_c, layer mean, network mean, z, s]`` (``z`` a noise vector shared by the channels of one
sample) to a keep-logit ``ℓ_c``. A shift ``b`` (found by bisection) makes the keep-probabilities
``p_c = σ(ℓ_c + b)`` sum to the number of channels to keep, ``n − round(s·n)``.

**Sampling** an exact mask: add logistic noise to the logits and keep the top ``n − round(s·n)``
(equivalently, prune the lowest scores with :func:`prunegan.pruning.select.select`, which can also
honour ``min_channels_per_layer``). ``σ(ℓ + b)`` is then each channel's probability of being kept.

**Discriminator** on a (features, mask) set: an MLP on ``[f_c, m_c, s]`` per channel, mean-pooled
per layer and concatenated with the layer's kept fraction and mean features, a second MLP per layer,
then mean- and max-pooled over layers to one real/fake logit. Permutation-invariant within a
layer and independent of the number of channels.

**Relaxation and losses**: the generator's masks are straight-through top-k samples: the forward
pass uses the hard top-k mask of ``ℓ + logistic noise`` (exactly what the discriminator sees for
real masks), the backward pass the gradient of the soft mask ``σ((ℓ + noise + b')/τ)`` calibrated
to the same kept count. Losses are the standard non-saturating GAN losses:
``L_D = BCE(D(real), 1 − smoothing) + BCE(D(fake), 0)``, ``L_G = BCE(D(fake), 1)``, where the
real masks are the bank's good masks (:class:`prunegan.bank.GoodRule`) and each fake is generated
for the same network and sparsity as a real one in the batch.

Everything random is drawn from explicit ``torch.Generator`` objects seeded from the config or the
``seed`` argument. A trained generator prunes through the ``"gan"`` strategy:
``strategies.prune(model, "gan", sparsity, seed=..., generator=generator)``.

Modules: :mod:`.features`, :mod:`.config`, :mod:`.nets`, :mod:`.relax`, :mod:`.generator`, :mod:`.train`.
"""
from .config import LOSSES, MODEL_VERSION, GanConfig  # noqa: F401
from .features import FEATURE_VERSION, FEATURES, ChannelFeatures, channel_features, features_of_layers  # noqa: F401
from .generator import Generator  # noqa: F401
from .train import fit, training_set  # noqa: F401
