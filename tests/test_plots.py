"""Figures show the data they are given (lines, error bars, heatmap cells), not just that they exist."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from prunegan.analysis import stats  # noqa: E402
from prunegan.plots import part1, part2  # noqa: E402
from prunegan.runs.runner import rows_to_frame  # noqa: E402
from test_analysis import _rows  # noqa: E402


def _sweep_frame(trials: int = 5):
    rows = []
    for t in range(trials):
        for s, acc in ((0.0, 0.95), (0.5, 0.9 - 0.01 * t), (0.9, 0.5 + 0.1 * t)):
            rows.append({"trial": t, "sparsity": s, "original_acc": 0.95, "pruned_acc": 0.3,
                         "retrained_acc": acc, "collapsed": False})
    return pd.DataFrame(rows)


def _mean_lines(ax):
    return [np.asarray(line.get_ydata()) for line in ax.get_lines() if len(line.get_ydata())]


def test_accuracy_vs_sparsity_draws_means_with_the_t_interval_from_enough_trials():
    df = _sweep_frame(part1.MIN_TRIALS_FOR_BAND)
    fig = part1.accuracy_vs_sparsity(df)
    ax = fig.axes[0]
    data = _mean_lines(ax)
    means = df.groupby("sparsity")["retrained_acc"].mean().to_numpy()
    assert len(data) == 3 and any(np.allclose(y, means) for y in data)  # original, pruned, retrained
    # the retrained band at 90 % spans mean_ci of the trials (seaborn fills between the bounds)
    low, high = stats.mean_ci(df.loc[df["sparsity"] == 0.9, "retrained_acc"])[1:]
    ys = np.concatenate([p.vertices[:, 1] for c in ax.collections for p in c.get_paths()])
    assert np.isclose(ys, low).any() and np.isclose(ys, high).any()
    assert ax.get_legend().get_title().get_text() == f"line: mean of {len(df['trial'].unique())} trials\n" \
        "band: 95 % CI"
    assert fig.get_size_inches()[0] * fig.dpi == pytest.approx(part1.COLUMN_IN * part1.DPI)


def test_accuracy_vs_sparsity_shows_too_few_trials_as_points_without_a_band():
    df = _sweep_frame(part1.MIN_TRIALS_FOR_BAND - 1)
    fig = part1.accuracy_vs_sparsity(df)
    ax = fig.axes[0]
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]  # no CI band
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(offsets) == len(df) * 3  # every trial's three accuracies, as a point each
    assert sorted(offsets[np.isclose(offsets[:, 0], 0.9, atol=0.05), 1]) == pytest.approx(
        sorted([0.95] * len(df["trial"].unique()) + [0.3] * len(df["trial"].unique())
               + df.loc[df["sparsity"] == 0.9, "retrained_acc"].tolist()))
    means = df.groupby("sparsity")["retrained_acc"].mean().to_numpy()
    assert any(np.allclose(y, means) for y in _mean_lines(ax))
    assert ax.get_legend().get_title().get_text() == "line: mean of 4 trials\ndots: each trial"


def test_layer_sparsity_grid_has_a_row_per_trial_and_layer_and_a_column_per_sparsity():
    df = rows_to_frame(_rows())
    grid = part1.layer_sparsity_grid(df)
    assert grid.index.tolist() == ["trial 0 · a", "trial 0 · b", "trial 1 · a", "trial 1 · b",
                                   "trial 2 · a", "trial 2 · b"]
    assert grid.columns.tolist() == ["50", "90"]
    assert grid.loc["trial 1 · a", "90"] == 1.0 and grid.loc["trial 2 · b", "90"] == pytest.approx(2 / 3)
    assert np.isnan(grid.loc["trial 0 · a", "90"])  # trial 0 ran at 50 % only
    one = part1.layer_sparsity_grid(df[df["trial"] == 1])
    assert one.index.tolist() == ["a", "b"]  # one trial: just the layers


def test_layer_sparsity_heatmap_cells_are_the_grid_and_the_figure_is_wider_than_tall():
    df = rows_to_frame(_rows())
    fig = part1.layer_sparsity_heatmap(df)
    cells = fig.axes[0].collections[0].get_array()
    grid = part1.layer_sparsity_grid(df).to_numpy()
    assert np.ma.allclose(cells.reshape(grid.shape), np.ma.masked_invalid(grid))
    width, height = fig.get_size_inches()
    assert width == pytest.approx(part1.COLUMN_IN) and height < width / 2
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["50", "90"]


def test_trials_strip_draws_every_trial_even_when_accuracies_coincide():
    df = pd.DataFrame({"trial": range(6), "collapsed": [True] * 4 + [False] * 2,
                       "pruned_acc": [0.1] * 6, "retrained_acc": [0.1] * 4 + [0.9, 0.95]})
    fig = part1.trials_strip(df)
    offsets = np.concatenate([c.get_offsets() for c in fig.axes[0].collections])
    assert len(offsets) == 2 * len(df)
    assert sorted(offsets[:, 1]) == pytest.approx(sorted([0.1] * 10 + [0.9, 0.95]))
    # the four collapsed trials at 0.1 before retraining sit side by side, a marker's width apart
    xs = np.sort([x for x, y in offsets if 0 < x < 0.5 and y == pytest.approx(0.1)])
    assert len(xs) == 4 and np.diff(xs).min() > 0.01


def test_collapse_rate_lines_per_label():
    df = rows_to_frame(_rows())
    fig = part1.collapse_rate(df)
    (line,) = [ln for ln in fig.axes[0].get_lines() if len(ln.get_ydata())]  # one label: one line
    assert np.asarray(line.get_ydata()).tolist() == [0.0, 0.5]


def _stuck_runs(n_stuck: int = 4):
    rows = [{"min_channels_per_layer": 0, "strategy": "random", "collapsed": True,
             "pruned_acc": 0.1 + 0.001 * i, "retrained_acc": 0.1 - 0.001 * i} for i in range(n_stuck)]
    rows += [{"min_channels_per_layer": m, "strategy": "l1", "collapsed": False, "pruned_acc": 0.5,
              "retrained_acc": 0.9} for m in (0, 1)]
    return pd.DataFrame(rows)


def test_merged_points_count_the_runs_that_round_to_one_point():
    points = part1.merged_points(_stuck_runs(4))
    stuck = points[points["collapsed"]]
    assert len(stuck) == 1 and stuck["runs"].item() == 4
    assert stuck["pruned_acc"].item() == pytest.approx(0.1)
    # a step finer than the spread keeps them apart
    assert len(part1.merged_points(_stuck_runs(4), step=0.001).query("collapsed")) == 4
    with pytest.raises(ValueError, match="step must be in"):
        part1.merged_points(_stuck_runs(), step=0.0)


def test_recovery_scatter_sizes_markers_by_count_and_labels_the_largest():
    fig = part1.recovery_scatter(_stuck_runs(4))
    left = fig.axes[0]
    sizes = sorted(float(s) for c in left.collections for s in c.get_sizes())
    assert sizes == pytest.approx([28.0, 4 * 28.0])  # one l1 run, the four stuck runs on one marker
    assert [t.get_text() for t in left.texts] == ["4 runs"]
    assert len(fig.axes) == 2
    assert left.get_title() == "no minimum per layer (collapse possible)\n5 runs"
    assert fig.axes[1].get_title().startswith("at least 1 channel per layer")
    assert "marker area" in fig.legends[0].get_title().get_text()


def test_protocol_plot_puts_one_interval_per_network_and_method():
    cells = pd.DataFrame([{"setting": st, "network": n, "sparsity": 0.9, "method": m, "label": m.upper(),
                           "mean": 0.5 + 0.1 * n, "ci_low": 0.4 + 0.1 * n, "ci_high": 0.6 + 0.1 * n}
                          for st in ("conv", "conv+linear") for n in (3, 4) for m in ("gan", "random")])
    fig = part2.protocol(cells)
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "conv, 90%"
    points = sorted(float(c.lines[0].get_xdata()[0]) for c in fig.axes[0].containers)
    assert points == pytest.approx([0.8, 0.8, 0.9, 0.9])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["GAN", "RANDOM"]


def test_gan_training_and_keep_map_figures_show_the_data():
    lik = [{"stage": "likelihood", "step": i, "nll": 10.0 - i} for i in range(1, 6)]
    adv = [{"stage": "adversarial", "step": i, "d_real": 0.6, "d_fake": 0.4} for i in range(6, 9)]
    fig = part2.gan_training({"a": lik + adv, "b": lik, "c": adv}, window=1)
    assert len(fig.axes[0].get_lines()) == 2  # the runs with a likelihood stage
    assert np.asarray(fig.axes[0].get_lines()[1].get_ydata()).tolist() == [9.0, 8.0, 7.0, 6.0, 5.0]
    assert len(fig.axes[1].get_lines()) == 4  # bank and generated, for the runs with an adversarial stage
    assert np.asarray(fig.axes[1].get_lines()[1].get_ydata()).tolist() == [0.4] * 3
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b", "c"]
    keep = pd.DataFrame([{"sparsity": s, "layer": layer, "channel": c, "keep_prob": p, "l1": 1.0 - c,
                          "l1_position": c}
                         for s in (0.5, 0.9) for layer, n in (("a", 2), ("b", 3)) for c, p in
                         zip(range(n), np.linspace(0.9, 0.1, n))])
    fig = part2.keep_map(keep)
    cells = fig.axes[0].collections[0].get_array().reshape(2, 2)
    assert np.allclose(cells, [[0.9, 0.1], [0.9, 0.1]])


def test_feature_signal_draws_each_features_mean_and_ci_filled_where_it_excludes_zero():
    from matplotlib.colors import to_rgba

    from prunegan.analysis import signal

    per_net = pd.DataFrame([{"feature": f, "network": n, "spearman": v}
                            for f,
                            vals in (("weak", (0.1, -0.1, 0.05, -0.05)), ("strong", (0.6, 0.5, 0.7, 0.6)),
                                            ("negative", (-0.3, -0.2, -0.4, -0.3)))
                            for n, v in enumerate(vals)])
    table = signal.signal_table(per_net)
    assert table["feature"].tolist() == ["strong", "negative", "weak"]
    assert table["signal"].tolist() == [True, True, False]
    fig = part2.feature_signal(table)
    ax = fig.axes[0]
    # the first feature of the table is drawn at the top
    assert [t.get_text() for t in ax.get_yticklabels()] == ["weak", "negative", "strong"]
    bars = {int(round(float(c.lines[0].get_ydata()[0]))): c for c in ax.containers}
    for y, r in zip(range(len(table)), table.iloc[::-1].itertuples()):
        c = bars[y]
        assert float(c.lines[0].get_xdata()[0]) == pytest.approx(r.mean)
        (segment,) = c.lines[2][0].get_segments()
        assert sorted(segment[:, 0]) == pytest.approx(sorted([r.ci_low, r.ci_high]))
        filled = to_rgba(c.lines[0].get_markerfacecolor()) != to_rgba("white")
        assert filled == r.signal
    assert any(np.allclose(line.get_xdata(), 0) for line in ax.get_lines())  # the zero line


def test_glue_figure_glues_the_figure_for_myst_nb_shown_and_closes_it(monkeypatch, tmp_path):
    import matplotlib.pyplot as plt
    import myst_nb
    import nbformat
    import scrapbook as sb

    calls = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: calls.append((name, value, display)))
    fig = part1.learning_curve([{"epoch": 1, "loss": 1.0}])
    part1.glue_figure("fig_x", fig)
    assert calls == [("fig_x", fig, True)] and not plt.fignum_exists(fig.number)
    # what myst-nb's glue writes (shown: no mime prefix) is not a scrap: the chapter's scraps stay readable
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
        metadata={"scrapbook": {"name": "fig_x", "mime_prefix": ""}})])]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    assert dict(sb.read_notebook(str(path)).scraps) == {}


def test_training_size_draws_each_sides_means_and_cis_against_the_number_of_networks():
    rows = pd.DataFrame([{"where": w, "networks": n, "gap": g, "ci_low": g - 2, "ci_high": g + 3}
                         for w, base in (("held-out", -2.0), ("training", -7.0))
                         for n, g in ((4, base + 1), (2, base), (8, base + 0.5))])
    fig = part2.training_size(rows)
    assert [ax.get_title() for ax in fig.axes] == ["held-out networks: GAN − best criterion",
                                                    "training networks: GAN − soft bank"]
    for ax, base in zip(fig.axes, (-2.0, -7.0)):
        bar = ax.containers[0]
        assert bar.lines[0].get_xdata().tolist() == [2, 4, 8]  # sorted by the number of networks
        assert bar.lines[0].get_ydata().tolist() == pytest.approx([base, base + 1, base + 0.5])
        segments = bar.lines[2][0].get_segments()  # one [[x, low], [x, high]] per point
        low, high = np.array([s[0, 1] for s in segments]), np.array([s[1, 1] for s in segments])
        assert low.tolist() == pytest.approx([base - 2, base - 1, base - 1.5])
        assert high.tolist() == pytest.approx([base + 3, base + 4, base + 3.5])
        assert [t for t in ax.get_xticks()] == [2, 4, 8]


@pytest.mark.parametrize("rows", [pd.DataFrame(columns=["where", "networks", "gap", "ci_low", "ci_high"]),
                                  pd.DataFrame([{"where": "test", "networks": 2, "gap": 0.0, "ci_low": -1.0,
                                                 "ci_high": 1.0}])])
def test_training_size_rejects_rows_it_cannot_place(rows):
    with pytest.raises(ValueError, match="held-out"):
        part2.training_size(rows)
