"""The mask-evaluation engine: prune → evaluate → retrain → evaluate, the one code path that sweeps,
trials, the mask bank and the GAN's evaluation all use.

A mask is retrained in its *compact* form (channels physically removed), so a 90 %-sparse network
costs a fraction of the dense one; ``form="masked"`` retrains the masked dense network instead and
gives the same result up to floating-point rounding (tested).
"""
from __future__ import annotations

import copy
import time

from torch import nn

from . import masks as masks_mod
from .data import Dataset
from .masks import ChannelMask
from .train import TrainConfig, evaluate, fit

FORMS = ("compact", "masked")


def pruned_network(model: nn.Module, mask: ChannelMask, form: str = "compact") -> nn.Module:
    """A pruned copy of ``model``: physically smaller (``"compact"``) or masked dense (``"masked"``)."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    return masks_mod.compact(model, mask) if form == "compact" else masks_mod.apply(model, mask)


def evaluate_mask(model: nn.Module, mask: ChannelMask, data: Dataset, retrain: TrainConfig, *,
                  form: str = "compact") -> dict:
    """Prune the trained ``model`` with ``mask``, retrain a copy with ``retrain`` and return
    ``{"pruned_acc", "retrained_acc" (test accuracy in [0, 1]), "macs", "params" (of the compact
    network, one 1×28×28 image), "seconds"}``. ``model`` is not changed."""
    start = time.perf_counter()
    net = pruned_network(model, mask, form)
    small = net if form == "compact" else masks_mod.compact(model, mask)
    macs, params = masks_mod.count(small)
    pruned_acc = evaluate(net, data)
    fit(net, data, retrain, eval_every_epoch=False)
    retrained_acc = evaluate(net, data)
    return {"pruned_acc": pruned_acc, "retrained_acc": retrained_acc, "macs": macs, "params": params,
            "seconds": time.perf_counter() - start}


def retrained(model: nn.Module, mask: ChannelMask, data: Dataset, retrain: TrainConfig, *,
              form: str = "compact") -> nn.Module:
    """The pruned and retrained network itself (for inspection; ``evaluate_mask`` for numbers)."""
    net = pruned_network(copy.deepcopy(model), mask, form)
    fit(net, data, retrain, eval_every_epoch=False)
    return net
