"""Tables of a paired comparison (Part 2's protocol) and the statistics its targets judge.

A *protocol frame* has one row per retrained mask: ``setting``, ``network``, ``sparsity``, ``method``,
``label``, ``trial`` (pair index: masks with the same trial share their retraining seed; a learned
method's trial ``i`` comes from its seed-``i`` instance), ``retrained_acc`` (test accuracy), ``key``,
``collapsed``, ``seconds``, ``propose_seconds``. Accuracies are fractions; differences are given in
accuracy points (× 100).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from .stats import mean_ci, paired_difference

CELL = ["setting", "network", "sparsity"]


def per_trial(df: pd.DataFrame, method: str) -> pd.Series:
    """``method``'s retrained accuracy per trial (the mean where a trial has several rows)."""
    return df[df["method"] == method].groupby("trial")["retrained_acc"].mean()


#: Cost columns of a protocol frame (:func:`prunegan.runs.runner.rows_to_frame`): the compact network's
#: MACs and parameters over the dense network's, in [0, 1].
COST = ("macs_kept", "params_kept")


def cell_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, network, sparsity, method): masks, distinct masks, collapse share, retrained
    accuracy mean with its 95 % CI, and the mean share of MACs and parameters its masks keep
    (``macs_kept``, ``params_kept``; NaN where the frame has no such column)."""
    rows = []
    for key, g in df.groupby([*CELL, "method"], sort=False):
        mean, lo, hi = mean_ci(g["retrained_acc"])
        rows.append({**dict(zip([*CELL, "method"], key)), "label": g["label"].iloc[0], "n": len(g),
                     "distinct": g["key"].nunique(), "collapse_rate": float(g["collapsed"].mean()),
                     "mean": mean, "ci_low": lo, "ci_high": hi,
                     **{c: float(g[c].mean()) if c in g else float("nan") for c in COST}})
    return pd.DataFrame(rows)


def accuracy_and_cost(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, sparsity, method), in the cells' method order: the retrained test accuracy and the
    shares of MACs and parameters kept, each the mean over the networks of :func:`cell_table`'s cells
    (``networks``: how many). At an equal channel count methods keep different MACs and parameters
    (a hidden Linear unit counts as one channel, like a conv channel), so accuracy is read beside them."""
    g = cells.groupby(["setting", "sparsity", "method"], sort=False)
    out = g.agg(accuracy=("mean", "mean"), macs_kept=("macs_kept", "mean"),
                params_kept=("params_kept", "mean"), networks=("network", "nunique"))
    return out.reset_index()


def cell_pivot(cells: pd.DataFrame, value: str = "mean") -> pd.DataFrame:
    """:func:`cell_table` as one row per (setting, network, sparsity) and one column per method."""
    return cells.pivot_table(index=CELL, columns="method", values=value,
                             sort=False)[list(dict.fromkeys(cells["method"]))]


def paired_stats(df: pd.DataFrame, methods, others=None) -> pd.DataFrame:
    """Statistics rows (``statistic="paired"``) of ``method − other`` for every method of ``methods``
    and every other method in the cell (or of ``others``): mean paired difference over trials and its
    95 % CI, in points; ``n`` pairs."""
    rows = []
    for key, g in df.groupby(CELL, sort=False):
        present = list(dict.fromkeys(g["method"]))
        for method in methods:
            a = per_trial(g, method)
            if a.empty:
                continue
            for other in (others if others is not None else present):
                if other == method or other not in present:
                    continue
                b = per_trial(g, other)
                both = a.index.intersection(b.index)
                if not len(both):
                    continue
                d = paired_difference(a[both], b[both])
                rows.append({"statistic": "paired", "method": method, "other": other, **dict(zip(CELL, key)),
                             "n": d["n"], "value": 100 * d["mean"], "ci_low": 100 * d["ci_low"],
                             "ci_high": 100 * d["ci_high"]})
    return pd.DataFrame(rows,
                        columns=["statistic", "method", "other", *CELL, "n", "value", "ci_low", "ci_high"])


def landscape_percentiles(labels, quantiles=(0.5, 0.85, 1.0)) -> dict[str, float]:
    """``{"p50": …, "p85": …, "p100": …}`` of a landscape's mask labels."""
    x = np.asarray(labels, dtype=float)
    return {f"p{round(q * 100)}": float(np.quantile(x, q)) for q in quantiles}


def expected_accuracy(probabilities, labels) -> float:
    """Exact expected label of a mask drawn with ``probabilities`` (one per landscape mask; a
    collapse-free generator's sum to 1 over the collapse-free landscape; any other total is
    renormalised). Raises ``ValueError`` when they sum to 0."""
    p, y = np.asarray(probabilities, float), np.asarray(labels, float)
    if p.shape != y.shape:
        raise ValueError(f"probabilities {p.shape} and labels {y.shape} must have the same shape")
    if not p.sum() > 0:
        raise ValueError("probabilities sum to 0: the generator cannot draw any mask of this landscape")
    return float((p * y).sum() / p.sum())


def percentile_of(value: float, labels) -> float:
    """Share (in [0, 100]) of the landscape's labels below ``value``."""
    return float(100 * (np.asarray(labels, float) < value).mean())


def sd_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(sd, low, high)``: sample standard deviation (ddof 1) and its chi-square interval (normal
    values assumed); NaN bounds for fewer than two values."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2:
        return float("nan"), float("nan"), float("nan")
    sd = float(x.std(ddof=1))
    a = (1 - confidence) / 2
    low = sd * np.sqrt((n - 1) / sps.chi2.ppf(1 - a, n - 1))
    high = sd * np.sqrt((n - 1) / sps.chi2.ppf(a, n - 1))
    return sd, float(low), float(high)


def landscape_stats(expected: pd.DataFrame, landscapes: pd.DataFrame, quantile: str = "p85") -> pd.DataFrame:
    """Statistics rows from exact expectations on exhaustive landscapes.

    ``expected``: one row per (method, setting, network, sparsity, seed) with ``expected_acc`` (the
    seed's exact expected label); ``landscapes``: one row per (setting, network, sparsity) with the
    percentile columns of :func:`landscape_percentiles`. Gives, per (method, cell), a
    ``"landscape"`` row (mean expected accuracy over seeds with its 95 % CI, ``threshold`` = the
    landscape's ``quantile``, ``other`` = that quantile's name) and a ``"seed_sd"`` row (SD across
    seeds in points with its chi-square CI)."""
    rows = []
    land = landscapes.set_index(CELL)
    for (method, *cell), g in expected.groupby(["method", *CELL], sort=False):
        mean, lo, hi = mean_ci(g["expected_acc"])
        sd, sd_lo, sd_hi = sd_ci(100 * g["expected_acc"])
        base = dict(zip(CELL, cell))
        rows.append({"statistic": "landscape", "method": method, "other": quantile, **base, "n": len(g),
                     "value": mean, "ci_low": lo, "ci_high": hi,
                     "threshold": float(land.loc[tuple(cell), quantile])})
        rows.append({"statistic": "seed_sd", "method": method, "other": None, **base, "n": len(g),
                     "value": sd,
                     "ci_low": sd_lo, "ci_high": sd_hi, "threshold": np.nan})
    return pd.DataFrame(rows,
                        columns=["statistic", "method", "other", *CELL, "n", "value", "ci_low", "ci_high",
                                       "threshold"])


#: Columns of the statistics rows built over networks.
STAT_COLUMNS = ["statistic", "method", "other", *CELL, "n", "pairs", "value", "ci_low", "ci_high",
                "threshold"]


def over_networks(paired: pd.DataFrame, *, min_networks: int = 2) -> pd.DataFrame:
    """The network as the unit: from :func:`paired_stats`' per-network rows, per (setting, sparsity,
    method, other) with at least ``min_networks`` networks, a row ``statistic="networks_paired"``,
    ``network="all"``: the mean of the networks' paired means (points) and its 95 % Student-t interval
    over networks (``n`` networks, ``pairs`` in all). Each network's mean already averages its own pairs,
    so the t over networks covers both the spread between networks and the pairs' noise; with about 10
    networks a bootstrap over networks would be too narrow (its spread is ``√((n−1)/n)`` of the t's
    standard error, and it has no t tail)."""
    rows = []
    for (setting, s, method, other), g in paired.groupby(["setting", "sparsity", "method", "other"],
                                                           sort=False):
        if g["network"].duplicated().any():
            raise ValueError(f"{method} − {other} at {setting} {s}: network(s) "
                             f"{sorted(set(g.loc[g['network'].duplicated(), 'network']))} appear twice")
        if len(g) < min_networks:
            continue
        mean, lo, hi = mean_ci(g["value"])
        rows.append({"statistic": "networks_paired", "method": method, "other": other, "setting": setting,
                     "network": "all", "sparsity": s, "n": len(g), "pairs": int(g["n"].sum()),
                     "value": mean, "ci_low": lo, "ci_high": hi, "threshold": np.nan})
    return pd.DataFrame(rows, columns=STAT_COLUMNS)


def pooled_sd_ci(groups, confidence: float = 0.95) -> tuple[float, float, float, int]:
    """``(sd, low, high, df)``: the pooled within-group standard deviation ``√(Σ (n_g − 1) s_g² / df)``,
    ``df = Σ (n_g − 1)``, and its chi-square interval (groups of fewer than two values add nothing)."""
    groups = [np.asarray(g, float) for g in groups if len(g) >= 2]
    dof = sum(len(g) - 1 for g in groups)
    if dof < 1:
        return float("nan"), float("nan"), float("nan"), 0
    sd = float(np.sqrt(sum((len(g) - 1) * g.var(ddof=1) for g in groups) / dof))
    a = (1 - confidence) / 2
    return (sd, float(sd * np.sqrt(dof / sps.chi2.ppf(1 - a, dof))),
            float(sd * np.sqrt(dof / sps.chi2.ppf(a, dof))), dof)


def landscape_over_networks(expected: pd.DataFrame, landscapes: pd.DataFrame, quantile: str = "p85", *,
                            min_networks: int = 2) -> pd.DataFrame:
    """The network as the unit on exhaustive landscapes. Per (method, setting, sparsity) with at least
    ``min_networks`` networks: ``"networks_landscape"`` — each network's exact expected accuracy (mean
    over the method's seeds) minus its landscape's ``quantile``, in points, averaged over networks with
    the t-interval over networks (``other`` = ``quantile``); ``"networks_seed_sd"`` — the SD across
    seeds pooled within networks, in points, with its chi-square interval (``n`` = its degrees of freedom)."""
    land = landscapes.set_index(CELL)
    rows = []
    for (method, setting, s), g in expected.groupby(["method", "setting", "sparsity"], sort=False):
        per = g.groupby("network")["expected_acc"]
        if per.ngroups < min_networks:
            continue
        gaps = [100 * (v.mean() - float(land.loc[(setting, n, s), quantile])) for n, v in per]
        mean, lo, hi = mean_ci(gaps)
        base = {"method": method, "setting": setting, "network": "all", "sparsity": s, "pairs": len(g)}
        rows.append({"statistic": "networks_landscape", "other": quantile, **base, "n": per.ngroups,
                     "value": mean, "ci_low": lo, "ci_high": hi, "threshold": np.nan})
        sd, sd_lo, sd_hi, dof = pooled_sd_ci([100 * v.to_numpy() for _, v in per])
        rows.append({"statistic": "networks_seed_sd", "other": None, **base, "n": dof, "value": sd,
                     "ci_low": sd_lo, "ci_high": sd_hi, "threshold": np.nan})
    return pd.DataFrame(rows, columns=STAT_COLUMNS)


def compute_table(df: pd.DataFrame, *, one_off: dict[str, str]) -> pd.DataFrame:
    """Per method: mean seconds to retrain and to propose one mask, the total in retraining
    equivalents, and the one-off cost it shares (``one_off``: method → text; ``"none"`` otherwise)."""
    retrain_s = float(df["seconds"].mean())
    rows = []
    for method, g in df.groupby("method", sort=False):
        prop = float(g["propose_seconds"].mean())
        rows.append({"method": method, "retrain_s_per_mask": float(g["seconds"].mean()),
                     "propose_s_per_mask": prop,
                     "retrain_equivalents_per_mask": 1 + prop / retrain_s,
                     "one_off": one_off.get(method, "none")})
    return pd.DataFrame(rows)
