"""prunegan: can a GAN learn good channel-pruning masks? The library behind the book."""
from . import cache, data, engine, masks, models, strategies, train  # noqa: F401
from .masks import ChannelMask  # noqa: F401
from . import bank, gan  # noqa: F401,E402  (gan registers the "gan" strategy on import)

__version__ = "0.1.0"
