"""Networks by name: ``build("lenet5")`` (the study's 6-16-120-84) and ``build("lenet5-caffe")``.

Every model takes ``(N, 1, 28, 28)`` images and returns ``(N, 10)`` logits.
"""
from __future__ import annotations

import torch
from torch import nn

from .core.registry import Registry

MODELS: Registry = Registry("model")


class LeNet5(nn.Module):
    """Classic LeNet-5 for 28×28 inputs: conv 6 (5×5, pad 2) → pool → conv 16 (5×5) → pool →
    fc 120 → fc 84 → fc 10, ReLU activations, max pooling."""

    def __init__(self, num_classes: int = 10, conv: tuple[int, int] = (6, 16),
                 hidden: tuple[int, int] = (120, 84), padding: int = 2) -> None:
        super().__init__()
        side = (28 + 2 * padding - 4) // 2  # after conv1 + pool
        side = (side - 4) // 2  # after conv2 + pool
        self.conv1 = nn.Conv2d(1, conv[0], 5, padding=padding)
        self.conv2 = nn.Conv2d(conv[0], conv[1], 5)
        self.pool = nn.MaxPool2d(2)
        self.act = nn.ReLU()
        width = conv[1] * side * side
        for i, h in enumerate(hidden, start=1):
            setattr(self, f"fc{i}", nn.Linear(width, h))
            width = h
        self.hidden = len(hidden)
        self.out = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        x = torch.flatten(x, 1)
        for i in range(1, self.hidden + 1):
            x = self.act(getattr(self, f"fc{i}")(x))
        return self.out(x)


@MODELS.register("lenet5")
def lenet5(num_classes: int = 10) -> nn.Module:
    """The study's LeNet-5: conv 6, conv 16, fc 120, fc 84 (22 conv channels, 61,706 parameters)."""
    return LeNet5(num_classes, conv=(6, 16), hidden=(120, 84), padding=2)


@MODELS.register("lenet5-caffe")
def lenet5_caffe(num_classes: int = 10) -> nn.Module:
    """Caffe's LeNet-5 variant, the pruning literature's benchmark: conv 20, conv 50 (no padding),
    fc 500 (70 conv channels, 431,080 parameters)."""
    return LeNet5(num_classes, conv=(20, 50), hidden=(500,), padding=0)


def build(name: str, *, num_classes: int = 10, seed: int = 0) -> nn.Module:
    """A freshly initialised model; ``seed`` fixes the initial weights without touching global RNG."""
    builder = MODELS.get(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder(num_classes)


def names() -> list[str]:
    return MODELS.names()
