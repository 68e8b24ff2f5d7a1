"""What chapter 6 shows a reader of the comparison: the methods' accuracies, costs and margins, the
landscapes, the transfer network, the ablation, the compute, the baselines and where the gap comes from
(what each fold learned and chose: :mod:`.choices`; the statistics and verdicts: :mod:`.report`)."""
from __future__ import annotations

import pandas as pd

from ...analysis import comparison
from ..format import MISSING, acc, pct, pts_ci
from .gaps import PARTS
from .summary import SETTING_SHORT


#: The methods of the chapter's main comparison table, in order, with their column names.
KEY_METHODS = {"gan": "GAN", "gan-mode": "GAN's mode", "uniform-collapse-free": "untrained generator",
               "best-criterion": "best criterion", "random-min1": "random-min1"}


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


def gap_table(gaps) -> pd.DataFrame:
    """Where the GAN's gap to the best criterion comes from (:class:`.summary.Chapter6Summary`'s ``gaps``:
    (part, short setting, %) → interval): one row per part of :data:`.gaps.PARTS`, one column per setting
    and sparsity, ``mean [CI]`` in points over networks."""
    cells = sorted({(setting, p) for _, setting, p in gaps},
                   key=lambda c: (list(SETTING_SHORT).index(c[0]) if c[0] in SETTING_SHORT else 9, c[1]))
    rows = [{"part": part, **{f"{SETTING_SHORT.get(k, k)} {p} %": gaps[part, k, p].text()
                              for k, p in cells if (part, k, p) in gaps}} for part in PARTS]
    return pd.DataFrame(rows)


def baseline_frame(stats: pd.DataFrame, baselines: dict[str, str], method: str = "gan") -> pd.DataFrame:
    """The ``networks_paired`` rows of ``method`` − each baseline of ``baselines`` (method name → label) in
    the two LeNet-5 settings, in the order of ``baselines`` then setting and sparsity, with its ``label``."""
    sel = stats[(stats["statistic"] == "networks_paired") & (stats["method"] == method)
                & stats["other"].isin(list(baselines)) & (stats["setting"] != "transfer")]
    order = {b: i for i, b in enumerate(baselines)}
    sel = sel.assign(order=sel["other"].map(order), label=sel["other"].map(baselines))
    return sel.sort_values(["order", "setting", "sparsity"], kind="stable").drop(columns="order")


def baseline_table(stats: pd.DataFrame, baselines: dict[str, str], method: str = "gan") -> pd.DataFrame:
    """``method`` − each baseline (``baselines``: method name → label, in order; those measured): one row
    per baseline and setting, one column per sparsity, the mean paired difference over networks in points
    with its 95 % CI over networks (``–`` where not measured)."""
    sel = baseline_frame(stats, baselines, method)
    if sel.empty:
        return pd.DataFrame(columns=["baseline", "setting"])
    sel = sel.assign(text=[pts_ci(*r) for r in zip(sel["value"], sel["ci_low"], sel["ci_high"])],
                     pct=[pct(x) for x in sel["sparsity"]])
    wide = sel.pivot_table(index=["label", "setting"], columns="pct", values="text", aggfunc="first",
                           sort=False)
    return wide.fillna(MISSING).reset_index().rename(columns={"label": "baseline"}).rename_axis(columns=None)
