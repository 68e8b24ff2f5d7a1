"""prunegan: can a GAN learn good channel-pruning masks? The library behind the book.

Layers, each importing only those before it: ``core`` (ChannelMask, counts, the mask distribution,
validation, registry, store and its one hash recipe, provenance) → ``data``, ``models``, ``train``
→ ``pruning`` (scorers, select, strategies, surgery, engine and its executors: local processes or
Ray) → ``analysis`` (statistics, tables, collapse, mask spaces and maps) → ``runs`` (the runner;
baseline, sweep, bank and protocol only build jobs) → ``gan`` → ``plots`` → ``chapters``
(notebook-facing: configs from parameters, verdicts, glue values). ``book`` executes the notebooks.
"""
from .core.masks import ChannelMask  # noqa: F401

__version__ = "0.3.0"
