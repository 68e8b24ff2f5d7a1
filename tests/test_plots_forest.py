"""plots.part2.forest: one labelled point per network and the pooled CI over networks, per panel."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from prunegan.analysis import comparison  # noqa: E402
from prunegan.plots import part2 as plots  # noqa: E402


def _stats():
    rows = []
    for s in (0.8, 0.9):
        for n, v in ((3, 2.0), (4, -6.0), (7, 1.0)):
            rows.append({"statistic": "paired", "method": "gan", "other": "best-criterion", "setting": "conv",
                         "network": n, "sparsity": s, "n": 4, "value": v, "ci_low": v - 1, "ci_high": v + 1})
    per = pd.DataFrame(rows)
    return pd.concat([per, comparison.over_networks(per)], ignore_index=True)


def test_forest_labels_every_network_and_the_pooled_interval():
    stats = _stats()
    fig = plots.forest(stats, "gan", "best-criterion", threshold=-1.0)
    axes = fig.axes
    assert len(axes) == 2 and [a.get_title() for a in axes] == ["conv, 80%", "conv, 90%"]
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    assert labels == ["net 3", "net 4", "net 7", "pooled (3 networks)"]
    pooled = stats[stats["statistic"] == "networks_paired"].iloc[0]
    # the pooled marker sits at the mean over networks; the threshold and 0 are drawn
    xs = [line.get_xdata()[0] for line in axes[0].lines if len(line.get_xdata()) == 1]
    assert any(np.isclose(x, pooled["value"]) for x in xs)
    verticals = {float(line.get_xdata()[0]) for line in axes[0].lines
                 if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]}
    assert {0.0, -1.0} <= verticals
    with pytest.raises(ValueError, match="no networks_paired rows of 'gan' − 'random-min1'"):
        plots.forest(stats, "gan", "random-min1")


def test_forest_fits_the_column_two_panels_a_row_with_readable_fonts():
    stats = _stats()
    fig = plots.forest(stats, "gan", "best-criterion")
    width_px = fig.get_figwidth() * fig.dpi
    assert 700 <= width_px <= 800
    ticks = fig.axes[0].get_yticklabels() + fig.axes[0].get_xticklabels()
    assert min(t.get_fontsize() for t in ticks) >= plots.FONT_PT


def test_gan_training_legend_sits_outside_the_axes():
    hist = [{"stage": "likelihood", "step": i, "nll": 10 - i} for i in range(10)]
    fig = plots.gan_training({"run a": hist, "run b": hist})
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["run a", "run b"]
    assert fig.get_figwidth() * fig.dpi <= 800


def test_protocol_colours_are_distinct_beyond_ten_methods():
    pal = plots._palette([f"m{i}" for i in range(15)])
    assert len(set(pal.values())) == 15


def test_keep_map_gives_every_layer_its_own_row_labelled_by_layer():
    rows = [{"layer": layer, "channel": c, "l1_position": c, "sparsity": s, "keep_prob": 0.5}
            for layer, n in (("conv1", 6), ("conv2", 16)) for c in range(n) for s in (0.8, 0.9)]
    fig = plots.keep_map(pd.DataFrame(rows))
    heat = [ax for ax in fig.axes if ax.get_ylabel()]
    assert [ax.get_ylabel() for ax in heat] == ["conv1\n(6 ch.)", "conv2\n(16 ch.)"]
    assert fig.get_figwidth() * fig.dpi <= 800
