"""prunegan.core.masks: prunable layers and the ChannelMask type (applying masks: test_surgery.py)."""
from __future__ import annotations

import copy
import json
import pickle

import pytest
import torch
from torch import nn

from prunegan import models
from prunegan.core import masks
from prunegan.core.masks import ChannelMask
from prunegan.pruning import strategies

from toy_nets import MISMATCHED_LENET_MASKS, SMALL_CONVS, B, lenet_mask, small_net

# -------------------------------------------------------------------------------- prunable layers


def test_prunable_layers_lenet5():
    model = models.build("lenet5")
    assert list(masks.prunable_layers(model)) == ["conv1", "conv2"]
    assert list(masks.prunable_layers(model, include_linear=True)) == ["conv1", "conv2", "fc1", "fc2"]
    assert masks.layer_sizes(model) == {"conv1": 6, "conv2": 16}
    assert masks.layer_sizes(model, include_linear=True) == {"conv1": 6, "conv2": 16, "fc1": 120, "fc2": 84}


@pytest.mark.parametrize("make",
                         [lambda: models.build("lenet5"), lambda: models.build("lenet5-caffe"), small_net])
@pytest.mark.parametrize("include_linear", [False, True])
def test_prunable_layers_are_the_convs_and_hidden_linears(make, include_linear):
    model = make()
    named = list(model.named_modules())
    convs = [n for n, m in named if isinstance(m, nn.Conv2d)]
    linears = [n for n, m in named if isinstance(m, nn.Linear)]
    expected = convs + (linears[:-1] if include_linear else [])
    layers = masks.prunable_layers(model, include_linear=include_linear)
    assert sorted(layers) == sorted(expected)
    assert all(layers[n] is dict(named)[n] for n in layers)
    # the logits layer is never prunable
    assert linears[-1] not in layers
    # the mask a strategy returns has exactly these layers
    mask = strategies.prune(model, "random", 0.5, seed=0, include_linear=include_linear)
    assert list(mask) == list(layers)


def test_small_net_prunable_layers_in_module_order():
    assert list(masks.prunable_layers(small_net())) == SMALL_CONVS
    assert list(masks.prunable_layers(small_net(), include_linear=True)) == SMALL_CONVS + ["head.1"]
    assert masks.layer_sizes(small_net(), include_linear=True) == {"features.0": 4, "features.3": 8,
                                                                   "features.6": 5, "head.1": 12}


@pytest.mark.parametrize("include_linear", [False, True])
def test_model_without_prunable_layer_raises(include_linear):
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with pytest.raises(ValueError, match="no prunable layer"):
        masks.prunable_layers(model, include_linear=include_linear)
    with pytest.raises(ValueError, match="no prunable layer"):
        strategies.prune(model, "l1", 0.5, seed=0, include_linear=include_linear)
    with pytest.raises(ValueError, match="no prunable layer"):
        ChannelMask.full(model)


# --------------------------------------------------------------------------------- ChannelMask type

def test_derived_quantities():
    m = ChannelMask({"a": B(1, 0, 1, 0), "b": B(0, 0), "c": B(1, 1, 1, 0)})
    assert m.sizes == {"a": 4, "b": 2, "c": 4}
    assert m.n_channels == 10 and m.n_kept == 5 and m.n_pruned == 5
    assert m.sparsity == pytest.approx(0.5)
    assert m.kept_per_layer() == {"a": 2, "b": 0, "c": 3}
    assert m.layer_sparsity() == pytest.approx({"a": 0.5, "b": 1.0, "c": 0.25})
    assert m.collapsed_layers() == ["b"]
    assert "sparsity=0.500" in repr(m) and "b: 0/2" in repr(m)
    assert len(m) == 3 and list(m) == ["a", "b", "c"] and "b" in m and "z" not in m


def test_full_mask():
    model = models.build("lenet5")
    full = ChannelMask.full(model)
    assert full.sparsity == 0.0 and full.collapsed_layers() == []
    assert full.sizes == {"conv1": 6, "conv2": 16}
    assert ChannelMask.full(model, include_linear=True).sizes == masks.layer_sizes(model, include_linear=True)


@pytest.mark.parametrize("bad", [
    torch.tensor([1, 0, 1]),                         # int
    torch.tensor([1.0, 0.0, 1.0]),                   # float
    torch.ones(2, 3, dtype=torch.bool),              # 2-D
    torch.ones((), dtype=torch.bool),                # 0-D
    torch.zeros(0, dtype=torch.bool),                # empty
    [1, 0, 1],                                       # list of ints
])
def test_invalid_layer_mask_raises(bad):
    with pytest.raises(ValueError, match="'conv1'"):
        ChannelMask({"conv1": bad})


def test_empty_mask_raises():
    with pytest.raises(ValueError, match="at least one layer"):
        ChannelMask({})


def test_mask_is_immutable():
    m = lenet_mask()
    with pytest.raises(AttributeError):
        m._masks = {}
    with pytest.raises(AttributeError):
        m.extra = 1
    with pytest.raises(TypeError):
        m["conv1"] = B(1, 1, 1, 1, 1, 1)
    before = m.to_vector().clone()
    m["conv1"][:] = False  # changing a tensor read out of the mask does not change the mask
    src = B(1, 1, 0)
    m2 = ChannelMask({"x": src})
    src[:] = False  # nor does changing the tensor it was built from
    assert torch.equal(m.to_vector(), before)
    assert m2["x"].tolist() == [True, True, False]


def test_equality_hash_and_key():
    a, b = lenet_mask(), lenet_mask()
    assert a == b and hash(a) == hash(b) and a.key() == b.key()
    c = ChannelMask.from_vector(~a.to_vector(), a.sizes)
    assert a != c and a.key() != c.key()
    # leading pruned channels must not vanish from the key
    assert ChannelMask({"x": B(0, 1)}).key() != ChannelMask({"x": B(0, 0, 1)}).key()
    assert len({a, b, c}) == 2
    # same bits, different layer names: different masks
    assert ChannelMask({"x": B(1, 0)}) != ChannelMask({"y": B(1, 0)})
    assert a != a.to_dict()  # only a ChannelMask equals a ChannelMask


def test_key_is_the_bits_as_hex():
    # a leading 1 marks the length: bits 1,0,1,1 → 0b11011 = 0x1b
    assert ChannelMask({"x": B(1, 0, 1), "y": B(1)}).key() == "1b"
    assert ChannelMask({"x": B(0, 0)}).key() == "4"


def test_to_dict_from_dict_round_trip():
    m = lenet_mask()
    d = m.to_dict()
    assert d["conv1"] == [1, 0, 1, 1, 0, 1]
    assert ChannelMask.from_dict(json.loads(json.dumps(d))) == m


def test_save_load_round_trip(tmp_path):
    m = lenet_mask()
    path = tmp_path / "mask.pt"
    m.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.pt"]  # no temporary file left
    assert ChannelMask.load(path) == m
    raw = torch.load(path, weights_only=True)  # plain tensors, no pickled class
    assert set(raw) == {"conv1", "conv2"} and all(v.dtype == torch.bool for v in raw.values())
    m2 = ChannelMask({"conv1": B(0, 0, 0, 0, 0, 1), "conv2": torch.ones(16, dtype=torch.bool)})
    m2.save(str(path))  # overwrite, str path
    assert ChannelMask.load(str(path)) == m2


def test_vector_round_trip():
    m = lenet_mask()
    v = m.to_vector()
    assert v.dtype == torch.bool and v.shape == (22,)
    assert v[:6].tolist() == [True, False, True, True, False, True]
    assert ChannelMask.from_vector(v, m.sizes) == m
    assert ChannelMask.from_vector(v.to(torch.float32), m.sizes) == m
    with pytest.raises(ValueError, match="21"):
        ChannelMask.from_vector(v[:21], m.sizes)


def test_hamming():
    m = lenet_mask()
    v = m.to_vector()
    flipped = v.clone()
    flipped[[0, 7, 21]] = ~flipped[[0, 7, 21]]
    other = ChannelMask.from_vector(flipped, m.sizes)
    assert m.hamming(m) == 0
    assert m.hamming(other) == other.hamming(m) == 3
    with pytest.raises(ValueError, match="different layers"):
        m.hamming(ChannelMask({"conv1": B(1, 1, 1, 1, 1, 1)}))


def test_mask_survives_copy_and_pickle():
    # the engine sends masks to its worker processes pickled
    m = lenet_mask()
    for clone in (copy.copy(m), copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert isinstance(clone, ChannelMask) and clone == m
        with pytest.raises(AttributeError):
            clone.x = 1
    holder = {"mask": m}
    assert copy.deepcopy(holder)["mask"] == m


# ------------------------------------------------------------------------------------ check_matches

@pytest.mark.parametrize("bad", MISMATCHED_LENET_MASKS)
def test_mask_not_matching_model_raises(bad):
    with pytest.raises(ValueError, match="does not match"):
        ChannelMask(bad).check_matches(models.build("lenet5"))


def test_matching_masks_pass_check():
    model = models.build("lenet5")
    lenet_mask().check_matches(model)
    ChannelMask.full(model, include_linear=True).check_matches(model)
    with pytest.raises(ValueError):
        lenet_mask().check_matches(models.build("lenet5-caffe"))
