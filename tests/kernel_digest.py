"""A small generator fit whose weights fix the kernels' arithmetic (tests/test_kernels.py): two
untrained LeNet-5s, every collapse-free conv-90 % mask labelled by hand (no retraining), every channel
feature (weights, activations, Taylor scores, HRank's SVD, ablation probes), 40 steps.
``python tests/kernel_digest.py`` prints its digest."""
from __future__ import annotations

import pandas as pd
import torch

from prunegan import gan, models
from prunegan.core import counts
from prunegan.core.masks import ChannelMask, layer_sizes, prunable_layers
from prunegan.core.store import weights_digest
from prunegan.pruning.scorers import l1_norms
from prunegan.runs.bank import Bank, BankConfig
from prunegan.runs.baseline import BaselineConfig

CONFIG = gan.GanConfig(steps=40, batch_size=8, hidden=16, seed=3)


def hand_made_bank(networks: int = 2) -> Bank:
    """96 masks per network (``networks`` LeNet-5s): the one keeping each layer's largest-|w| channel labelled
    0.9, the others 0.5."""
    nets = [models.build("lenet5", seed=s) for s in range(networks)]
    sizes = layer_sizes(nets[0])
    labels = {"method": "hand-made", "label": "hand-made", "strategy": "hand-made", "temperature": None,
              "min_channels_per_layer": 1, "draw": 0, "duplicate": False, "n_seeds": 1, "collapsed": False}
    rows = []
    for i, net in enumerate(nets):
        top = [int(v.argmax()) for v in l1_norms(prunable_layers(net)).values()]
        for bits in counts.all_masks(list(sizes.values()), 0.9, 1):
            m = ChannelMask.from_vector(torch.tensor(bits), sizes)
            kept = [int(torch.nonzero(m[k]).flatten()[0]) for k in m]
            rows.append({"baseline": i, "sparsity": 0.9, "key": m.key(), "mask": m.to_dict(),
                         "retrained_acc": 0.9 if kept == top else 0.5, **labels})
    config = BankConfig(baselines=tuple(BaselineConfig(init_seed=i) for i in range(networks)),
                        sparsities=(0.9,))
    return Bank(config, [type("B", (), {"model": n})() for n in nets], pd.DataFrame(rows))


def digest() -> str:
    """The fitted generator's weights digest (:func:`prunegan.core.store.weights_digest`)."""
    return weights_digest(gan.fit(hand_made_bank(), CONFIG, progress=False, cache=False).net)


if __name__ == "__main__":
    print(digest())
