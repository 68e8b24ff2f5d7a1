"""Feature signal on mask landscapes (issue 13): channel values, within-layer Spearman per network,
the summary with CIs, selection by threshold, leave-one-network-out, and input errors. The landscapes
are synthetic, built here, so the right answer is known."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

from prunegan.analysis import signal
from prunegan.gan.features import ChannelFeatures

SIZES = (6, 5, 4)
#: every mask of 15 channels: each channel kept in half of them, each pair together in a quarter, so a
#: channel's value is exactly the additive landscape's own weight plus a constant
MASKS = np.array(list(itertools.product((0, 1), repeat=sum(SIZES))), dtype=float)
NAMES = ("informative", "weak", "noise", "depth")


def network(seed: int, weak_noise: float = 0.7):
    """One synthetic network: channel weights ``v`` (a permutation of an even grid per layer), an
    additive landscape ``acc = 0.5 + 0.02·Σ kept·v + noise``, and features: ``informative = exp(3v)``
    (monotone in v), ``weak = v + N(0, weak_noise)``, ``noise`` unrelated, ``depth`` constant per layer."""
    rng = np.random.default_rng(seed)
    v = np.concatenate([rng.permutation(np.linspace(0, 1, s)) for s in SIZES])
    acc = 0.5 + 0.02 * MASKS @ v + rng.normal(0, 0.01, len(MASKS))
    depth = np.repeat(np.arange(len(SIZES)) / (len(SIZES) - 1), SIZES)
    x = np.stack([np.exp(3 * v), v + rng.normal(0, weak_noise, len(v)), rng.normal(size=len(v)), depth], 1)
    feats = ChannelFeatures(NAMES, tuple(f"l{i}" for i in range(len(SIZES))), SIZES,
                            torch.tensor(x, dtype=torch.float32),
                            torch.repeat_interleave(torch.arange(len(SIZES)), torch.tensor(SIZES)))
    return feats, acc, v


@pytest.fixture(scope="module")
def examples():
    out = []
    for seed in range(12):
        feats, acc, _ = network(seed)
        out.append((f"net{seed}", feats, torch.tensor(MASKS), acc))
    return out


@pytest.fixture(scope="module")
def per_network(examples):
    return signal.feature_signal(examples)


@pytest.fixture(scope="module")
def table(per_network):
    return signal.signal_table(per_network)


# ------------------------------------------------------------------------------ channel values
def test_channel_values_by_hand():
    masks = np.array([[1, 0, 1, 1, 0], [1, 1, 0, 1, 0], [0, 1, 1, 0, 0]])
    acc = np.array([0.9, 0.6, 0.3])
    v = signal.channel_values(torch.tensor(masks), acc, {"a": 2, "b": 3})
    assert list(v.columns) == ["layer", "channel", "value", "n_keep"]
    assert v["layer"].tolist() == [0, 0, 1, 1, 1] and v["channel"].tolist() == [0, 1, 0, 1, 2]
    assert v["value"].iloc[:4].tolist() == pytest.approx([0.75, 0.45, 0.6, 0.75])
    assert np.isnan(v["value"].iloc[4]) and v["n_keep"].tolist() == [2, 2, 2, 2, 0]


def test_values_of_the_additive_landscape_follow_its_weights():
    feats, acc, v = network(0)
    values = signal.channel_values(MASKS, acc, SIZES)["value"].to_numpy()
    assert values == pytest.approx(0.5 + 0.01 * v.sum() + 0.01 * v, abs=1e-3)


@pytest.mark.parametrize("kw, needle", [
    (dict(masks=np.ones((3, 4))), "masks have 4 columns"),
    (dict(masks=np.full((3, 5), 0.5)), "masks must hold only 0 and 1"),
    (dict(masks=np.ones(5)), "masks must be 2-dimensional"),
    (dict(masks=np.ones((0, 5)), accuracy=np.ones(0)), "masks must hold at least one mask"),
    (dict(accuracy=np.ones(4)), "accuracy has 4 values for 3 masks"),
    (dict(accuracy=np.array([0.5, np.nan, 0.5])), "accuracy must be finite"),
    (dict(sizes=(2, 0, 3)), "sizes must be positive"),
    (dict(sizes=(2.5, 2.5)), "sizes must be positive integer"),
    (dict(sizes=None), "sizes must be"),
])
def test_channel_values_reject_bad_input(kw, needle):
    args = dict(masks=np.ones((3, 5)), accuracy=np.ones(3), sizes=(2, 3)) | kw
    with pytest.raises(ValueError, match=needle):
        signal.channel_values(**args)


# ------------------------------------------------------------------------------ signal per feature
def test_per_network_table(per_network, examples):
    assert list(per_network.columns) == ["feature", "network", "spearman", "n_layers", "n_channels"]
    assert len(per_network) == len(NAMES) * len(examples)
    assert set(per_network["n_layers"]) == {3} and set(per_network["n_channels"]) == {15}


def test_a_monotone_feature_has_spearman_one_and_is_selected(per_network, table):
    rho = per_network.loc[per_network["feature"] == "informative", "spearman"]
    assert rho.min() > 0.99
    row = table.iloc[0]
    assert row["feature"] == "informative" and row["mean"] > 0.99 and row["ci_low"] > 0 and row["signal"]
    assert "informative" in signal.select_features(table)


def test_noise_and_layer_constants_are_not_selected(per_network, table):
    t = table.set_index("feature")
    assert not t.loc["noise", "signal"] and t.loc["noise", "ci_low"] < 0 < t.loc["noise", "ci_high"]
    # a feature constant within every layer cannot rank channels there: exactly 0, never selected
    assert (per_network.loc[per_network["feature"] == "depth", "spearman"] == 0).all()
    assert not t.loc["depth", "signal"]
    assert signal.select_features(table) == ["informative", "weak"]


def test_the_table_is_sorted_by_absolute_mean(table):
    assert list(table.columns) == ["feature", "n", "mean", "ci_low", "ci_high", "signal"]
    assert (np.diff(table["mean"].abs()) <= 0).all() and set(table["n"]) == {12}


def test_min_abs_threshold_on_both_sides(table):
    """The weak feature carries a consistent but partial signal: kept below its mean, dropped above."""
    weak = table.set_index("feature").loc["weak"]
    assert 0.2 < weak["mean"] < 0.85 and weak["signal"]
    assert "weak" in signal.select_features(table, min_abs=weak["mean"] - 0.02)
    assert "weak" not in signal.select_features(table, min_abs=weak["mean"] + 0.02)
    assert signal.select_features(table, min_abs=weak["mean"] + 0.02) == ["informative"]


def test_a_negative_signal_counts_too(examples):
    flipped = [(n, f.select(("informative",)), m, a) for n, f, m, a in examples]
    flipped = [(n, ChannelFeatures(("minus",), f.layers, f.sizes, -f.x, f.layer_index), m, a)
               for n, f, m, a in flipped]
    t = signal.signal_table(signal.feature_signal(flipped))
    assert t["mean"].iloc[0] < -0.99 and t["signal"].iloc[0]
    assert signal.select_features(t, min_abs=0.5) == ["minus"]


def test_one_network_has_no_ci(examples):
    t = signal.signal_table(signal.feature_signal(examples[:1], ["informative"]))
    assert t["n"].iloc[0] == 1 and np.isnan(t["ci_low"].iloc[0]) and not t["signal"].iloc[0]


def test_small_and_flat_layers_are_left_out():
    """A 2-channel layer and a layer whose channels all have one value are not ranked."""
    sizes = (2, 4, 3)
    masks = np.array(list(itertools.product((0, 1), repeat=9)), dtype=float)
    v = np.array([0.1, 0.9, 0.0, 0.3, 0.6, 1.0, 0.5, 0.5, 0.5])
    acc = 0.5 + 0.02 * masks @ v
    x = torch.tensor(v, dtype=torch.float32)[:, None]
    feats = ChannelFeatures(("v",), ("a", "b", "c"), sizes, x,
                            torch.repeat_interleave(torch.arange(3), torch.tensor(sizes)))
    row = signal.feature_signal([("n", feats, masks, acc)]).iloc[0]
    assert row["n_layers"] == 1 and row["n_channels"] == 4 and row["spearman"] == pytest.approx(1.0)
    flat = ChannelFeatures(("v",), ("c",), (3,), x[-3:], torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="has no layer of >= 3 channels"):
        signal.feature_signal([("n", flat, masks[:, -3:], acc)])


# ------------------------------------------------------------------------------ leave one network out
def test_lono_recovers_the_informative_feature_and_not_noise(examples):
    good = signal.lono(examples, ["informative"])
    assert list(good.columns) == ["feature", "network", "spearman", "n_layers", "n_channels"]
    assert good["network"].tolist() == [e[0] for e in examples] and (good["feature"] == "informative").all()
    assert good["spearman"].min() > 0.99
    noise = signal.signal_table(signal.lono(examples, ["noise"])).iloc[0]
    assert abs(noise["mean"]) < 0.3 and not noise["signal"]
    both = signal.lono(examples, ["informative", "noise", "depth"])
    assert (both["feature"] == "informative+noise+depth").all() and both["spearman"].mean() > 0.9


def test_lono_never_reads_the_held_out_network(examples):
    """Two networks whose feature points opposite ways: each is predicted by the other's map alone, so
    each ranks its channels exactly backwards (a fit that read the held-out network would not)."""
    n, f, m, a = examples[1]
    flipped = ChannelFeatures(f.names, f.layers, f.sizes, -f.x, f.layer_index)
    out = signal.lono([examples[0], (n, flipped, m, a)], ["informative"])
    assert out["spearman"].tolist() == pytest.approx([-1.0, -1.0], abs=1e-9)
    assert signal.feature_signal([examples[0], (n, flipped, m, a)], ["informative"])["spearman"].tolist() == \
        pytest.approx([1.0, -1.0], abs=1e-9)


@pytest.mark.parametrize("bad, needle", [
    ([], "examples must be a non-empty"),
    ("abc", "examples must be a non-empty"),
    ([("n", "not features", np.ones((2, 15)), np.ones(2))], r"examples\[0\] must be"),
])
def test_signal_rejects_bad_examples(bad, needle):
    with pytest.raises(ValueError, match=needle):
        signal.feature_signal(bad)
    with pytest.raises(ValueError, match=needle):
        signal.lono(bad, ["informative"])


def test_signal_rejects_bad_features_and_networks(examples):
    with pytest.raises(ValueError, match="features \\['nope'\\]"):
        signal.feature_signal(examples, ["nope"])
    with pytest.raises(ValueError, match="features must be a non-empty"):
        signal.lono(examples, [])
    with pytest.raises(ValueError, match="network id 'net0' is not a distinct"):
        signal.feature_signal([examples[0], examples[0]])
    with pytest.raises(ValueError, match="at least 2 networks"):
        signal.lono(examples[:1], ["informative"])
    n, f, m, a = examples[0]
    with pytest.raises(ValueError, match="masks have 14 columns"):
        signal.feature_signal([(n, f, m[:, 1:], a)])
    with pytest.raises(ValueError, match="accuracy has"):
        signal.feature_signal([(n, f, m, a[1:])])
    with pytest.raises(ValueError, match="ridge"):
        signal.lono(examples, ["informative"], ridge=-1)


def test_table_and_selection_reject_bad_input(table):
    with pytest.raises(ValueError, match="per_network"):
        signal.signal_table(pd.DataFrame({"feature": ["a"]}))
    with pytest.raises(ValueError, match="per_network"):
        signal.signal_table(pd.DataFrame(columns=["feature", "spearman"]))
    with pytest.raises(ValueError, match="min_abs"):
        signal.select_features(table, min_abs=-0.1)
    with pytest.raises(ValueError, match="table"):
        signal.select_features(pd.DataFrame({"feature": ["a"]}))
