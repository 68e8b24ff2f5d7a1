"""What chapter 6 shows a reader: the small formatted tables and the sentences after each section (the
statistics, verdicts and glued numbers they format: :mod:`.report`)."""
from __future__ import annotations

import pandas as pd

from ...analysis import comparison
from ...analysis.stats import mean_ci
from ..format import MINUS, MISSING, acc, pct, pts, pts_ci
from .config import CHANNEL_FEATURES


#: The methods of the chapter's main comparison table, in order, with their column names.
KEY_METHODS = {"gan": "GAN", "gan-mode": "GAN's mode", "uniform-collapse-free": "untrained generator",
               "best-criterion": "best criterion", "random-min1": "random-min1"}
#: The keep-probability map is *flat within layers* when the mean within-layer SD of the keep-probabilities
#: is at most this share of the SD between the layers' mean keep-probabilities.
FLAT_SHARE = 0.2


def _cell_name(setting: str, sparsity: float) -> str:
    return f"{setting} {pct(sparsity)}"


def key_comparison(cells: pd.DataFrame, methods: dict[str, str] = KEY_METHODS) -> pd.DataFrame:
    """Per (setting, sparsity): the mean over held-out networks of each of ``methods``' mean test accuracy
    (:func:`prunegan.analysis.comparison.cell_table` rows), formatted ``0.000``; columns ``setting``,
    ``sparsity`` (``90 %``) and one per method (``–`` where a method has no cell)."""
    unknown = set(methods) - set(cells["method"])
    if len(unknown) == len(methods):
        raise ValueError(f"none of the methods {sorted(methods)} is in the cells (methods there: "
                         f"{sorted(set(cells['method']))})")
    means = cells.groupby(["setting", "sparsity", "method"], sort=False)["mean"].mean().unstack("method")
    out = means.reindex(columns=list(methods)).rename(columns=methods).map(acc).reset_index()
    out["sparsity"] = [pct(s) for s in out["sparsity"]]
    return out


def other_methods(cells: pd.DataFrame, methods: dict[str, str] = KEY_METHODS) -> pd.DataFrame:
    """The methods not in ``methods``, one row each: label and the mean test accuracy over networks per
    (setting, sparsity) as ``0.000`` (columns ``conv 80 %`` …)."""
    rest = cells[~cells["method"].isin(list(methods))]
    if rest.empty:
        return pd.DataFrame(columns=["method"])
    rest = rest.assign(cell=[_cell_name(a, s) for a, s in zip(rest["setting"], rest["sparsity"])])
    wide = rest.groupby(["label", "cell"], sort=False)["mean"].mean().unstack("cell")
    return wide.map(acc).reset_index().rename(columns={"label": "method"})


def _pooled(stats: pd.DataFrame, method: str, other: str) -> pd.DataFrame:
    sel = stats[(stats["statistic"] == "networks_paired") & (stats["method"] == method)
                & (stats["other"] == other)]
    return sel.sort_values(["setting", "sparsity"], kind="stable")


def comparison_text(stats: pd.DataFrame, method: str = "gan") -> str:
    """Two sentences: ``method`` − the best standard criterion, then − the untrained generator and −
    random-min1, per (setting, sparsity): mean over networks in points with its 95 % CI over networks."""
    def listing(other):
        g = _pooled(stats, method, other)
        return "; ".join(f"{r.setting} {pct(r.sparsity)}: {pts_ci(r.value, r.ci_low, r.ci_high)}"
                         for r in g.itertuples()) or "not measured"
    return (f"GAN samples − best standard criterion, in accuracy points with the 95 % CI over networks: "
            f"{listing('best-criterion')}. "
            f"GAN − the untrained generator: {listing('uniform-collapse-free')}; "
            f"GAN − random-min1: {listing('random-min1')}.")


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


def cost_table(cells: pd.DataFrame, methods: dict[str, str] = KEY_METHODS) -> pd.DataFrame:
    """Per (setting, sparsity) and method of ``methods``
    (:func:`prunegan.analysis.comparison.accuracy_and_cost`): mean test accuracy over networks beside
    the shares of the dense network's MACs and parameters kept (in %)."""
    t = comparison.accuracy_and_cost(cells[cells["method"].isin(list(methods))])
    t = t.assign(order=t["method"].map(list(methods).index)).sort_values(["setting", "sparsity", "order"],
                                                                        kind="stable")
    return pd.DataFrame({"setting": t["setting"].to_numpy(), "sparsity": t["sparsity"].map(pct).to_numpy(),
                         "method": t["method"].map(methods).to_numpy(),
                         "accuracy": t["accuracy"].map(acc).to_numpy(),
                         "MACs kept": [pct(v, 1) for v in t["macs_kept"]],
                         "parameters kept": [pct(v, 1) for v in t["params_kept"]]})


def distinct_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Per method (its name), the mean over networks of the number of *different* masks it proposed on a
    network, of its ``n`` masks there (``3.8 / 4``), one column per (setting, sparsity); ``–`` where the
    method has no cell."""
    c = cells.assign(cell=[_cell_name(a, s) for a, s in zip(cells["setting"], cells["sparsity"])])
    g = c.groupby(["method", "cell"], sort=False)
    text = (g["distinct"].mean().map(lambda v: f"{v:.1f}") + " / " + g["n"].max().astype(int).astype(str))
    wide = text.unstack("cell").reindex(index=list(dict.fromkeys(c["method"])),
                                        columns=list(dict.fromkeys(c["cell"])))
    return wide.fillna("–").reset_index()


def landscape_table(reported: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Per network's exhaustive landscape: its median, 85th percentile and best test accuracy
    (:func:`.learned.landscapes`), the GAN's exact expected accuracy and its percentile there, and the label
    and percentile of the GAN's most probable mask (``gan-mode``), each the mean over the fold's seeds."""
    e = expected.groupby(["network", "method"])[["expected_acc", "percentile"]].mean()
    r = reported.set_index("network")

    def value(net, method, col, fmt):
        return fmt(e.loc[(net, method), col]) if (net, method) in e.index else "–"
    nets = [int(n) for n in r.index]
    return pd.DataFrame({
        "network": nets, "median": [acc(r.loc[n, "p50"]) for n in nets],
        "85th pct": [acc(r.loc[n, "p85"]) for n in nets], "best": [acc(r.loc[n, "p100"]) for n in nets],
        "GAN E[acc]": [value(n, "gan", "expected_acc", acc) for n in nets],
        "GAN pct": [value(n, "gan", "percentile", lambda v: f"{v:.0f}") for n in nets],
        "mode acc": [value(n, "gan-mode", "expected_acc", acc) for n in nets],
        "mode pct": [value(n, "gan-mode", "percentile", lambda v: f"{v:.0f}") for n in nets]})


def transfer_table(tcells: pd.DataFrame) -> pd.DataFrame:
    """The transfer network's cells (:func:`prunegan.analysis.comparison.cell_table`): per method (its
    label) the mean test accuracy with its 95 % CI over the pairs, one column per sparsity."""
    t = tcells.assign(text=[f"{acc(m)} [{acc(lo)}, {acc(hi)}]"
                            for m, lo, hi in zip(tcells["mean"], tcells["ci_low"], tcells["ci_high"])],
                      col=tcells["sparsity"].map(pct))
    wide = t.pivot_table(index="label", columns="col", values="text", aggfunc="first", sort=False)
    wide = wide.reindex(index=list(dict.fromkeys(t["label"])), columns=list(dict.fromkeys(t["col"])))
    return wide.fillna("–").reset_index().rename(columns={"label": "method"}).rename_axis(columns=None)


def ablation_display(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """:func:`.report.ablation` (variant × target) with the targets numbered ``T1`` … (a column each, so
    that the table fits the page) and the Markdown list that names them."""
    names = list(table.columns)
    out = table.copy()
    out.columns = [f"T{i + 1}" for i in range(len(names))]
    out = out.rename_axis("variant").reset_index()
    return out, "\n".join(f"- **T{i + 1}**: {name}" for i, name in enumerate(names))


def compute_display(compute: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """:func:`prunegan.analysis.comparison.compute_table` formatted (seconds to retrain and to propose one
    mask, the total in retraining-equivalents) and the Markdown list of the one-off costs, one item per
    distinct cost with the methods that share it."""
    t = pd.DataFrame({"method": compute["method"],
                      "retrain (s)": [f"{v:.3f}" for v in compute["retrain_s_per_mask"]],
                      "propose (s)": [f"{v:.3f}" if v >= 1e-3 else "< 0.001"
                                      for v in compute["propose_s_per_mask"]],
                      "retrainings per mask": [f"{v:.2f}" for v in compute["retrain_equivalents_per_mask"]]})
    shared = compute[compute["one_off"] != "none"].groupby("one_off", sort=False)["method"].apply(list)
    items = [f"- {', '.join(f'`{m}`' for m in ms)}: {cost}" for cost, ms in shared.items()]
    return t, "\n".join(items) or "- none"


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


def gap_table(gaps) -> pd.DataFrame:
    """Where the GAN's gap to the best criterion comes from (:class:`.summary.Chapter6Summary`'s ``gaps``:
    (part, short setting, %) → interval): one row per part of :data:`.gaps.PARTS`, one column per setting
    and sparsity, ``mean [CI]`` in points over networks."""
    from .gaps import PARTS
    from .summary import SETTING_SHORT

    cells = sorted({(setting, p) for _, setting, p in gaps},
                   key=lambda c: (list(SETTING_SHORT).index(c[0]) if c[0] in SETTING_SHORT else 9, c[1]))
    rows = [{"part": part, **{f"{SETTING_SHORT.get(k, k)} {p} %": gaps[part, k, p].text()
                              for k, p in cells if (part, k, p) in gaps}} for part in PARTS]
    return pd.DataFrame(rows)


def baseline_table(stats: pd.DataFrame, baselines: dict[str, str], method: str = "gan") -> pd.DataFrame:
    """``method`` − each baseline (``baselines``: method name → label, in order; those measured), one row
    each, one column per setting and sparsity of the two LeNet-5 settings: the mean paired difference over
    networks in points with its 95 % CI over networks (``–`` where not measured)."""
    sel = stats[(stats["statistic"] == "networks_paired") & (stats["method"] == method)
                & stats["other"].isin(list(baselines)) & (stats["setting"] != "transfer")]
    if sel.empty:
        return pd.DataFrame(columns=["baseline"])
    sel = sel.sort_values(["setting", "sparsity"], kind="stable")
    sel = sel.assign(cell=[_cell_name(a, s) for a, s in zip(sel["setting"], sel["sparsity"])],
                     text=[pts_ci(*r) for r in zip(sel["value"], sel["ci_low"], sel["ci_high"])])
    wide = sel.pivot(index="other", columns="cell", values="text")
    wide = wide.reindex(index=[b for b in baselines if b in wide.index],
                        columns=list(dict.fromkeys(sel["cell"]))).fillna(MISSING)
    return wide.rename(index=baselines).rename_axis("baseline").reset_index()
