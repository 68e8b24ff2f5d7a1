"""Which channel features predict a channel's value, measured on exhaustive mask landscapes.

A channel's *value* is its landscape marginal: the mean accuracy of the masks that keep it
(:func:`channel_values`). A feature's *signal* on one network is the Spearman rank correlation
between the feature and the value computed within each layer (layers of ≥ 3 channels whose values
are not all equal), averaged over those layers weighted by their channel count
(:func:`feature_signal`); :func:`signal_table` summarises it over networks with the book's CI
(:func:`prunegan.analysis.stats.mean_ci`) and :func:`select_features` keeps the features whose CI
excludes 0. :func:`lono` judges a feature *set* leave-one-network-out, so a choice never reads the
network it is judged on.

An *example* is ``(network id, channel features, masks (M, C) 0/1, accuracy (M,))`` (the features: a
:class:`prunegan.gan.features.ChannelFeatures`, or anything with its ``names``, ``x`` and ``sizes``)
with the masks' columns in the features' channel order (:meth:`prunegan.core.masks.ChannelMask.to_vector`).
"""
from __future__ import annotations

from typing import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sstats

from ..core.validate import check_number
from .stats import mean_ci

#: Layers with fewer channels than this are left out of every within-layer correlation.
MIN_LAYER_CHANNELS = 3


def _array(name: str, value, ndim: int) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().to("cpu").numpy()
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {type(value).__name__}") from exc
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (it holds NaN or inf)")
    return a


def _sizes(sizes) -> list[int]:
    if isinstance(sizes, Mapping):
        sizes = list(sizes.values())
    try:
        out = [int(s) for s in sizes]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sizes must be channel counts per layer, got {sizes!r}") from exc
    if not out or any(s < 1 for s in out) or any(s != float(t) for s, t in zip(out, sizes)):
        raise ValueError(f"sizes must be positive integer channel counts per layer, got {sizes!r}")
    return out


def channel_values(masks, accuracy, sizes) -> pd.DataFrame:
    """One row per channel (``layer`` index, ``channel``, ``value``, ``n_keep``): ``value`` is the
    mean of ``accuracy`` (``(M,)``, any unit) over the masks (``(M, C)`` 0/1, layer order, tensor or
    array) that keep the channel, NaN when none does; ``n_keep`` how many do. ``sizes``: channels per
    layer (a sequence or a ``{layer: size}`` mapping) summing to ``C``."""
    m = _array("masks", masks, 2)
    acc = _array("accuracy", accuracy, 1)
    sizes = _sizes(sizes)
    if len(m) == 0:
        raise ValueError("masks must hold at least one mask, got shape (0, C)")
    if not np.isin(m, (0.0, 1.0)).all():
        raise ValueError("masks must hold only 0 and 1 (1 = channel kept)")
    if m.shape[1] != sum(sizes):
        raise ValueError(f"masks have {m.shape[1]} columns but sizes {sizes} sum to {sum(sizes)} channels")
    if len(acc) != len(m):
        raise ValueError(f"accuracy has {len(acc)} values for {len(m)} masks")
    n_keep = m.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(n_keep > 0, (m * acc[:, None]).sum(0) / n_keep, np.nan)
    return pd.DataFrame({"layer": np.repeat(np.arange(len(sizes)), sizes),
                         "channel": np.concatenate([np.arange(s) for s in sizes]),
                         "value": value, "n_keep": n_keep.astype(int)})


# ------------------------------------------------------------------------------ within-layer ranks
def _usable_layers(values: pd.DataFrame) -> list[np.ndarray]:
    """Row indices of each layer that enters a within-layer correlation: channels some mask keeps,
    ≥ :data:`MIN_LAYER_CHANNELS` of them, values not all equal."""
    out = []
    for _, g in values.groupby("layer", sort=True):
        g = g[np.isfinite(g["value"])]
        if len(g) >= MIN_LAYER_CHANNELS and np.ptp(g["value"].to_numpy()) > 0:
            out.append(g.index.to_numpy())
    return out


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho (average ranks for ties); 0 when either side is constant (no ranking to read)."""
    rx, ry = sstats.rankdata(x), sstats.rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = np.sqrt((rx ** 2).sum() * (ry ** 2).sum())
    return float((rx * ry).sum() / den) if den > 0 else 0.0


def _layer_spearman(x: np.ndarray, value: np.ndarray, layers: list[np.ndarray]) -> float:
    rhos = [_spearman(x[i], value[i]) for i in layers]
    return float(np.average(rhos, weights=[len(i) for i in layers]))


def _check_examples(examples, features) -> tuple[list[tuple], tuple[str, ...]]:
    """Validated examples as ``(network, feats, values frame, usable layers)`` and the feature
    names."""
    if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence) or len(examples) == 0:
        raise ValueError("examples must be a non-empty list of "
                         "(network id, ChannelFeatures, masks, accuracy)")
    out, seen = [], set()
    for k, ex in enumerate(examples):
        is_feats = len(ex) == 4 and all(hasattr(ex[1], a) for a in ("names", "x", "sizes")) \
            if isinstance(ex, (tuple, list)) else False
        if not is_feats:
            raise ValueError(f"examples[{k}] must be (network id, ChannelFeatures, masks, accuracy), "
                             f"got {ex!r:.80}")
        net, feats, masks, acc = ex
        if not isinstance(net, Hashable) or net in seen:
            raise ValueError(f"examples: network id {net!r} is not a distinct hashable id")
        seen.add(net)
        values = channel_values(masks, acc, feats.sizes)
        layers = _usable_layers(values)
        if not layers:
            raise ValueError(f"examples: network {net!r} has no layer of >= {MIN_LAYER_CHANNELS} "
                             "channels whose values differ (nothing to rank)")
        out.append((net, feats, values, layers))
    names = out[0][1].names if features is None else features
    if isinstance(names, str) or not isinstance(names, Sequence) or len(names) == 0:
        raise ValueError(f"features must be a non-empty sequence of feature names, got {features!r}")
    for net, feats, _, _ in out:
        unknown = [f for f in names if f not in feats.names]
        if unknown:
            raise ValueError(f"features {unknown} are not among network {net!r}'s channel features "
                             f"({', '.join(feats.names)})")
    return out, tuple(names)


def _column(feats, name: str) -> np.ndarray:
    return feats.x[:, feats.names.index(name)].detach().to("cpu").numpy().astype(float)


# ------------------------------------------------------------------------------ public
def feature_signal(examples, features: Sequence[str] | None = None) -> pd.DataFrame:
    """Per (``feature``, ``network``): ``spearman``, the within-layer rank correlation of the feature
    with the channel value averaged over usable layers weighted by channel count (a feature constant
    within a layer counts 0 there), ``n_layers`` and ``n_channels`` used. ``features``: names to
    measure (default: every feature of the first example)."""
    checked, names = _check_examples(examples, features)
    rows = []
    for name in names:
        for net, feats, values, layers in checked:
            rows.append({"feature": name, "network": net,
                         "spearman": _layer_spearman(_column(feats, name), values["value"].to_numpy(),
                                                     layers),
                         "n_layers": len(layers), "n_channels": int(sum(len(i) for i in layers))})
    return pd.DataFrame(rows, columns=["feature", "network", "spearman", "n_layers", "n_channels"])


def signal_table(per_network: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per ``feature`` of a :func:`feature_signal` (or :func:`lono`) table: ``n`` networks, ``mean``
    Spearman with its ``ci_low`` / ``ci_high`` (:func:`~prunegan.analysis.stats.mean_ci`), and
    ``signal`` = the CI excludes 0 (False for one network); sorted by |mean|, largest first."""
    need = {"feature", "spearman"}
    if not isinstance(per_network, pd.DataFrame) or not need <= set(per_network.columns) or per_network.empty:
        raise ValueError("per_network must be a non-empty table with columns 'feature' and 'spearman' "
                         "(the output of feature_signal or lono)")
    rows = []
    for name, g in per_network.groupby("feature", sort=False):
        mean, low, high = mean_ci(g["spearman"], confidence)
        rows.append({"feature": name, "n": len(g), "mean": mean, "ci_low": low, "ci_high": high,
                     "signal": bool(low > 0 or high < 0)})  # NaN bounds compare False
    table = pd.DataFrame(rows, columns=["feature", "n", "mean", "ci_low", "ci_high", "signal"])
    order = np.argsort(-table["mean"].abs().to_numpy(), kind="stable")
    return table.iloc[order].reset_index(drop=True)


def select_features(table: pd.DataFrame, min_abs: float = 0.0) -> list[str]:
    """Names of the features of a :func:`signal_table` whose CI excludes 0 and whose |mean| Spearman
    is at least ``min_abs``, in the table's order."""
    min_abs = check_number("min_abs", min_abs, 0, 1)
    if not isinstance(table, pd.DataFrame) or not {"feature", "mean", "signal"} <= set(table.columns):
        raise ValueError("table must be a signal_table output (columns 'feature', 'mean', 'signal')")
    keep = table["signal"].astype(bool) & (table["mean"].abs() >= min_abs)
    return [str(f) for f in table.loc[keep, "feature"]]


def lono(examples, features: Sequence[str], *, ridge: float = 1.0) -> pd.DataFrame:
    """Leave-one-network-out test of a feature set: for each network, a ridge map (penalty ``ridge`` on
    the columns standardised on the training channels, intercept free) from ``features`` to the
    within-layer z-scored channel value is fitted on the usable layers of every *other* network, and
    the held-out network's channels are predicted. Per held-out ``network``: the within-layer
    ``spearman`` of prediction vs value (as :func:`feature_signal`), ``n_layers``, ``n_channels``;
    ``feature`` holds the set's label ``"a+b"`` so :func:`signal_table` summarises it. Needs ≥ 2
    networks."""
    ridge = check_number("ridge", ridge, 0)
    if features is None:
        raise ValueError("lono needs features: the names of the feature set to judge")
    checked, names = _check_examples(examples, features)
    if len(checked) < 2:
        raise ValueError(f"examples: leave-one-network-out needs at least 2 networks, got {len(checked)}")
    design = []
    for net, feats, values, layers in checked:
        idx = np.concatenate(layers)
        x = np.stack([_column(feats, f) for f in names], 1)
        v = values["value"].to_numpy()
        y = np.zeros(len(v))
        for i in layers:
            sd = v[i].std()
            y[i] = (v[i] - v[i].mean()) / sd
        design.append((x, v, y, idx, layers))
    label = "+".join(names)
    rows = []
    for h, (net, _, _, _) in enumerate(checked):
        xs = np.concatenate([d[0][d[3]] for k, d in enumerate(design) if k != h])
        ys = np.concatenate([d[2][d[3]] for k, d in enumerate(design) if k != h])
        mu, sd = xs.mean(0), xs.std(0)
        sd = np.where(sd > 1e-12, sd, 1.0)
        z = (xs - mu) / sd
        beta = np.linalg.solve(z.T @ z + ridge * np.eye(z.shape[1]), z.T @ (ys - ys.mean()))
        x, v, _, idx, layers = design[h]
        pred = ((x - mu) / sd) @ beta
        rows.append({"feature": label, "network": net, "spearman": _layer_spearman(pred, v, layers),
                     "n_layers": len(layers), "n_channels": int(len(idx))})
    return pd.DataFrame(rows, columns=["feature", "network", "spearman", "n_layers", "n_channels"])
