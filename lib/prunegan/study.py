"""The study's settings: builds configs from the plain values of a notebook's parameters cell
(``smoke=True`` shrinks everything for a fast test run), and the numbers the layer-collapse analysis
reports. Notebooks call these, so they hold no logic of their own."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import models
from .experiments import SPARSITIES, BaselineConfig, SweepConfig
from .masks import layer_sizes
from .results import classify_recovery
from .train import TrainConfig

#: Smoke runs: a 400/200-image subset, one epoch, three sparsities.
SMOKE_DATA = {"n_train": 400, "n_test": 200}
SMOKE_SPARSITIES = (0.0, 0.5, 0.9)


def baseline_config(*, model: str = "lenet5", data: str = "mnist-5k", epochs: int = 10, seed: int = 0,
                    smoke: bool = False) -> BaselineConfig:
    """The trained network of the study (``seed`` draws the initial weights)."""
    extra = SMOKE_DATA if smoke else {}
    return BaselineConfig(model=model, data=data, init_seed=seed,
                          train=TrainConfig(epochs=1 if smoke else epochs, seed=seed), **extra)


def sweep_config(base: BaselineConfig, *, strategy: str, retrain_epochs: int = 3,
                 sparsities: tuple[float, ...] = SPARSITIES, trials: int = 1, min_channels_per_layer: int = 0,
                 temperature: float = 1.0, seed: int = 0, smoke: bool = False) -> SweepConfig:
    """A sweep of ``strategy`` on ``base``; smoke runs use 3 sparsities and one retraining epoch."""
    if smoke:
        sparsities = tuple(s for s in sparsities if s in SMOKE_SPARSITIES) or SMOKE_SPARSITIES
    return SweepConfig(baseline=base, strategy=strategy, sparsities=tuple(sparsities), trials=trials,
                       retrain=TrainConfig(epochs=1 if smoke else retrain_epochs, seed=seed),
                       min_channels_per_layer=min_channels_per_layer, temperature=temperature, seed=seed)


def feasible_sparsities(model: str, min_channels_per_layer: int,
                        sparsities: tuple[float, ...] = SPARSITIES) -> tuple[float, ...]:
    """The sparsities of ``sparsities`` that leave at least ``min_channels_per_layer`` channels in
    every conv layer of ``model`` (LeNet-5 with a minimum of 1 keeps 2 of 22: at most 90 %)."""
    sizes = layer_sizes(models.build(model))
    return tuple(s for s in sparsities
                 if sum(sizes.values()) - round(s * sum(sizes.values())) >= min_channels_per_layer * len(sizes))


def setting_label(df: pd.DataFrame) -> pd.Series:
    """``"random, min 0"``-style label of each row's strategy and per-layer minimum."""
    return df["strategy"] + ", min " + df["min_channels_per_layer"].astype(str)


def collapse_table(df: pd.DataFrame, **rule) -> pd.DataFrame:
    """Per (setting, sparsity): number of runs, collapse rate, stuck rate (``rule`` goes to
    :func:`~prunegan.results.classify_recovery`), and mean retrained accuracy."""
    d = df.assign(setting=setting_label(df), stuck=classify_recovery(df, **rule) == "stuck")
    return (d.groupby(["setting", "sparsity"], as_index=False)
             .agg(runs=("collapsed", "size"), collapse_rate=("collapsed", "mean"),
                  stuck_rate=("stuck", "mean"), retrained_acc=("retrained_acc", "mean")))


def collapse_explains_stuck(df: pd.DataFrame, **rule) -> dict[str, float]:
    """The 2×2 answer to "is every stuck run a collapsed one?" over all rows of ``df``:
    counts of runs, stuck, collapsed, stuck-and-collapsed, stuck-without-collapse,
    collapsed-but-recovered, and the share of stuck runs that had a collapsed layer."""
    stuck = classify_recovery(df, **rule) == "stuck"
    collapsed = df["collapsed"].astype(bool)
    n_stuck = int(stuck.sum())
    return {"runs": len(df), "stuck": n_stuck, "collapsed": int(collapsed.sum()),
            "stuck_and_collapsed": int((stuck & collapsed).sum()),
            "stuck_without_collapse": int((stuck & ~collapsed).sum()),
            "collapsed_but_recovered": int((~stuck & collapsed).sum()),
            "share_of_stuck_collapsed": float((stuck & collapsed).sum() / n_stuck) if n_stuck else float("nan")}


def collapse_verdict(answer: dict[str, float]) -> str:
    """One sentence answering "does layer collapse explain every stuck run?" from the counts of
    :func:`collapse_explains_stuck`."""
    if answer["stuck"] == 0:
        return "No run was stuck, so there is nothing for collapse to explain."
    if answer["stuck_without_collapse"] == 0 and answer["collapsed_but_recovered"] == 0:
        return "Yes: every stuck run had a collapsed layer, and every run with a collapsed layer was stuck."
    if answer["stuck_without_collapse"] == 0:
        return ("Partly: every stuck run had a collapsed layer, but some runs with a collapsed layer "
                "still recovered.")
    return "No: some runs were stuck without any collapsed layer."


def smoke_trials(trials: int, smoke: bool) -> int:
    """Number of trials to run: at most 3 in a smoke run."""
    return min(trials, 3) if smoke else trials


def first_collapse(df: pd.DataFrame) -> float | None:
    """Smallest sparsity at which any run of ``df`` has a collapsed layer (``None`` if none does)."""
    hit = df.loc[df["collapsed"], "sparsity"]
    return float(hit.min()) if len(hit) else None


def unique_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Drop rows that are the same run reached twice (a sweep and a trials call share rows)."""
    key = ["strategy", "min_channels_per_layer", "temperature", "seed", "sparsity"]
    return df.drop_duplicates(subset=key).reset_index(drop=True)


def read_scraps(executed_dir: str | Path) -> pd.DataFrame:
    """Every scrapbook scrap of the executed chapters in ``executed_dir`` (the summary notebook
    ``99_*`` excluded): one row per scrap name with its ``value`` and ``notebook``."""
    import scrapbook as sb

    rows = []
    for path in sorted(Path(executed_dir).glob("[0-9][0-9]_*.ipynb")):
        if path.name.startswith("99_"):
            continue
        for name, scrap in sb.read_notebook(str(path)).scraps.items():
            rows.append({"name": name, "value": scrap.data, "notebook": path.stem})
    if not rows:
        raise FileNotFoundError(f"no executed chapter with scraps in {executed_dir}; run `make book` first")
    table = pd.DataFrame({k: pd.Series([r[k] for r in rows], dtype=object) for k in ("name", "value", "notebook")})
    dup = table[table["name"].duplicated()]["name"].tolist()
    if dup:
        raise ValueError(f"scrap names glued by more than one chapter: {dup}")
    return table.set_index("name")
