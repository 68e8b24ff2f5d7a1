"""Channel masks: which output channels of each prunable layer are kept.

``ChannelMask`` is the one mask type of the project: strategies return it, the mask bank stores it,
the GAN samples it. Applying a mask to a network (masked or physically smaller) is
:mod:`prunegan.pruning.surgery`.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from torch import nn

from .store import save_torch


def prunable_layers(model: nn.Module, *, include_linear: bool = False) -> dict[str, nn.Module]:
    """The layers whose output channels may be pruned, in module order: every ``Conv2d``, plus
    (``include_linear=True``) every ``Linear`` but the last, whose outputs are the logits.

    Raises ``ValueError`` if the network has none."""
    convs = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    keep = set(convs) | (set(linears[:-1]) if include_linear else set())
    layers = {n: m for n, m in model.named_modules() if n in keep}
    if not layers:
        kinds = "Conv2d or hidden Linear" if include_linear else "Conv2d"
        raise ValueError(f"{type(model).__name__} has no prunable layer (looked for {kinds} modules)")
    return layers


def layer_sizes(model: nn.Module, *, include_linear: bool = False) -> dict[str, int]:
    """Number of output channels (or units) of each prunable layer."""
    return {n: _out_size(m) for n, m in prunable_layers(model, include_linear=include_linear).items()}


def _out_size(layer: nn.Module) -> int:
    return layer.out_channels if isinstance(layer, nn.Conv2d) else layer.out_features


class ChannelMask(Mapping):
    """An immutable mapping ``layer name → (C,) bool tensor`` over output channels (True = kept).

    Sparsity is the fraction of prunable channels removed, globally; parameter and MAC reductions
    differ from it (see :func:`prunegan.pruning.surgery.count`)."""

    __slots__ = ("_masks",)

    def __init__(self, masks: Mapping[str, torch.Tensor]) -> None:
        if not masks:
            raise ValueError("a ChannelMask needs at least one layer")
        checked = {}
        for name, m in masks.items():
            m = torch.as_tensor(m)
            if m.dtype != torch.bool or m.dim() != 1 or m.numel() == 0:
                raise ValueError(f"mask of layer {name!r} must be a non-empty 1-D bool tensor, "
                                 f"got dtype={m.dtype}, shape={tuple(m.shape)}")
            checked[str(name)] = m.detach().to("cpu").clone()
        object.__setattr__(self, "_masks", checked)

    def __setattr__(self, key, value):  # immutability
        raise AttributeError("ChannelMask is immutable")

    def __reduce__(self):  # copy, deepcopy and pickle rebuild through __init__ (not __setattr__)
        return (type(self), (self._masks,))

    # Mapping protocol (tensors are copied out so the mask cannot be changed through them)
    def __getitem__(self, name: str) -> torch.Tensor:
        return self._masks[name].clone()

    def __iter__(self) -> Iterator[str]:
        return iter(self._masks)

    def __len__(self) -> int:
        return len(self._masks)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ChannelMask) and list(self) == list(other)
                and all(torch.equal(self._masks[k], other._masks[k]) for k in self))

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        kept = ", ".join(f"{k}: {v}/{self._masks[k].numel()}" for k, v in self.kept_per_layer().items())
        return f"ChannelMask(sparsity={self.sparsity:.3f}; kept {kept})"

    # Derived quantities
    @property
    def sizes(self) -> dict[str, int]:
        return {k: m.numel() for k, m in self._masks.items()}

    @property
    def n_channels(self) -> int:
        return sum(self.sizes.values())

    @property
    def n_kept(self) -> int:
        return sum(self.kept_per_layer().values())

    @property
    def n_pruned(self) -> int:
        return self.n_channels - self.n_kept

    @property
    def sparsity(self) -> float:
        """Fraction of all prunable channels that are pruned."""
        return self.n_pruned / self.n_channels

    def kept_per_layer(self) -> dict[str, int]:
        return {k: int(m.sum()) for k, m in self._masks.items()}

    def layer_sparsity(self) -> dict[str, float]:
        """Fraction of each layer's channels that are pruned."""
        return {k: 1.0 - int(m.sum()) / m.numel() for k, m in self._masks.items()}

    def collapsed_layers(self) -> list[str]:
        """Layers with no channel kept (the network then cannot pass any signal through them)."""
        return [k for k, m in self._masks.items() if not bool(m.any())]

    def to_vector(self) -> torch.Tensor:
        """All layers' masks concatenated in layer order: ``(n_channels,)`` bool."""
        return torch.cat(list(self._masks.values()))

    @classmethod
    def from_vector(cls, vector: torch.Tensor, sizes: Mapping[str, int]) -> "ChannelMask":
        """Inverse of :meth:`to_vector` for layers of the given sizes."""
        vector = torch.as_tensor(vector).to(torch.bool).flatten()
        if vector.numel() != sum(sizes.values()):
            raise ValueError(f"vector has {vector.numel()} entries, layers have {sum(sizes.values())}")
        return cls(dict(zip(sizes, torch.split(vector.cpu(), list(sizes.values())))))

    def hamming(self, other: "ChannelMask") -> int:
        """Number of channels on which two masks of the same layers differ."""
        if self.sizes != other.sizes:
            raise ValueError(f"masks cover different layers: {self.sizes} vs {other.sizes}")
        return int((self.to_vector() != other.to_vector()).sum())

    def key(self) -> str:
        """A short, stable string identifying the mask (its bits as hex)."""
        bits = "".join("1" if b else "0" for b in self.to_vector().tolist())
        return f"{int('1' + bits, 2):x}"

    # Checks and I/O
    def check_matches(self, model: nn.Module) -> None:
        """Raise ``ValueError`` unless the mask has exactly the model's prunable layers and sizes."""
        include_linear = any(isinstance(m, nn.Linear) for n, m in model.named_modules() if n in self._masks)
        expected = layer_sizes(model, include_linear=include_linear)
        if expected != self.sizes:
            raise ValueError(f"mask does not match {type(model).__name__}: mask layers {self.sizes}, "
                             f"model's prunable layers {expected}")

    def to_dict(self) -> dict[str, list[int]]:
        """Plain JSON-able form: layer → list of 0/1."""
        return {k: m.to(torch.int64).tolist() for k, m in self._masks.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, list[int]]) -> "ChannelMask":
        return cls({k: torch.tensor(v, dtype=torch.bool) for k, v in d.items()})

    def save(self, path: str | Path) -> None:
        """Save as a plain dict of bool tensors (atomically: written to a temporary name, renamed)."""
        save_torch(path, dict(self._masks))

    @classmethod
    def load(cls, path: str | Path) -> "ChannelMask":
        return cls(torch.load(path, weights_only=True))

    @classmethod
    def full(cls, model: nn.Module, *, include_linear: bool = False) -> "ChannelMask":
        """The mask that keeps every channel."""
        return cls({k: torch.ones(n, dtype=torch.bool)
                    for k, n in layer_sizes(model, include_linear=include_linear).items()})
