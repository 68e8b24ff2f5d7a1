"""Group statistics with one confidence-interval method for the whole book: the Student-t interval
of a mean, ``mean ± t_{(1+c)/2, n−1} · s / √n`` (``s`` the sample standard deviation, ddof 1).

Figures use the same interval (:func:`errorbar`), tables :func:`mean_ci` / :func:`group_stats`, and
paired comparisons :func:`paired_difference` (the t-interval of the per-pair differences).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..core.validate import check_number


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``values`` and its Student-t ``confidence`` interval
    (NaN bounds for fewer than two values)."""
    confidence = check_number("confidence", confidence, 0, 1, low_open=True)
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        raise ValueError("mean_ci needs at least one value, got none")
    mean = float(x.mean())
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def errorbar(values, confidence: float = 0.95) -> tuple[float, float]:
    """Seaborn ``errorbar=`` callable giving :func:`mean_ci`'s interval (the mean for one value)."""
    mean, low, high = mean_ci(values, confidence)
    return (mean, mean) if np.isnan(low) else (low, high)


def group_stats(df: pd.DataFrame, by: list[str], value: str, confidence: float = 0.95) -> pd.DataFrame:
    """Per group of ``by``: ``n``, ``mean``, ``ci_low``, ``ci_high`` of column ``value``."""
    rows = []
    for key, g in df.groupby(by, sort=False):
        mean, low, high = mean_ci(g[value], confidence)
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))),
                     "n": len(g), "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=[*by, "n", "mean", "ci_low", "ci_high"])


def paired_difference(a, b, confidence: float = 0.95) -> dict[str, float]:
    """Mean of ``a − b`` over pairs (same index order) with its t-interval: ``n``, ``mean``,
    ``ci_low``, ``ci_high``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples must have the same length, got {len(a)} and {len(b)}")
    mean, low, high = mean_ci(a - b, confidence)
    return {"n": len(a), "mean": mean, "ci_low": low, "ci_high": high}
