"""Applying a :class:`~prunegan.core.masks.ChannelMask` to a network.

``apply`` gives a masked copy that behaves exactly as if the pruned channels were deleted (for
conv / pooling / activation / linear networks: the next operation must map 0 to 0, which BatchNorm
and Sigmoid do not); ``compact`` deletes them physically with torch-pruning's dependency graph;
``count`` gives MACs and parameters of a network.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..core.masks import ChannelMask

#: Input shape used to trace networks and count MACs: one 28×28 grey image.
INPUT_SHAPE = (1, 1, 28, 28)


def _zero_pruned_outputs(module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor:
    """Forward hook: multiply the layer's output channels by its ``channel_mask`` buffer."""
    shape = (1, -1) + (1,) * (output.dim() - 2)
    return output * module.channel_mask.view(shape).to(output.dtype)


def _attach(layer: nn.Module, keep: torch.Tensor) -> None:
    keep = keep.to(layer.weight.device)
    with torch.no_grad():
        layer.weight[~keep] = 0.0
        if layer.bias is not None:
            layer.bias[~keep] = 0.0
    layer.register_buffer("channel_mask", keep.to(layer.weight.dtype))
    layer.register_forward_hook(_zero_pruned_outputs)


def apply(model: nn.Module, mask: ChannelMask) -> nn.Module:
    """A copy of ``model`` whose pruned channels output exactly zero (weights and bias zeroed, and a
    forward hook that keeps them at zero while retraining: their gradients are zero too).

    For conv / pooling / activation / linear networks this equals deleting the channels
    (see :func:`compact`). The input model is not changed."""
    mask.check_matches(model)
    masked = copy.deepcopy(model)
    layers = dict(masked.named_modules())
    for name in mask:
        _attach(layers[name], mask[name])
    return masked


def compact(model: nn.Module, mask: ChannelMask, *, input_shape: tuple[int, ...] = INPUT_SHAPE) -> nn.Module:
    """A copy of ``model`` with the pruned channels physically removed (torch-pruning's dependency
    graph also removes the matching input channels / features downstream).

    A collapsed layer (nothing kept) cannot have zero channels: one channel stays, masked to zero,
    so the outputs still equal those of :func:`apply`."""
    import torch_pruning as tp

    mask.check_matches(model)
    small = copy.deepcopy(model)
    device = next(small.parameters()).device
    with torch.enable_grad():  # torch-pruning traces with autograd: works under torch.no_grad() too
        graph = tp.DependencyGraph().build_dependency(small,
                                                      example_inputs=torch.zeros(input_shape, device=device))
    layers = dict(small.named_modules())
    collapsed = set(mask.collapsed_layers())
    for name in mask:
        keep = mask[name]
        drop = torch.nonzero(~keep).flatten().tolist()
        if name in collapsed:
            drop = drop[1:]  # keep channel 0, zeroed below
        if not drop:
            continue
        layer = layers[name]
        fn = tp.prune_conv_out_channels if isinstance(layer, nn.Conv2d) else tp.prune_linear_out_channels
        graph.get_pruning_group(layer, fn, idxs=drop).prune()
    for name in collapsed:
        _attach(layers[name], torch.zeros(1, dtype=torch.bool))
    return small


def count(model: nn.Module, *, input_shape: tuple[int, ...] = INPUT_SHAPE) -> tuple[int, int]:
    """``(MACs, parameters)`` of one forward pass of ``model`` (use it on a :func:`compact` network)."""
    import torch_pruning as tp

    device = next(model.parameters()).device
    macs, params = tp.utils.count_ops_and_params(model, torch.zeros(input_shape, device=device))
    return int(macs), int(params)
