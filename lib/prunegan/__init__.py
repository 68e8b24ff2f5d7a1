"""prunegan: can a GAN learn good channel-pruning masks? The library behind the book.

Layers, each importing only those before it: ``core`` (ChannelMask, counts, validation, registry,
store) → ``data``, ``models``, ``train`` → ``pruning`` (scorers, select, strategies, surgery,
engine) → ``runs`` (runner; baseline, sweep, bank, compare build jobs) → ``gan`` → ``analysis`` →
``plots`` → ``chapters`` (notebook-facing) and ``book`` (papermill executor).
"""
from .core.masks import ChannelMask  # noqa: F401

__version__ = "0.2.0"
