"""prunegan: can a GAN learn good channel-pruning masks? The library behind the book."""
from . import cache, data, engine, masks, models, strategies, train  # noqa: F401
from .masks import ChannelMask  # noqa: F401

__version__ = "0.1.0"
