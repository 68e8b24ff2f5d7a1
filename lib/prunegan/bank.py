"""The mask bank: many masks made by the standard methods, each retrained, and the *good* ones kept.

For every baseline network of a :class:`BankConfig` (the same architecture trained from different
seeds, so that a generator has to learn from channel features rather than memorise channel indices)
and every sparsity of its grid, the bank draws masks with ``noisy-l1`` at several temperatures and
with ``random``, each with and without ``min_channels_per_layer``. Every distinct mask is pruned,
retrained with the same budget (:func:`prunegan.engine.evaluate_masks`, the one evaluation path) and
stored as one JSON row — the mask itself included — in a :class:`~prunegan.cache.Run` per baseline
(``results/bank_<hash>/rows/``). Reruns recompute nothing and an interrupted build resumes.

Identical masks are evaluated once. Retraining is deterministic for a given mask and budget, so a
draw that repeats an earlier mask copies its numbers and is flagged ``duplicate``; at high sparsity
the conv-only LeNet-5 mask space is tiny (see :func:`mask_space`) and duplicates are common.

Sparsity is the fraction of prunable channels removed: ``n_pruned = round(sparsity · n_prunable)``.

Which masks are *good* is a documented, parameterised rule, :class:`GoodRule`.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import models, strategies
from .cache import Run
from .engine import evaluate_masks
from .experiments import Baseline, BaselineConfig, baseline, result_row
from .masks import ChannelMask, layer_sizes
from .results import layer_table, rows_to_frame
from .train import TrainConfig

#: Methods the bank draws masks with (``noisy-l1`` once per temperature).
METHODS = ("noisy-l1", "random")
#: Bump when the row format or the draw seeds change: older cached rows are then not reused.
BANK_VERSION = 1


def _check_int(owner: str, name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{owner}.{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_tuple(owner: str, name: str, value: object) -> tuple:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{owner}.{name} must be a sequence, got {value!r}")
    value = tuple(value)
    if not value:
        raise ValueError(f"{owner}.{name} is empty; give at least one value")
    return value


@dataclass(frozen=True)
class BankConfig:
    """What the bank holds.

    - ``baselines``: trained networks to draw masks for (typically one architecture, different
      ``init_seed`` / training seeds); each gets its own cached run.
    - ``sparsities``: the grid; ``draws`` masks per (sparsity, method, temperature, minimum).
    - ``temperatures``: Gumbel-noise temperatures of ``noisy-l1`` (0 is plain L1).
    - ``min_channels``: values of ``min_channels_per_layer`` to draw with (``(0, 1)``: with and
      without forbidding layer collapse). Combinations impossible at a sparsity (fewer kept channels
      than layers × minimum) are skipped.
    - ``include_linear``: prune hidden Linear units too (see :func:`prunegan.masks.prunable_layers`).
    - ``retrain``: the one retraining budget of every mask (its seed is the same for all masks, so
      a mask's result is deterministic and duplicates need no second run).
    - ``seed``: base of the draw seeds (see :func:`draw_seed`).
    """

    baselines: tuple[BaselineConfig, ...] = field(default_factory=lambda: (BaselineConfig(),))
    sparsities: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)
    temperatures: tuple[float, ...] = (0.5, 1.0, 2.0)
    draws: int = 2
    min_channels: tuple[int, ...] = (0, 1)
    include_linear: bool = False
    retrain: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))
    seed: int = 0

    def __post_init__(self) -> None:
        baselines = _check_tuple("BankConfig", "baselines", self.baselines)
        for b in baselines:
            if not isinstance(b, BaselineConfig):
                raise ValueError(f"BankConfig.baselines must hold BaselineConfig objects, got {b!r}")
        if len(set(baselines)) != len(baselines):
            raise ValueError("BankConfig.baselines holds the same baseline twice")
        object.__setattr__(self, "baselines", baselines)
        sparsities = tuple(strategies.check_sparsity(s)
                           for s in _check_tuple("BankConfig", "sparsities", self.sparsities))
        object.__setattr__(self, "sparsities", tuple(sorted(set(sparsities))))
        temps = _check_tuple("BankConfig", "temperatures", self.temperatures)
        for t in temps:
            if isinstance(t, bool) or not isinstance(t, numbers.Real) or not t >= 0:
                raise ValueError(f"BankConfig.temperatures must be numbers >= 0, got {t!r}")
        object.__setattr__(self, "temperatures", tuple(float(t) for t in temps))
        mins = _check_tuple("BankConfig", "min_channels", self.min_channels)
        object.__setattr__(self, "min_channels",
                           tuple(_check_int("BankConfig", "min_channels", m, 0) for m in mins))
        _check_int("BankConfig", "draws", self.draws, 1)
        _check_int("BankConfig", "seed", self.seed, 0)
        if not isinstance(self.include_linear, bool):
            raise ValueError(f"BankConfig.include_linear must be True or False, got {self.include_linear!r}")
        if not isinstance(self.retrain, TrainConfig):
            raise ValueError(f"BankConfig.retrain must be a TrainConfig, got {self.retrain!r}")

    def specs(self) -> list[tuple[str, float | None]]:
        """(method, temperature) pairs drawn at every sparsity."""
        return [("noisy-l1", t) for t in self.temperatures] + [("random", None)]


def draw_seed(seed: int, init_seed: int, sparsity: float, method: str, temperature: float | None,
              min_channels: int, draw: int) -> int:
    """The pruning seed of one draw: a hash (numpy ``SeedSequence``) of everything that names it, so
    draws of different sparsities or methods are independent and adding a grid point changes no
    other draw."""
    entropy = [seed, init_seed, round(sparsity * 10_000), METHODS.index(method),
               -1 if temperature is None else round(temperature * 1000), min_channels, draw]
    return int(np.random.SeedSequence([e + 2 for e in entropy]).generate_state(1)[0])


def _run(config: BankConfig, base: BaselineConfig) -> Run:
    """The cache folder of one baseline's bank. The grid is *not* part of the key: enlarging the
    grid reuses every row already computed."""
    return Run("bank", {"version": BANK_VERSION, "baseline": base, "retrain": config.retrain,
                        "include_linear": config.include_linear, "seed": config.seed})


def mask_space(sizes: dict[str, int] | list[int], sparsity: float, min_channels_per_layer: int = 0) -> int:
    """Exact number of distinct masks over layers of ``sizes`` that prune ``round(sparsity · n)``
    channels while keeping at least ``min_channels_per_layer`` in every layer."""
    sizes = list(sizes.values()) if isinstance(sizes, dict) else list(sizes)
    n = sum(sizes)
    keep = n - round(strategies.check_sparsity(sparsity) * n)
    ways = [1] + [0] * keep  # ways[j]: masks of the layers so far keeping j channels
    for size in sizes:
        new = [0] * (keep + 1)
        for j, w in enumerate(ways):
            if w:
                for k in range(min_channels_per_layer, min(size, keep - j) + 1):
                    new[j + k] += w * math.comb(size, k)
        ways = new
    return ways[keep]


def mask_space_table(model: str | object, sparsities, *, include_linear: bool = False) -> pd.DataFrame:
    """Size of the mask space of ``model`` (a name or a network) at each sparsity: prunable channels,
    channels pruned and kept, number of masks in all and with no collapsed layer."""
    net = models.build(model) if isinstance(model, str) else model
    sizes = layer_sizes(net, include_linear=include_linear)
    n = sum(sizes.values())
    rows = []
    for s in sparsities:
        s = strategies.check_sparsity(s)
        rows.append({"sparsity": s, "n_channels": n, "n_pruned": round(s * n), "n_kept": n - round(s * n),
                     "n_masks": mask_space(sizes, s), "n_masks_no_collapse": mask_space(sizes, s, 1)})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class GoodRule:
    """Which bank masks are *good*, decided per (baseline, sparsity) over the distinct masks:

    a mask is good when its retrained accuracy is at least the best mask's minus ``margin``
    (an absolute accuracy, e.g. 0.01 = one point) **and** it ranks within the best ``top_fraction``
    of the distinct masks there (1.0: no quantile cut). With ``allow_collapsed=False`` a mask with a
    collapsed layer is never good."""

    margin: float = 0.01
    top_fraction: float = 1.0
    allow_collapsed: bool = True

    def __post_init__(self) -> None:
        for name, low, high in (("margin", 0.0, 1.0), ("top_fraction", 0.0, 1.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not low <= v <= high:
                raise ValueError(f"GoodRule.{name} must be a number in [{low}, {high}], got {v!r}")
        if self.top_fraction == 0:
            raise ValueError("GoodRule.top_fraction must be > 0 (0 would make no mask good)")
        if not isinstance(self.allow_collapsed, bool):
            raise ValueError(f"GoodRule.allow_collapsed must be True or False, got {self.allow_collapsed!r}")

    def describe(self) -> str:
        parts = [f"retrained accuracy within {self.margin:g} of the best mask at its sparsity"]
        if self.top_fraction < 1:
            parts.append(f"in the top {self.top_fraction:.0%} of distinct masks")
        if not self.allow_collapsed:
            parts.append("no collapsed layer")
        return ", ".join(parts) + " (per baseline network)"


def label_good(frame: pd.DataFrame, rule: GoodRule = GoodRule()) -> pd.Series:
    """Boolean Series: which rows of a bank frame pass ``rule`` (duplicates share their mask's label)."""
    if frame.empty:
        return pd.Series([], dtype=bool, index=frame.index)
    uniq = frame.drop_duplicates(["baseline", "key"])
    good_keys = set()
    for _, group in uniq.groupby(["baseline", "sparsity"]):
        acc = group["retrained_acc"]
        ok = acc >= acc.max() - rule.margin - 1e-12
        n_top = max(1, math.ceil(rule.top_fraction * len(group)))
        ok &= acc.rank(ascending=False, method="min") <= n_top
        if not rule.allow_collapsed:
            ok &= ~group["collapsed"].astype(bool)
        good_keys.update(zip(group.loc[ok, "baseline"], group.loc[ok, "key"]))
    return pd.Series([(b, k) in good_keys for b, k in zip(frame["baseline"], frame["key"])],
                     index=frame.index, dtype=bool)


@dataclass
class Bank:
    """A built bank: its config, the trained baselines (index = ``baseline`` column) and one row per
    draw (``frame``; see :func:`build`)."""

    config: BankConfig
    baselines: list[Baseline]
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)

    def unique(self) -> pd.DataFrame:
        """One row per distinct (baseline, mask), with ``n_draws`` (how often it was drawn) and
        ``methods`` (the sorted method labels that drew it)."""
        if self.frame.empty:
            return self.frame.copy()
        f = self.frame.assign(label=method_label(self.frame))
        agg = f.groupby(["baseline", "key"]).agg(
            n_draws=("key", "size"), methods=("label", lambda s: ", ".join(sorted(set(s)))))
        first = f[~f["duplicate"]].set_index(["baseline", "key"])
        return first.join(agg).reset_index().drop(columns=["label"])

    def good(self, rule: GoodRule = GoodRule()) -> pd.DataFrame:
        """:meth:`unique` with a ``good`` column (see :class:`GoodRule`)."""
        uniq = self.unique()
        return uniq.assign(good=label_good(uniq, rule))

    def good_masks(self, rule: GoodRule = GoodRule(), *, sparsities=None,
                   baseline: int | None = None) -> list[tuple[int, float, ChannelMask]]:
        """``(baseline index, sparsity, mask)`` of every distinct good mask (at ``sparsities`` /
        of ``baseline`` if given). Raises ``ValueError`` if the bank is empty or a requested
        sparsity has no good mask."""
        if self.frame.empty:
            raise ValueError("the mask bank is empty: build it with prunegan.bank.build(BankConfig(...))")
        g = self.good(rule)
        if baseline is not None:
            g = g[g["baseline"] == baseline]
        if sparsities is not None:
            for s in sparsities:
                if not (g["good"] & np.isclose(g["sparsity"], s)).any():
                    have = sorted(set(g.loc[g["good"], "sparsity"].round(4)))
                    raise ValueError(f"the mask bank has no good mask at sparsity {s!r} "
                                     f"(good masks exist at {have}; rule: {rule.describe()})")
            g = g[np.isclose(g["sparsity"].to_numpy()[:, None], np.asarray(sparsities, float)[None]).any(1)]
        g = g[g["good"]]
        return [(int(r.baseline), float(r.sparsity), ChannelMask.from_dict(r.mask)) for r in g.itertuples()]

    def best(self, sparsity: float, *, baseline: int = 0) -> pd.Series:
        """The row of the distinct mask with the highest retrained accuracy at ``sparsity`` on
        ``baseline`` (its mask: ``ChannelMask.from_dict(row["mask"])``)."""
        if self.frame.empty:
            raise ValueError("the mask bank is empty: build it with prunegan.bank.build(BankConfig(...))")
        u = self.unique()
        u = u[(u["baseline"] == baseline) & np.isclose(u["sparsity"], sparsity)]
        if u.empty:
            raise ValueError(f"the mask bank has no mask at sparsity {sparsity!r} for baseline {baseline} "
                             f"(bank sparsities: {list(self.config.sparsities)})")
        return u.loc[u["retrained_acc"].idxmax()]

    def best_mask(self, sparsity: float, *, baseline: int = 0) -> ChannelMask:
        return ChannelMask.from_dict(self.best(sparsity, baseline=baseline)["mask"])

    def summary(self, rule: GoodRule = GoodRule()) -> pd.DataFrame:
        """Per sparsity: draws, distinct masks, duplicates, good masks, the size of the mask space
        (one network) and mean retrained accuracy of good and other masks."""
        if self.frame.empty:
            return pd.DataFrame()
        g = self.good(rule)
        rows = []
        sizes = self.frame["mask"].iloc[0]
        sizes = {k: len(v) for k, v in sizes.items()}
        for s, grp in g.groupby("sparsity"):
            draws = self.frame[np.isclose(self.frame["sparsity"], s)]
            rows.append({"sparsity": s, "draws": len(draws), "distinct": len(grp),
                         "duplicate_share": float(draws["duplicate"].mean()),
                         "good": int(grp["good"].sum()),
                         "mask_space": mask_space(sizes, s),
                         "mask_space_no_collapse": mask_space(sizes, s, 1),
                         "collapse_rate": float(grp["collapsed"].mean()),
                         "best_acc": float(grp["retrained_acc"].max()),
                         "good_mean_acc": float(grp.loc[grp["good"], "retrained_acc"].mean()),
                         "other_mean_acc": float(grp.loc[~grp["good"], "retrained_acc"].mean())
                         if (~grp["good"]).any() else float("nan")})
        return pd.DataFrame(rows)

    def layer_table(self, rule: GoodRule = GoodRule()) -> pd.DataFrame:
        """Per (distinct mask, layer): kept channels and layer sparsity, with ``good``."""
        g = self.good(rule)
        lt = layer_table(g.assign(trial=g["draw"]))
        lt["good"] = np.repeat(g["good"].to_numpy(), [len(m) for m in g["mask"]])
        lt["baseline"] = np.repeat(g["baseline"].to_numpy(), [len(m) for m in g["mask"]])
        return lt


def method_label(frame: pd.DataFrame) -> pd.Series:
    """``"noisy-l1 T=0.5, min 0"``-style label of each bank row."""
    temp = frame["temperature"].map(lambda t: "" if t is None or (isinstance(t, float) and math.isnan(t))
                                    else f" T={t:g}")
    return frame["strategy"] + temp + ", min " + frame["min_channels_per_layer"].astype(str)


def _possible(sizes: dict[str, int], sparsity: float, min_channels: int) -> bool:
    n = sum(sizes.values())
    return n - round(sparsity * n) >= min_channels * len(sizes) and min(sizes.values()) >= min_channels


def build_one(config: BankConfig, index: int, *, progress: bool = True,
              workers: int | None = None) -> tuple[Baseline, list[dict]]:
    """Build (or load) the bank rows of baseline ``index`` of ``config``. New distinct masks are
    evaluated by :func:`prunegan.engine.evaluate_masks` (``workers`` processes on the CPU; the
    numbers do not depend on it), each row cached as soon as it is done."""
    base_config = config.baselines[index]
    base = baseline(base_config, progress=progress)
    run = _run(config, base_config)
    sizes = layer_sizes(base.model, include_linear=config.include_linear)
    todo = [(s, m, t, mc, d) for s in config.sparsities for (m, t) in config.specs()
            for mc in config.min_channels if _possible(sizes, s, mc) for d in range(config.draws)]
    # Every row already computed for this baseline (any grid) is known by its mask key.
    known = {}
    for path in sorted(run.path.glob("rows/*.json")):
        row = run.read_json(f"rows/{path.name}")
        if row is not None and not row.get("duplicate"):
            known.setdefault(row["key"], row)
    rows, pending = {}, []
    for sparsity, method, temp, min_ch, draw in todo:
        tname = "na" if temp is None else f"{temp:g}"
        name = f"rows/{sparsity:.4f}_{method}_T{tname}_min{min_ch}_{draw:03d}.json"
        rows[name] = run.read_json(name)
        if rows[name] is None:
            seed = draw_seed(config.seed, base_config.init_seed, sparsity, method, temp, min_ch, draw)
            options = {"temperature": temp} if method == "noisy-l1" else {}
            mask = strategies.prune(base.model, method, sparsity, seed=seed, min_channels_per_layer=min_ch,
                                    include_linear=config.include_linear, **options)
            labels = {"strategy": method, "temperature": temp, "min_channels_per_layer": min_ch,
                      "sparsity": sparsity, "draw": draw, "seed": seed, "key": mask.key()}
            pending.append((name, mask, labels))
    # Evaluate each new distinct mask once (the first draw of it), then copy its numbers to repeats.
    first: dict[str, int] = {}
    for i, (_, mask, labels) in enumerate(pending):
        if labels["key"] not in known:
            first.setdefault(labels["key"], i)
    evaluate = [pending[i] for i in first.values()]

    def store(j: int, result: dict) -> None:
        name, mask, labels = evaluate[j]
        row = {**result_row(base, mask, result, **labels), "duplicate": False}
        run.write_json(name, row)
        rows[name] = known[labels["key"]] = row

    if evaluate:
        evaluate_masks(base.model, [m for _, m, _ in evaluate], base.data, config.retrain, workers=workers,
                       progress=progress, on_result=store)
    for name, mask, labels in pending:
        if rows[name] is None:
            rows[name] = {**known[labels["key"]], **labels, "duplicate": True}
            run.write_json(name, rows[name])
    extra = {"baseline": index, "init_seed": base_config.init_seed, "model": base_config.model}
    return base, [{**row, **extra} for row in rows.values()]


def build(config: BankConfig, *, progress: bool = True, workers: int | None = None) -> Bank:
    """Build (or load from the cache) the bank of ``config``: one row per draw with the labels
    ``baseline`` (index into ``config.baselines``), ``init_seed``, ``model``, ``strategy``,
    ``temperature``, ``min_channels_per_layer``, ``sparsity``, ``draw``, ``seed``, ``key`` (the
    mask's identity), ``duplicate``, and the columns of :func:`prunegan.experiments.mask_row`
    (accuracies, kept channels per layer, collapsed layers, MACs, parameters, the mask)."""
    baselines, rows = [], []
    for i in range(len(config.baselines)):
        base, r = build_one(config, i, progress=progress, workers=workers)
        baselines.append(base)
        rows.extend(r)
    frame = rows_to_frame(rows)
    # A duplicate is flagged relative to the draws of *this* grid (a mask first drawn by a grid
    # point that is no longer in the config still counts once).
    frame["duplicate"] = frame.duplicated(["baseline", "key"])
    return Bank(config, baselines, frame)


def from_frame(config: BankConfig, baselines: list[Baseline], frame: pd.DataFrame) -> Bank:
    """A bank from already computed parts (e.g. a filtered frame)."""
    return Bank(config, list(baselines), frame.reset_index(drop=True))

