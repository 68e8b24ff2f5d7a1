"""Chapters 1-5 (Part 1): configs from the plain values of a notebook's parameters cell
(``smoke=True`` shrinks everything for a fast test run), the collapse verdict, and the numbers each
chapter glues (computed from its tidy rows: one row per run, see :func:`prunegan.runs.runner.result_row`)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .. import models
from ..analysis import collapse
from ..core import counts
from ..core.masks import layer_sizes
from ..pruning.strategies import Method
from ..runs.baseline import BaselineConfig
from ..runs.sweep import SPARSITIES, SweepConfig
from ..train import TrainConfig
from .format import MISSING, acc, pct

#: Smoke runs: a 400/200-image subset, one epoch, three sparsities, at most three trials.
SMOKE_DATA = {"n_train": 400, "n_test": 200}
SMOKE_SPARSITIES = (0.0, 0.5, 0.9)
SMOKE_TRIALS = 3


def baseline_config(*, model: str = "lenet5", data: str = "mnist-5k", epochs: int = 10, seed: int = 0,
                    smoke: bool = False) -> BaselineConfig:
    """The trained network of the study (``seed`` draws the initial weights and the training order)."""
    extra = SMOKE_DATA if smoke else {}
    return BaselineConfig(model=model, data=data, init_seed=seed,
                          train=TrainConfig(epochs=1 if smoke else epochs, seed=seed), **extra)


def sweep_config(base: BaselineConfig, *, strategy: str, retrain_epochs: int = 3,
                 sparsities: tuple[float, ...] = SPARSITIES, trials: int = 1, min_channels_per_layer: int = 0,
                 seed: int = 0, smoke: bool = False, **options) -> SweepConfig:
    """A sweep of ``strategy`` (with scorer ``options``) on ``base``; smoke runs use 3 sparsities,
    at most :data:`SMOKE_TRIALS` trials and one retraining epoch."""
    if smoke:
        sparsities = tuple(s for s in sparsities if s in SMOKE_SPARSITIES) or SMOKE_SPARSITIES
    method = Method(strategy, options, min_channels_per_layer=min_channels_per_layer)
    return SweepConfig(baseline=base, method=method,
                       sparsities=tuple(sparsities), trials=smoke_trials(trials, smoke),
                       retrain=TrainConfig(epochs=1 if smoke else retrain_epochs, seed=seed), seed=seed)


def feasible_sparsities(model: str, min_channels_per_layer: int,
                        sparsities: tuple[float, ...] = SPARSITIES) -> tuple[float, ...]:
    """The sparsities of ``sparsities`` that leave at least ``min_channels_per_layer`` channels in
    every conv layer of ``model`` (LeNet-5 with a minimum of 1 keeps 2 of 22: at most 90 %)."""
    return counts.feasible_sparsities(layer_sizes(models.build(model)), min_channels_per_layer, sparsities)


def smoke_trials(trials: int, smoke: bool) -> int:
    """Number of trials to run: at most :data:`SMOKE_TRIALS` in a smoke run."""
    return min(trials, SMOKE_TRIALS) if smoke else trials


def collapse_verdict(answer: dict[str, float]) -> str:
    """One Markdown sentence answering "does layer collapse explain every stuck run?" from the counts
    of :func:`prunegan.analysis.collapse.collapse_explains_stuck`."""
    if answer["stuck"] == 0:
        return "No run was stuck, so there is nothing for collapse to explain."
    if answer["stuck_without_collapse"] == 0 and answer["collapsed_but_recovered"] == 0:
        return ("**Yes**: every stuck run had a collapsed layer, and every run with a collapsed layer was "
                "stuck.")
    if answer["stuck_without_collapse"] == 0:
        return ("**Partly**: every stuck run had a collapsed layer, but some runs with a collapsed layer "
                "still recovered.")
    return "**No**: some runs were stuck without any collapsed layer."


# ------------------------------------------------------------------------------- glued numbers
#: Two sparsities closer than this are the same one (sparsities are fractions in [0, 1]).
SPARSITY_ATOL = 1e-6


def rows_at(df: pd.DataFrame, sparsity: float) -> pd.DataFrame:
    """The rows of ``df`` at ``sparsity``, matched within :data:`SPARSITY_ATOL` (a sparsity that went
    through a float sum, 0.9000000001, is 0.9). ValueError naming the sparsities present when none
    matches."""
    at = df[np.isclose(df["sparsity"].astype(float), float(sparsity), rtol=0.0, atol=SPARSITY_ATOL)]
    if at.empty:
        present = sorted({round(float(s), 6) for s in df["sparsity"]})
        raise ValueError(f"no run at sparsity {sparsity!r}; the runs have sparsities {present}")
    return at


def _pct(sparsity: float) -> int:
    return round(float(sparsity) * 100)


def _first_run(rows: pd.DataFrame) -> pd.Series:
    """The run of the lowest trial (a global L1 sweep is deterministic and has one trial)."""
    return rows.sort_values("trial", kind="stable").iloc[0]


def l1_sweep_headlines(df: pd.DataFrame, *, sparsity: float = 0.9) -> dict[str, float | int | None]:
    """Chapter 2's glued numbers from its L1 sweep: at ``sparsity`` (suffix ``_90`` for 0.9) the retrained
    and pruned accuracy and the number of collapsed layers of the run (``l1_retrained_acc_90``,
    ``l1_pruned_acc_90``, ``l1_collapsed_90``), and the smallest sparsity at which a layer collapses
    (``l1_first_collapse``, ``None`` when none does)."""
    run, pct = _first_run(rows_at(df, sparsity)), _pct(sparsity)
    return {f"l1_retrained_acc_{pct}": float(run["retrained_acc"]),
            f"l1_pruned_acc_{pct}": float(run["pruned_acc"]),
            f"l1_collapsed_{pct}": int(run["n_collapsed"]),
            "l1_first_collapse": collapse.first_collapse(df)}


def random_sweep_headlines(df: pd.DataFrame, *, sparsity: float = 0.9) -> dict[str, float]:
    """Chapter 3's glued numbers from its random sweep: the retrained accuracy at ``sparsity`` averaged
    over the trials (``random_retrained_acc_90``) and the share of all runs with a collapsed layer
    (``random_collapse_rate``)."""
    return {f"random_retrained_acc_{_pct(sparsity)}": float(rows_at(df, sparsity)["retrained_acc"].mean()),
            "random_collapse_rate": float(df["collapsed"].astype(bool).mean())}


def trials_headlines(df: pd.DataFrame, *, sparsity: float) -> dict[str, float | int | None]:
    """Chapter 4's glued numbers from its trials at ``sparsity``: the number of runs (``trials_n``), the
    sparsity, the share with a collapsed layer (``trials_collapse_rate``), the mean retrained accuracy of
    all runs and of those without a collapsed layer (``None`` when every run collapsed), and the stuck
    runs, all and those with a collapsed layer
    (:func:`prunegan.analysis.collapse.collapse_explains_stuck`)."""
    at = rows_at(df, sparsity)
    collapsed = at["collapsed"].astype(bool)
    answer = collapse.collapse_explains_stuck(at)
    return {"trials_n": int(len(at)), "trials_sparsity": float(sparsity),
            "trials_collapse_rate": float(collapsed.mean()),
            "trials_retrained_mean": float(at["retrained_acc"].mean()),
            "trials_retrained_mean_no_collapse": (float(at.loc[~collapsed, "retrained_acc"].mean())
                                                  if (~collapsed).any() else None),
            "trials_stuck": answer["stuck"], "trials_stuck_and_collapsed": answer["stuck_and_collapsed"]}


def layer_sparsity_configs(base: BaselineConfig, *, retrain_epochs: int = 3, trials: int = 5,
                           trials_90: int = 20, sparsity: float = 0.9,
                           smoke: bool = False) -> list[SweepConfig]:
    """Chapter 5's runs: global L1 (one trial) and random (``trials`` trials) over every sparsity the
    per-layer minimum allows, with a minimum of 0 and of 1 channel per layer; after each random sweep,
    ``trials_90`` random trials at ``sparsity`` (the config :func:`prunegan.runs.sweep.trials` runs; with
    the minimum 0 they are chapter 4's runs)."""
    out = []
    for strategy, n in (("l1", 1), ("random", trials)):
        for min_channels in (0, 1):
            config = sweep_config(base, strategy=strategy, retrain_epochs=retrain_epochs, trials=n,
                                  sparsities=feasible_sparsities(base.model, min_channels),
                                  min_channels_per_layer=min_channels, smoke=smoke)
            out.append(config)
            if strategy == "random":
                out.append(replace(config, sparsities=(sparsity,), trials=smoke_trials(trials_90, smoke)))
    return out


def collapse_answers(df: pd.DataFrame, minima: tuple[int, ...] = (0, 1)) -> dict[int, dict[str, float]]:
    """:func:`prunegan.analysis.collapse.collapse_explains_stuck` over the runs of each per-layer minimum
    (``min_channels_per_layer``), by minimum. ValueError when a minimum has no run."""
    found = sorted(int(m) for m in df["min_channels_per_layer"].unique())
    missing = [m for m in minima if m not in found]
    if missing:
        raise ValueError(f"no run with min_channels_per_layer {missing}; the runs have {found}")
    return {m: collapse.collapse_explains_stuck(df[df["min_channels_per_layer"] == m]) for m in minima}


def layer_sparsity_headlines(df: pd.DataFrame, *, sparsity: float = 0.9) -> dict[str, float | int | str]:
    """Chapter 5's glued numbers from its runs (:func:`layer_sparsity_configs`, one row per unique run):
    the collapse verdict and the stuck/collapse counts of :func:`collapse_answers` (minimum 0:
    ``stuck_min0``, ``stuck_collapsed_min0``, ``stuck_without_collapse_min0``, ``collapsed_recovered_min0``,
    ``runs_min0``; minimum 1: ``stuck_min1``, ``runs_min1``); of the random runs at ``sparsity``
    (``random90_...`` for 0.9) the number with minimum 0, their collapse rate and the mean retrained
    accuracy with each minimum; and the retrained accuracy of the L1 run at ``sparsity`` with minimum 1
    (``l1_90_acc_min1``)."""
    answer = collapse_answers(df)
    pct = _pct(sparsity)
    random_at = rows_at(df[df["strategy"] == "random"], sparsity)
    by_min = {m: random_at[random_at["min_channels_per_layer"] == m] for m in (0, 1)}
    for m, rows in by_min.items():
        if rows.empty:
            raise ValueError(f"no random run at sparsity {sparsity!r} with min_channels_per_layer {m}")
    l1_at = rows_at(df[df["strategy"] == "l1"], sparsity)
    l1_min1 = l1_at[l1_at["min_channels_per_layer"] == 1]
    if l1_min1.empty:
        raise ValueError(f"no l1 run at sparsity {sparsity!r} with min_channels_per_layer 1")
    return {"collapse_verdict": collapse_verdict(answer[0]),
            "stuck_min0": answer[0]["stuck"], "stuck_collapsed_min0": answer[0]["stuck_and_collapsed"],
            "stuck_without_collapse_min0": answer[0]["stuck_without_collapse"],
            "collapsed_recovered_min0": answer[0]["collapsed_but_recovered"], "runs_min0": answer[0]["runs"],
            "stuck_min1": answer[1]["stuck"], "runs_min1": answer[1]["runs"],
            f"random{pct}_runs": int(len(by_min[0])),
            f"random{pct}_collapse_rate_min0": float(by_min[0]["collapsed"].astype(bool).mean()),
            f"random{pct}_acc_min0": float(by_min[0]["retrained_acc"].mean()),
            f"random{pct}_acc_min1": float(by_min[1]["retrained_acc"].mean()),
            f"l1_{pct}_acc_min1": float(_first_run(l1_min1)["retrained_acc"])}


# --- tables as the chapters show them: few columns, formatted, nothing a reader has to decode ---------

#: How a table marks a setting that has no run at a sparsity (explained under each such table).
NO_RUN = MISSING


def sweep_table(df: pd.DataFrame) -> pd.DataFrame:
    """A sweep's runs as a chapter shows them: indexed by sparsity (in percent, then trial when ``df``
    has several), with the pruned and retrained accuracy (3 decimals), the channels kept per layer
    (``"conv1 6, conv2 16"``) and the collapsed layers (``"none"`` when no layer lost every channel).
    ValueError naming the missing columns."""
    need = ["sparsity", "trial", "pruned_acc", "retrained_acc", "kept", "collapsed_layers"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"sweep_table needs columns {missing}; the frame has {list(df.columns)}")
    d = df.sort_values(["sparsity", "trial"])
    out = pd.DataFrame({
        "sparsity": [pct(s) for s in d["sparsity"]],
        "trial": d["trial"].astype(int).to_numpy(),
        "pruned acc.": [acc(v) for v in d["pruned_acc"]],
        "retrained acc.": [acc(v) for v in d["retrained_acc"]],
        "channels kept": [", ".join(f"{k} {v}" for k, v in kept.items()) for kept in d["kept"]],
        "collapsed layers": [", ".join(c) if len(c) else "none" for c in d["collapsed_layers"]],
    })
    index = ["sparsity", "trial"] if d["trial"].nunique() > 1 else ["sparsity"]
    return out.drop(columns=[] if len(index) == 2 else ["trial"]).set_index(index)


def runs_per_setting(df: pd.DataFrame) -> pd.DataFrame:
    """Number of runs of each method label (``label``), as a one-column table indexed by setting."""
    return df.groupby("label").size().rename("runs").rename_axis("setting").to_frame()


def setting_pivot(table: pd.DataFrame, values: str) -> pd.DataFrame:
    """``values`` of :func:`prunegan.analysis.collapse.collapse_table` per sparsity (rows, in percent) and
    setting (columns), 3 decimals; :data:`NO_RUN` where a setting has no run at that sparsity.
    ValueError for a ``values`` the table lacks."""
    if values not in table.columns:
        raise ValueError(f"values must be a column of the table ({list(table.columns)}), got {values!r}")
    grid = table.pivot(index="sparsity", columns="label", values=values).sort_index()
    grid.index = [pct(s) for s in grid.index]
    grid.index.name, grid.columns.name = "sparsity", None
    return grid.map(acc)


#: Rows of :func:`answer_table`: a reader's name for each count of collapse_explains_stuck.
ANSWER_ROWS = {"runs": "runs", "stuck": "stuck", "collapsed": "with a collapsed layer",
               "stuck_and_collapsed": "stuck and collapsed", "stuck_without_collapse": "stuck, no collapse",
               "collapsed_but_recovered": "collapsed, recovered",
               "share_of_stuck_collapsed": "share of stuck runs that collapsed"}


def answer_table(answers: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Answers of :func:`prunegan.analysis.collapse.collapse_explains_stuck` side by side: one column per
    key of ``answers`` (e.g. ``"min 0"``), one row per count (:data:`ANSWER_ROWS`); counts as integers,
    the share with 2 decimals, ``"no stuck run"`` where there is none to share."""
    cols = {}
    for key, answer in answers.items():
        share = answer["share_of_stuck_collapsed"]
        cols[key] = [str(int(answer[k])) for k in ANSWER_ROWS if k != "share_of_stuck_collapsed"] + \
            ["no stuck run" if pd.isna(share) else f"{share:.2f}"]
    return pd.DataFrame(cols, index=list(ANSWER_ROWS.values()))
