"""prunegan: can a GAN learn good channel-pruning masks? The library behind the book.

Layers, each importing only those before it: ``core`` (ChannelMask, counts, the mask distribution,
validation, registry, store and its one hash recipe, provenance) → ``data``, ``models``, ``train``
→ ``pruning`` (scorers, select, strategies, surgery, engine and its executors: local processes or
Ray) → ``analysis`` (statistics, tables, collapse, mask spaces and maps) → ``runs`` (the runner;
baseline, sweep, bank and protocol only build jobs) → ``gan`` → ``plots`` → ``cli`` (the ``prunegan``
command) and ``chapters`` (notebook-facing: each chapter's run, result and glued values) → ``book``
(executes the notebooks, renders and checks the book); ``tests/test_layers.py`` holds every import to it.
``kernels`` pins torch's CPU kernels to AVX2 when ``prunegan`` is imported before torch.
"""
# First, before anything imports torch: pin torch's CPU kernels to AVX2 (prunegan.kernels).
from . import kernels as _kernels  # noqa: E402,I001

_kernels.apply()

from .core.masks import ChannelMask  # noqa: E402,F401

_kernels.check()

__version__ = "0.3.0"
