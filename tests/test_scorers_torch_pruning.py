"""Torch-Pruning's importance criteria as scorers: one score per channel, in Torch-Pruning's order."""
from __future__ import annotations

import pytest
import torch
import torch_pruning as tp

from prunegan import models
from prunegan.core.masks import prunable_layers
from prunegan.pruning import scorers, strategies


@pytest.mark.parametrize("include_linear", [False, True])
@pytest.mark.parametrize("criterion", ["magnitude", "lamp", "fpgm"])
def test_importance_has_one_score_per_channel_and_follows_torch_pruning(criterion, include_linear):
    net = models.build("lenet5", seed=2)
    layers = prunable_layers(net, include_linear=include_linear)
    scores = scorers.torch_pruning_importance(net, layers, criterion)
    assert list(scores) == list(layers)
    assert all(scores[k].shape == (m.weight.shape[0],) and torch.isfinite(scores[k]).all()
               for k, m in layers.items())
    # temperature 0: exactly the criterion's order (higher importance = kept)
    mask = strategies.prune(net, f"tp-{criterion}", 0.5, seed=0, include_linear=include_linear)
    flat = torch.cat(list(scores.values()))
    kept = mask.to_vector()
    assert flat[kept].min() >= flat[~kept].max()


def test_group_magnitude_includes_the_coupled_next_layer():
    net = models.build("lenet5", seed=0)
    layers = prunable_layers(net)
    before = scorers.torch_pruning_importance(net, layers, "magnitude")["conv1"]
    with torch.no_grad():
        net.conv2.weight[:, 3] *= 10  # conv1's channel 3 feeds these weights of conv2
    after = scorers.torch_pruning_importance(net, layers, "magnitude")["conv1"]
    assert int(torch.argmax(after)) == 3 and int(torch.argmax(before)) != 3
    assert tp.__version__.startswith("1.6")


def test_gumbel_perturbed_at_zero_is_the_log_score_and_draws_nothing():
    rng = torch.Generator().manual_seed(0)
    state = rng.get_state()
    out = scorers.gumbel_perturbed({"a": torch.tensor([1.0, 2.0])}, 0.0, rng)
    assert torch.allclose(out["a"], torch.log(torch.tensor([1.0, 2.0])))
    assert torch.equal(rng.get_state(), state)
    with pytest.raises(ValueError, match="temperature"):
        scorers.gumbel_perturbed({"a": torch.tensor([1.0])}, -1.0, rng)


def test_importance_is_remembered_per_weights_and_returned_as_copies():
    net = models.build("lenet5", seed=1)
    layers = prunable_layers(net)
    first = scorers.torch_pruning_importance(net, layers, "lamp")
    direct = scorers._torch_pruning_importance(net, layers, "lamp")
    assert all(torch.equal(first[k], direct[k]) for k in layers)
    first["conv1"].zero_()  # the caller's copy: the remembered value is unchanged
    again = scorers.torch_pruning_importance(net, layers, "lamp")
    assert torch.equal(again["conv1"], direct["conv1"])
    # the same weights in another module object hit the memo; other weights do not
    twin = models.build("lenet5", seed=1)
    assert torch.equal(scorers.torch_pruning_importance(twin, prunable_layers(twin), "lamp")["conv2"],
                       direct["conv2"])
    other = models.build("lenet5", seed=2)
    assert not torch.equal(scorers.torch_pruning_importance(other, prunable_layers(other), "lamp")["conv2"],
                           direct["conv2"])
