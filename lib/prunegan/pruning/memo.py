"""The one in-memory memo of the pruning criteria: a bounded least-recently-used map from a content
key (a digest of the weights, the layers, the images, …) to computed per-channel importances.

Torch-Pruning's criteria (:func:`prunegan.pruning.scorers.torch_pruning_importance`) and the image
statistics (:mod:`prunegan.pruning.importance`) each keep one :class:`Memo`; callers hand out copies
(:func:`copied`), so a caller that edits its scores in place cannot change a later call's."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import torch


class Memo:
    """Least-recently-used memo of at most ``maxsize`` entries."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize, self._data = maxsize, OrderedDict()

    def get(self, key: Hashable) -> Any:
        """The stored value (now the most recently used), or ``None``."""
        if key not in self._data:
            return None
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key: Hashable, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The stored value of ``key``; computed by ``compute()`` and stored on a miss."""
        hit = self.get(key)
        if hit is None:
            hit = compute()
            self.put(key, hit)
        return hit

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def copied(tree: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``{name: tensor}`` or ``{name: {name: tensor}}`` with every tensor cloned."""
    return {k: v.clone() if isinstance(v, torch.Tensor) else copied(v) for k, v in tree.items()}
