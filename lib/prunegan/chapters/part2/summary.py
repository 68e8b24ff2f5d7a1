"""Chapter 6's glued numbers as one typed object: :class:`Chapter6Summary` holds the paired margins, the
fit checks, every target's verdict and the other headline values; :meth:`~Chapter6Summary.to_scraps`
writes them as the scraps the findings page, ``answer.py`` and the README check read, and
:meth:`~Chapter6Summary.from_scraps` reads them back. Scrap names are built here and nowhere else."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from ...analysis.stats import mean_ci
from ..format import pts_ci
from .config import TARGETS

#: Scrap of the verdict text, of every target's judged cells, and of the findings page's forest plot data.
VERDICT, TARGET_CELLS, FOREST = "gan_verdict", "target_cells", "figdata_forest_gan_best"
#: Generator designs as the fit scraps name them.
FIT_DESIGNS = {"gan": "gan", "gan-likelihood": "likelihood", "gan-from-scratch": "scratch"}
#: The paired margins glued: (method, other) → the name in ``margin_{name}_{setting}_{pct}``.
MARGINS = {("gan", "best-criterion"): "best", ("gan", "random-min1"): "random",
           ("gan", "uniform-collapse-free"): "untrained", ("gan-mode", "best-criterion"): "mode_best",
           ("gan", "gan-likelihood"): "adversarial", ("gan-likelihood", "best-criterion"): "likelihood_best",
           ("gan-from-scratch", "best-criterion"): "scratch_best", ("gan", "gan-alloc-l1"): "alloc_l1",
           ("gan", "uniform-l1"): "uniform_l1"}
_CI = ("_ci_low", "_ci_high")
#: The two LeNet-5 settings as scrap names spell them (:func:`short`) → as a reader names them, in full
#: and short.
SETTING_LABELS = {"conv": "conv channels", "linear": "conv channels and hidden Linear units"}
SETTING_SHORT = {"conv": "conv", "linear": "conv + Linear"}


def slug(text: str) -> str:
    """A scrap-name part from free text: lower case, runs of other characters as one ``_``."""
    out = "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")
    while "__" in out:
        out = out.replace("__", "_")
    return out


def short(setting: str) -> str:
    """A setting as scrap names spell it (``conv+linear`` → ``linear``)."""
    return setting.replace("conv+linear", "linear")


def _plain(v):
    v = float(v)
    return None if np.isnan(v) else v


@dataclass(frozen=True)
class Interval:
    """A mean (points) with its 95 % CI (``None`` where none was computed)."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None

    def text(self) -> str:
        """``"−5.6 [−9.0, −2.2]"``."""
        return pts_ci(self.value, self.ci_low, self.ci_high)

    def scraps(self, key: str) -> dict[str, float]:
        out = {key: self.value}
        if self.ci_low is not None:
            out.update({key + _CI[0]: self.ci_low, key + _CI[1]: self.ci_high})
        return out


@dataclass(frozen=True)
class FitCounts:
    """Generators of one design and setting: how many were fitted, diverged, and put more likelihood on
    their bank than the untrained generator (``learned``), and their mean bank gain (nats per mask)."""

    fits: float
    diverged: float
    learned: float
    gain: float


@dataclass(frozen=True)
class TargetResult:
    """A target's verdict: ``status`` (``"met"`` in every checked cell, ``"not met"``, ``"not checked"``),
    cells ``met`` of ``cells`` checked, and each ``judged`` cell (``cell``, ``text``, ``value``, ``ci_low``,
    ``ci_high``, ``threshold``, ``met``: plain JSON values, :func:`.report.judged_cells`)."""

    status: str = "not checked"
    met: float = 0.0
    cells: float = 0.0
    judged: tuple = ()

    def by_cell(self) -> dict[str, dict]:
        """The judged cells by cell name."""
        return {c["cell"]: c for c in self.judged}


@dataclass(frozen=True)
class Chapter6Summary:
    """What chapter 6 glues. ``margins``: (name of :data:`MARGINS`, short setting, sparsity %) →
    :class:`Interval` over networks (the transfer network: over its pairs); ``fit_gaps``: (short setting,
    %) → the final generators' in-sample gap to the soft-weighted bank (points, CI over networks);
    ``fit_counts``: (fit design name, short setting) → :class:`FitCounts`; ``gaps``: (part of
    :data:`.gaps.PARTS`, short setting, %) → where the GAN's gap to the best criterion comes from (points,
    CI over networks, :func:`.gaps.summary`); ``limits``: limit of :data:`.limits.LIMITS` → its gap to the
    soft-weighted bank on the conv landscapes (points, CI over networks); ``sizes``: (``heldout`` or
    ``training``, training networks) → :func:`.limits.size_summary`'s gap; ``targets``: target name →
    :class:`TargetResult`; ``values``: every other glued value by scrap name (accuracies, best criteria,
    splits, seeds, design, features); ``verdict``: the Markdown verdict; ``forest``: the forest plot's data
    (:func:`prunegan.chapters.summary.forest_data`)."""

    margins: Mapping[tuple[str, str, int], Interval] = field(default_factory=dict)
    fit_gaps: Mapping[tuple[str, int], Interval] = field(default_factory=dict)
    fit_counts: Mapping[tuple[str, str], FitCounts] = field(default_factory=dict)
    gaps: Mapping[tuple[str, str, int], Interval] = field(default_factory=dict)
    limits: Mapping[str, Interval] = field(default_factory=dict)
    sizes: Mapping[tuple[str, int], Interval] = field(default_factory=dict)
    targets: Mapping[str, TargetResult] = field(default_factory=dict)
    values: Mapping[str, float | str] = field(default_factory=dict)
    verdict: str = ""
    forest: Mapping = field(default_factory=dict)

    def margin(self, name: str, setting: str, pct: int) -> Interval:
        """The margin ``name`` (:data:`MARGINS`) in ``setting`` (``conv``, ``linear``, ``transfer``) at
        ``pct`` %; ``KeyError`` naming what exists when it was not glued."""
        try:
            return self.margins[name, setting, pct]
        except KeyError:
            raise KeyError(f"no margin {(name, setting, pct)} in chapter 6's scraps; "
                           f"glued: {sorted(self.margins)}") from None

    def target(self, name: str) -> TargetResult:
        """The verdict of target ``name`` (``"not checked"`` when it was not glued)."""
        return self.targets.get(name, TargetResult())

    @property
    def networks(self) -> int:
        """Networks of the chapter (each held out once)."""
        return int(self.values["gan_networks"])

    @property
    def retrain_epochs(self) -> float:
        """The chapter's one retraining budget (epochs)."""
        return float(self.values["gan_retrain_epochs"])

    @classmethod
    def measure(cls, cfg, splits: dict, folds: list, *, cells: pd.DataFrame, checks: pd.DataFrame,
                stats: pd.DataFrame, best: pd.DataFrame, fits: pd.DataFrame, in_sample: pd.DataFrame,
                gaps: pd.DataFrame, limits: pd.DataFrame | None = None, sizes: pd.DataFrame | None = None,
                targets=TARGETS) -> Chapter6Summary:
        """The summary of a run: ``cells`` (every method's per-network means, transfer included),
        ``checks`` (the targets judged), ``stats`` (every statistic), ``best`` (the best criteria),
        ``fits`` and ``in_sample`` (the generators' checks), ``gaps`` (:func:`.gaps.summary`), ``limits`` and
        ``sizes`` (:func:`.limits.limits_summary`, :func:`.limits.size_summary`), ``cfg``/``splits``/``folds``
        (what ran)."""
        from ..summary import forest_data
        from .report import extra_numbers, headlines, verdict

        return cls(margins=margins(stats), fit_gaps=fit_gaps(in_sample), fit_counts=fit_counts(fits),
                   gaps={(r.part, short(r.setting), round(r.sparsity * 100)): Interval(
                       float(r.value), _plain(r.ci_low), _plain(r.ci_high)) for r in gaps.itertuples()},
                   limits={} if limits is None else {r.limit: Interval(float(r.gap), _plain(r.ci_low),
                                                                       _plain(r.ci_high))
                                                     for r in limits.itertuples() if r.limit != "soft-bank"},
                   sizes={} if sizes is None else {(r.where.replace("-", ""), int(r.networks)): Interval(
                       float(r.gap), _plain(r.ci_low), _plain(r.ci_high)) for r in sizes.itertuples()},
                   targets=target_results(checks, targets),
                   values={**headlines(cells, best), **extra_numbers(cfg, splits, folds)},
                   verdict=verdict(checks, targets), forest=forest_data(stats, "gan", "best-criterion"))

    def to_scraps(self) -> dict:
        """Every glued value by scrap name: ``values`` as they are; ``margin_{name}_{setting}_{pct}``
        (and ``…_ci_low`` / ``…_ci_high``); ``fit_final_gap_{setting}_{pct}`` (likewise);
        ``fit_{design}_{setting}_{fits|diverged|learned|gain}``;
        ``gap_{part}_{setting}_{pct}`` (and its CI); ``limit_{name}`` and ``size_{where}_{networks}`` (and
        their CIs); ``target_{slug}_{met|cells|status}`` and
        :data:`TARGET_CELLS`; :data:`VERDICT`; :data:`FOREST`."""
        out: dict = dict(self.values)
        for t, r in self.targets.items():
            key = f"target_{slug(t)}"
            out.update({f"{key}_met": r.met, f"{key}_cells": r.cells, f"{key}_status": r.status})
        out[TARGET_CELLS] = {t: list(r.judged) for t, r in self.targets.items()}
        for (setting, pct), iv in self.fit_gaps.items():
            out.update(iv.scraps(f"fit_final_gap_{setting}_{pct}"))
        for (design, setting), c in self.fit_counts.items():
            key = f"fit_{design}_{setting}"
            out.update({f"{key}_fits": c.fits, f"{key}_diverged": c.diverged, f"{key}_learned": c.learned,
                        f"{key}_gain": c.gain})
        for (name, setting, pct), iv in self.margins.items():
            out.update(iv.scraps(f"margin_{name}_{setting}_{pct}"))
        for (part, setting, pct), iv in self.gaps.items():
            out.update(iv.scraps(f"gap_{part}_{setting}_{pct}"))
        for name, iv in self.limits.items():
            out.update(iv.scraps(f"limit_{slug(name)}"))
        for (where, m), iv in self.sizes.items():
            out.update(iv.scraps(f"size_{where}_{m}"))
        out[VERDICT] = self.verdict
        out[FOREST] = dict(self.forest)
        return out

    @classmethod
    def from_scraps(cls, scraps: Mapping, targets=TARGETS) -> Chapter6Summary:
        """:meth:`to_scraps`' values read back (``scraps``: name → value, as scrapbook returns them); a
        scrap of no known kind stays in ``values``; targets not glued are ``"not checked"``."""
        rest = dict(scraps)
        verdict, forest, judged = rest.pop(VERDICT, ""), rest.pop(FOREST, {}), rest.pop(TARGET_CELLS, {})
        results = {}
        for t in targets:
            key = f"target_{slug(t.name)}"
            if f"{key}_status" in rest:
                results[t.name] = TargetResult(rest.pop(f"{key}_status"), rest.pop(f"{key}_met", 0.0),
                                               rest.pop(f"{key}_cells", 0.0), tuple(judged.get(t.name, ())))

        def interval(key):
            return Interval(rest.pop(key), rest.pop(key + _CI[0], None), rest.pop(key + _CI[1], None))
        gaps, counts, margins_, parts, limits_, sizes_ = {}, {}, {}, {}, {}, {}
        for key in [k for k in rest if not k.endswith(_CI)]:
            if key.startswith("fit_final_gap_"):
                setting, pct = key[len("fit_final_gap_"):].rsplit("_", 1)
                gaps[setting, int(pct)] = interval(key)
            elif key.startswith("gap_"):
                part, setting, pct = key[len("gap_"):].rsplit("_", 2)
                parts[part, setting, int(pct)] = interval(key)
            elif key.startswith("limit_"):
                limits_[key[len("limit_"):]] = interval(key)
            elif key.startswith("size_"):
                where, m = key[len("size_"):].rsplit("_", 1)
                sizes_[where, int(m)] = interval(key)
            elif key.startswith("margin_"):
                name, setting, pct = key[len("margin_"):].rsplit("_", 2)
                margins_[name, setting, int(pct)] = interval(key)
            elif key.startswith("fit_") and key.endswith("_fits"):
                design, setting = key[len("fit_"):-len("_fits")].rsplit("_", 1)
                base = f"fit_{design}_{setting}"
                counts[design, setting] = FitCounts(rest.pop(key), rest.pop(f"{base}_diverged"),
                                                    rest.pop(f"{base}_learned"),
                                                    rest.pop(f"{base}_gain", float("nan")))
        return cls(margins=margins_, fit_gaps=gaps, fit_counts=counts, gaps=parts, limits=limits_,
                   sizes=sizes_, targets=results,
                   values=rest,
                   verdict=verdict, forest=forest)

    def glue(self) -> int:
        """Glue every scrap of :meth:`to_scraps` into the running notebook (scrapbook); returns how many."""
        import scrapbook as sb

        scraps = self.to_scraps()
        for name, value in scraps.items():
            sb.glue(name, value)
        return len(scraps)


def target_results(checks: pd.DataFrame, targets=TARGETS) -> dict[str, TargetResult]:
    """Every target of ``targets`` (by name) judged in ``checks`` (:func:`prunegan.analysis.targets.check`):
    its status, cells met of cells checked, and its judged cells (:func:`.report.judged_cells`)."""
    from .report import judged_cells

    judged = judged_cells(checks, targets)
    out = {}
    for t in targets:
        g = checks[checks["target"] == t.name]
        status = "not checked" if g.empty else "met" if bool(g["met"].all()) else "not met"
        out[t.name] = TargetResult(status, float(g["met"].sum()), float(len(g)), tuple(judged[t.name]))
    return out


def margins(stats: pd.DataFrame) -> dict[tuple[str, str, int], Interval]:
    """The margins of :data:`MARGINS` from the statistics: over networks (``"networks_paired"``), the
    transfer network over its pairs (``"paired"``); the CI only where one row gives it."""
    pooled = stats[(stats["statistic"] == "networks_paired")
                   | ((stats["statistic"] == "paired") & (stats["setting"] == "transfer"))]
    out = {}
    for (method, setting, s, other), g in pooled.groupby(["method", "setting", "sparsity", "other"]):
        if (method, other) in MARGINS:
            one = len(g) == 1
            out[MARGINS[method, other], short(setting), round(s * 100)] = Interval(
                float(g["value"].mean()), float(g["ci_low"].iloc[0]) if one else None,
                float(g["ci_high"].iloc[0]) if one else None)
    return out


def fit_counts(fits: pd.DataFrame) -> dict[tuple[str, str], FitCounts]:
    """Per fit design and setting (:func:`.fits.fit_table` rows): generators fitted, diverged, with a
    bank likelihood above the untrained generator's, and their mean bank gain."""
    return {(FIT_DESIGNS.get(design, design), short(setting)): FitCounts(
                float(len(g)), float(g["diverged"].sum()), float((g["bank_gain"] > 0).sum()),
                float(g["bank_gain"].mean()))
            for (setting, design), g in fits.groupby(["setting", "design"], sort=False)}


def fit_gaps(in_sample: pd.DataFrame) -> dict[tuple[str, int], Interval]:
    """Per setting and sparsity: the final generators' in-sample gap to the soft-weighted bank
    (:func:`.fits.in_sample` rows of generator ``"final"``), mean with its CI over networks."""
    final = in_sample[in_sample["generator"] == "final"]
    return {(short(setting), round(s * 100)): Interval(*mean_ci(g["gap"]))
            for (setting, s), g in final.groupby(["setting", "sparsity"], sort=False)}
