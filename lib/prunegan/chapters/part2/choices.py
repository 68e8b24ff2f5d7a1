"""What chapter 6 shows a reader of what each fold learned and chose: its networks, the channel features
and their signal, the designs tried, the critics, the best standard criterion, the keep-probability map and
the collapse check (the comparison's tables: :mod:`.tables`)."""
from __future__ import annotations

import pandas as pd

from ...analysis.stats import mean_ci
from ..format import MINUS, pct, pts
from .config import CHANNEL_FEATURES
from .tables import _cell_name


#: The keep-probability map is *flat within layers* when the mean within-layer SD of the keep-probabilities
#: is at most this share of the SD between the layers' mean keep-probabilities.
FLAT_SHARE = 0.2


def keep_spread(keep: pd.DataFrame, *, flat_share: float = FLAT_SHARE) -> pd.DataFrame:
    """Per sparsity of a keep-probability map (:func:`prunegan.analysis.masks.keep_map`): ``within``, the
    channel-weighted mean of each layer's SD of keep-probabilities; ``between``, the SD of the layers' mean
    keep-probabilities; ``flat``: ``within <= flat_share * between`` (the map sets how many channels each
    layer keeps, not which)."""
    if not 0 < flat_share < 1:
        raise ValueError(f"flat_share must be in (0, 1), got {flat_share!r}")
    rows = []
    for s, g in keep.groupby("sparsity"):
        per = g.groupby("layer", sort=False)["keep_prob"].agg(["std", "mean", "size"])
        within = float((per["std"].fillna(0.0) * per["size"]).sum() / per["size"].sum())
        between = float(per["mean"].std(ddof=0))
        rows.append({"sparsity": float(s), "within": within, "between": between,
                     "flat": within <= flat_share * between})
    return pd.DataFrame(rows)


def keep_text(spread: pd.DataFrame, flat_share: float = FLAT_SHARE) -> str:
    """Two sentences on :func:`keep_spread`: the two spreads per sparsity, and whether the map is flat
    within layers."""
    parts = "; ".join(f"at {pct(r.sparsity)}, {r.within:.3f} within layers vs {r.between:.3f} between them"
                      for r in spread.itertuples())
    if spread["flat"].all():
        verdict = ("The map is flat within layers (the within-layer spread is at most "
                   f"{pct(flat_share)} of the between-layer one at every sparsity): the generator learned "
                   "how many channels each layer keeps, not which channels.")
    elif not spread["flat"].any():
        verdict = ("The map is not flat within layers: it also ranks channels inside each layer (the "
                   f"within-layer spread exceeds {pct(flat_share)} of the between-layer one at every "
                   "sparsity).")
    else:
        flat = ", ".join(pct(s) for s in spread.loc[spread["flat"], "sparsity"])
        verdict = (f"The map is flat within layers only at {flat} (within-layer spread at most "
                   f"{pct(flat_share)} of the between-layer one).")
    return f"Standard deviation of the keep-probabilities {parts}. {verdict}"


def design_pivot(overview: pd.DataFrame) -> pd.DataFrame:
    """:func:`.crossfit.design_overview` as a small table: one row per candidate design (entropy, critic),
    one column per fold with its advantage over the simplest design in points, ``✓`` where the fold chose
    it (the CIs: :func:`design_detail`)."""
    o = overview.assign(cell=[f"{pts(a)}{' ✓' if c else ''}" for a, c in zip(overview["advantage"],
                                                                             overview["chosen"])])
    wide = o.pivot_table(index=["entropy_weight", "critic_weight"], columns="fold", values="cell",
                         aggfunc="first", sort=False)
    wide.columns = [f"fold {k}" for k in wide.columns]
    wide = wide.reset_index().rename(columns={"entropy_weight": "entropy", "critic_weight": "critic"})
    for c in ("entropy", "critic"):
        wide[c] = [f"{v:g}" for v in wide[c]]
    return wide


def design_detail(overview: pd.DataFrame) -> pd.DataFrame:
    """:func:`.crossfit.design_overview` formatted, one row per fold and candidate: advantage (points), its
    95 % CI over the training networks, whether the CI clears 0 and whether the fold chose the design."""
    return pd.DataFrame({
        "fold": overview["fold"].astype(int), "entropy": [f"{v:g}" for v in overview["entropy_weight"]],
        "critic": [f"{v:g}" for v in overview["critic_weight"]], "advantage": overview["advantage"].map(pts),
        "95 % CI": [f"[{pts(lo)}, {pts(hi)}]" for lo, hi in zip(overview["ci_low"], overview["ci_high"])],
        "clears": ["yes" if c else "no" for c in overview["clears"]],
        "chosen": ["✓" if c else "" for c in overview["chosen"]]})


def design_text(overview: pd.DataFrame, final: tuple[float, float]) -> str:
    """Two sentences: in how many folds a candidate design's advantage over the simplest design cleared its
    CI (and so replaced it), and the design used on a new network (``final``: :func:`.crossfit.final_design`'s
    (entropy, critic))."""
    chosen = overview[overview["chosen"]]
    folds = overview["fold"].nunique()
    replaced = int(chosen["clears"].sum())  # a fold's design replaced the simplest only when it cleared
    return (f"In {replaced} of {folds} folds a candidate design's advantage over the simplest design (the "
            f"smallest critic and entropy weights of the grid) cleared its 95 % CI over the training "
            f"networks and replaced it. "
            f"The design the folds chose most often, used for a new network, has entropy weight {final[0]:g} "
            f"and critic weight {final[1]:g}.")


def fold_table(folds: list) -> pd.DataFrame:
    """Per fold (:class:`.crossfit.Fold`): the networks it held out, the design it chose and how many
    channel features its generator reads (``Fold.features`` minus the structural ones; which ones:
    :func:`feature_table`)."""
    return pd.DataFrame({
        "fold": [int(f.k) for f in folds],
        "held out": [", ".join(map(str, f.cfg.held_out)) for f in folds],
        "design": [f"entropy {f.chosen[0]:g}, critic {f.chosen[1]:g}" for f in folds],
        "channel features read": [sum(x in CHANNEL_FEATURES for x in f.features) for f in folds]})


def best_criterion_table(folds: list) -> pd.DataFrame:
    """Per fold: the best standard criterion chosen on its training networks in each (setting, sparsity)
    (tied names joined by ``=``), one column per cell (``conv 90 %``)."""
    rows = []
    for f in folds:
        row = {"fold": int(f.k)}
        for r in f.best[f.best["best"]].sort_values(["setting", "sparsity"], kind="stable").itertuples():
            row[_cell_name(r.setting, r.sparsity)] = str(r.ties)
        rows.append(row)
    return pd.DataFrame(rows).fillna("–")


def feature_table(folds: list) -> pd.DataFrame:
    """Per candidate channel feature: the mean over folds of its within-layer Spearman with the channel
    value (``signal_summary``), in how many folds its CI excludes 0, and in how many folds the generator
    reads it (``Fold.features``, selected inside each fold), as ``k/n``; strongest first."""
    summary = pd.concat([f.signal_summary.assign(fold=f.k) for f in folds], ignore_index=True)
    g = summary.groupby("feature", sort=False)
    n = len(folds)
    out = pd.DataFrame({"mean": g["mean"].mean(), "signal": g["signal"].sum()}).sort_values("mean",
                                                                                          ascending=False)
    return pd.DataFrame({
        "feature": out.index, "mean Spearman": [f"{v:+.3f}".replace("-", MINUS) for v in out["mean"]],
        "CI excludes 0": [f"{int(v)}/{n}" for v in out["signal"]],
        "read by the generator": [f"{sum(x in f.features for f in folds)}/{n}" for x in out.index]})


def feature_text(folds: list) -> str:
    """Two sentences: the strongest candidate feature (mean Spearman over folds) and how many channel
    features the folds' generators read."""
    t = feature_table(folds)
    read = [x for x in t["feature"] if any(x in f.features for f in folds)]
    top = t.iloc[0]
    return (f"The strongest candidate is `{top['feature']}` (mean within-layer Spearman "
            f"{top['mean Spearman']} over folds; its CI excludes 0 in {top['CI excludes 0']} folds). "
            f"{len(read)} of {len(t)} candidates are read by at least one fold's generator"
            f"{': ' + ', '.join(f'`{x}`' for x in read) if read else ''}.")


def critic_table(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`.learned.critic_summary` (one row per setting, network, sparsity) pooled over networks: per
    (setting, sparsity) the mean of the networks' Spearman (all masks; collapse-free masks) with its 95 %
    t-CI over the networks, as ``0.42 [0.31, 0.53]``, and the number of networks."""
    rows = []
    for (setting, s), g in summary.groupby(["setting", "sparsity"], sort=False):
        row = {"setting": setting, "sparsity": pct(s)}
        for col, name in (("spearman", "rank corr., all masks"),
                          ("spearman_collapse_free", "rank corr., collapse-free")):
            v = g[col].dropna()
            if len(v) >= 2:
                m, lo, hi = mean_ci(v.to_numpy(float))
                row[name] = f"{m:.2f} [{lo:.2f}, {hi:.2f}]".replace("-", MINUS)
            else:
                row[name] = "–" if v.empty else f"{float(v.iloc[0]):.2f}".replace("-", MINUS)
        row["networks"] = int(g["network"].nunique())
        rows.append(row)
    return pd.DataFrame(rows)


def allocation_table(keep: pd.DataFrame, agreement: pd.DataFrame) -> pd.DataFrame:
    """One row per layer of a keep-probability map (:func:`prunegan.analysis.masks.keep_map`): per sparsity
    the expected number of channels kept (``kept at 90 %``, the sum of the layer's keep-probabilities, of
    its ``channels``) and the within-layer Spearman with mean |w| (``ρ with |w| at 90 %``,
    :func:`prunegan.analysis.masks.l1_agreement`; ``–`` where the layer's probabilities are all equal)."""
    sizes = keep[keep["sparsity"] == keep["sparsity"].iloc[0]].groupby("layer", sort=False).size()
    layers = list(sizes.index)
    out = pd.DataFrame({"layer": layers, "channels": sizes.astype(int).to_numpy()})
    rho = {(float(r.sparsity), r.layer): r.spearman for r in agreement.itertuples()}
    for s, g in keep.groupby("sparsity"):
        kept = g.groupby("layer")["keep_prob"].sum()
        out[f"kept at {pct(s)}"] = [f"{kept[la]:.1f}" for la in layers]
        out[f"ρ with |w| at {pct(s)}"] = [f"{rho[(float(s), la)]:.2f}".replace("-", MINUS)
                                           if (float(s), la) in rho else "–" for la in layers]
    return out


def collapse_table(collapse: pd.DataFrame) -> pd.DataFrame:
    """:func:`.learned.collapse_sweep` rows summed per setting: masks sampled, masks with a collapsed layer,
    and whether every mask pruned exactly ``round(sparsity · n)`` channels."""
    g = collapse.groupby("setting", sort=False)
    return pd.DataFrame({"setting": list(g.groups), "masks sampled": g["masks"].sum().astype(int).to_numpy(),
                         "with a collapsed layer": g["collapsed"].sum().astype(int).to_numpy(),
                         "exact channel count": ["every mask" if v else "not every mask"
                                                 for v in g["exact_count"].all()]})


def lono_table(lono: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """:func:`prunegan.analysis.signal.lono` rows formatted (per held-out network: within-layer Spearman of
    the prediction with the channel value, layers and channels used) and a sentence with their mean and
    95 % t-CI over the networks."""
    if lono.empty:
        return pd.DataFrame(columns=["network"]), "No channel feature was chosen: there is nothing to test."
    t = pd.DataFrame({"network": lono["network"].astype(int),
                      "Spearman": [pts(v, 2) for v in lono["spearman"]],
                      "layers": lono["n_layers"].astype(int), "channels": lono["n_channels"].astype(int)})
    v = lono["spearman"].dropna().to_numpy(float)
    if len(v) < 2:
        return t, f"One network: Spearman {t['Spearman'].iloc[0]}."
    m, lo, hi = mean_ci(v)
    return t, (f"Mean over the {len(v)} networks: {pts(m, 2)} [{pts(lo, 2)}, {pts(hi, 2)}] (95 % t-CI); "
               f"a map that ranked channels at random would give 0.")
