"""Success criteria as data, checked by one function.

A :class:`Target` names a statistic (rows of a *statistics table*, see :func:`check`), which rows
it applies to (method, other method, settings, sparsities), which end of the 95 % CI is judged
(``ci_low`` for "at least" / "beats", ``ci_high`` for "at most") and the threshold it is compared
with. A verdict is therefore never made on a point estimate that a float difference can flip.

The statistics table has one row per measured statistic: ``statistic`` (``"paired"``: method − other
in accuracy points over paired trials; ``"landscape"``: expected accuracy on an exhaustive landscape,
with the landscape's percentile as its own ``threshold``; ``"seed_sd"``: the SD across a learned
method's seeds, in points; ``"networks_*"``: the same with the network as the unit, CI over networks,
``network="all"``; see :func:`prunegan.analysis.comparison.over_networks`), ``method``, ``other``,
``setting``, ``network``, ``sparsity``, ``value``,
``ci_low``, ``ci_high`` and optionally ``threshold``.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Comparisons a target may use.
COMPARISONS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
#: How a rule reads in prose (no ``>=`` in a sentence).
COMPARISON_WORDS = {">": ">", ">=": "≥", "<": "<", "<=": "≤"}
#: Statistics a target may judge.
STATISTICS = ("paired", "landscape", "seed_sd", "networks_paired", "networks_landscape", "networks_seed_sd",
              "networks_fit", "fits_diverged")
STATISTIC_WORDS = {"paired": "paired difference (points)", "landscape": "expected accuracy on the landscape",
                   "seed_sd": "SD across seeds (points)", "networks_paired": "paired difference (points)",
                   "networks_landscape": "points from the landscape's percentile",
                   "networks_seed_sd": "SD across seeds (points)",
                   "networks_fit": "in-sample accuracy − the soft-weighted bank's (points)",
                   "fits_diverged": "generators flagged diverged"}
#: Columns of :func:`check`'s result.
CHECK_COLUMNS = ["target", "method", "other", "setting", "network", "sparsity", "n", "value", "ci_low",
                 "ci_high", "bound", "comparison", "threshold", "met"]


@dataclass(frozen=True)
class Target:
    """``statistic`` rows of ``method`` (against ``other``, if given) in ``settings`` (and
    ``sparsities``; ``None``: all), met where ``row[bound] <comparison> threshold``. ``threshold``
    ``None``: each row's own ``threshold`` column (e.g. a landscape percentile)."""

    name: str
    statistic: str
    method: str
    other: str | None = None
    settings: tuple[str, ...] = ("conv", "conv+linear")
    sparsities: tuple[float, ...] | None = None
    bound: str = "ci_low"
    comparison: str = ">"
    threshold: float | None = 0.0

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise ValueError(f"Target {self.name!r}: statistic must be one of {STATISTICS}, "
                             f"got {self.statistic!r}")
        if self.comparison not in COMPARISONS:
            raise ValueError(f"Target {self.name!r}: comparison must be one of {list(COMPARISONS)}, "
                             f"got {self.comparison!r}")
        if self.bound not in ("ci_low", "ci_high", "value"):
            raise ValueError(f"Target {self.name!r}: bound must be 'ci_low', 'ci_high' or 'value', "
                             f"got {self.bound!r}")
        if isinstance(self.settings, str):
            object.__setattr__(self, "settings", (self.settings,))

    def describe(self) -> str:
        """The rule in words, e.g. ``"paired difference, low end of the 95 % CI over networks > 0"``."""
        what = {"ci_low": "low end of the 95 % CI", "ci_high": "high end of the 95 % CI",
                "value": "value"}[self.bound]
        over = " over networks" if self.statistic.startswith("networks_") and self.bound != "value" else \
            " over pairs" if self.statistic == "paired" and self.bound != "value" else ""
        thr = ("the landscape's percentile" if self.threshold is None
               else f"{self.threshold:g}".replace("-", "−"))
        return f"{STATISTIC_WORDS[self.statistic]}, {what}{over} {COMPARISON_WORDS[self.comparison]} {thr}"


def check(targets, stats: pd.DataFrame) -> pd.DataFrame:
    """One row per (target, matching statistics row) with ``met`` (bool). A row whose judged bound
    is NaN (too few values for a CI) is *not met*. Raises ``ValueError`` if a target's threshold is
    ``None`` and the table has no ``threshold`` column."""
    rows = []
    for t in targets:
        if not isinstance(t, Target):
            raise ValueError(f"targets must be Target objects, got {type(t).__name__}")
        sel = stats[(stats["statistic"] == t.statistic) & (stats["method"] == t.method)
                    & stats["setting"].isin(t.settings)]
        if t.other is not None:
            sel = sel[sel["other"] == t.other]
        if t.sparsities is not None:
            sel = sel[np.isclose(sel["sparsity"].to_numpy(float)[:, None],
                                 np.asarray(t.sparsities, float)).any(1)]
        if t.threshold is None and "threshold" not in sel:
            raise ValueError(f"Target {t.name!r} takes each row's threshold, "
                             "but the table has no 'threshold' column")
        for r in sel.itertuples(index=False):
            thr = float(r.threshold) if t.threshold is None else float(t.threshold)
            judged = float(getattr(r, t.bound))
            met = bool(not np.isnan(judged) and COMPARISONS[t.comparison](judged, thr))
            rows.append({"target": t.name, "method": t.method, "other": r.other, "setting": r.setting,
                         "network": r.network, "sparsity": r.sparsity, "n": getattr(r, "n", np.nan),
                         "value": float(r.value),
                         "ci_low": float(r.ci_low), "ci_high": float(r.ci_high), "bound": t.bound,
                         "comparison": t.comparison, "threshold": thr, "met": met})
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)


def summary(checks: pd.DataFrame, targets) -> pd.DataFrame:
    """Per target (in ``targets`` order): cells met, cells checked, and ``status`` (``"met"`` when
    every checked cell is met, ``"not met"``, or ``"not checked"``)."""
    rows = []
    for t in targets:
        g = checks[checks["target"] == t.name]
        met = int(g["met"].sum())
        status = "not checked" if g.empty else ("met" if met == len(g) else "not met")
        rows.append({"target": t.name, "rule": t.describe(), "met": met, "cells": len(g), "status": status})
    return pd.DataFrame(rows)


def agreement(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Two :func:`summary` tables (e.g. replicates 0 and 1) side by side, with ``same`` = the same
    status in both."""
    both = first.merge(second, on=["target", "rule"], how="outer", suffixes=("_0", "_1"))
    both["same"] = both["status_0"] == both["status_1"]
    return both
