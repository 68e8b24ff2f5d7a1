"""Small networks and masks shared by the mask and surgery tests (not a test module)."""
from __future__ import annotations

import torch
from torch import nn

from prunegan.core.masks import ChannelMask


def B(*bits) -> torch.Tensor:
    """A bool tensor from 0/1 bits: ``B(1, 0, 1)``."""
    return torch.tensor(bits, dtype=torch.bool)


class SmallNet(nn.Module):
    """A network that is not LeNet: three convs (one with avg pooling), nested containers."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 14x14
            nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),   # 7x7
            nn.Conv2d(8, 5, 3), nn.ReLU(),                               # 5x5
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(5 * 5 * 5, 12), nn.ReLU(), nn.Linear(12, 10))

    def forward(self, x):
        return self.head(self.features(x))


SMALL_CONVS = ["features.0", "features.3", "features.6"]


def small_net(seed: int = 0) -> SmallNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SmallNet()
    # non-zero biases everywhere, so "bias included" is really tested
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.bias.uniform_(0.1, 0.5, generator=torch.Generator().manual_seed(seed))
    return net


def tanh_net(seed: int = 0) -> nn.Sequential:
    """Tanh has a non-zero gradient at 0 (ReLU's is 0), so without the mask's hook a pruned channel
    would come back to life while retraining: this network tests that the hook keeps it dead."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2),   # 14x14
                             nn.Conv2d(4, 6, 3), nn.Tanh(), nn.AvgPool2d(2),              # 6x6
                             nn.Flatten(), nn.Linear(6 * 6 * 6, 16), nn.Tanh(), nn.Linear(16, 10))


def lenet_mask() -> ChannelMask:
    """A fixed mask of LeNet5's two convs (conv1: 4 of 6 kept, conv2: 10 of 16 kept)."""
    return ChannelMask({"conv1": B(1, 0, 1, 1, 0, 1), "conv2": torch.arange(16) % 3 != 0})


#: Masks that do not fit LeNet5 (``include_linear`` either way), with what is wrong.
MISMATCHED_LENET_MASKS = [
    {"conv1": B(1, 1, 1, 1, 1), "conv2": torch.ones(16, dtype=torch.bool)},        # wrong length
    {"conv1": B(1, 1, 1, 1, 1, 1)},                                                 # missing layer
    {"conv1": B(1, 1, 1, 1, 1, 1), "conv2": torch.ones(16, dtype=torch.bool),
     "conv3": B(1, 1)},                                                             # extra layer
    {"conv1": B(1, 1, 1, 1, 1, 1), "convX": torch.ones(16, dtype=torch.bool)},      # wrong name
    {"conv1": B(1, 1, 1, 1, 1, 1), "conv2": torch.ones(16, dtype=torch.bool),
     "fc1": torch.ones(120, dtype=torch.bool)},                                     # fc2 missing
    {"conv1": B(1, 1, 1, 1, 1, 1), "conv2": torch.ones(16, dtype=torch.bool),
     "fc1": torch.ones(120, dtype=torch.bool), "fc2": torch.ones(84, dtype=torch.bool),
     "out": torch.ones(10, dtype=torch.bool)},                                      # logits layer
]


def mean_abs_weight(model: nn.Module, names) -> dict[str, torch.Tensor]:
    """Independent L1 score: mean |w| over each output channel's weights."""
    layers = dict(model.named_modules())
    return {n: torch.stack([layers[n].weight[c].abs().mean()
                            for c in range(layers[n].weight.shape[0])]).detach()
            for n in names}
