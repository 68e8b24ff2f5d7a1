"""Chapter code: configs from notebook parameters, verdicts (Markdown), glue values."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from prunegan.analysis import collapse
from prunegan.chapters import part1, part2
from prunegan.runs.runner import rows_to_frame
from test_analysis import _rows


def test_smoke_settings_shrink_the_run():
    base = part1.baseline_config(smoke=True)
    assert base.n_train == 400 and base.train.epochs == 1
    config = part1.sweep_config(base, strategy="l1", trials=20, smoke=True)
    assert config.sparsities == part1.SMOKE_SPARSITIES and config.retrain.epochs == 1 and config.trials == 3
    assert part1.smoke_trials(20, True) == 3 and part1.smoke_trials(20, False) == 20
    full = part1.sweep_config(part1.baseline_config(), strategy="noisy-l1", temperature=0.5, trials=2,
                              min_channels_per_layer=1, sparsities=(0.5, 0.9))
    assert full.method.name == "noisy-l1-T0.5-min1" and full.trials == 2 and full.retrain.epochs == 3


def test_feasible_sparsities_stop_where_the_minimum_needs_more_channels():
    assert part1.feasible_sparsities("lenet5", 0)[-1] == 0.95
    assert part1.feasible_sparsities("lenet5", 1)[-1] == 0.9  # 2 of 22 channels kept, one per layer
    assert part1.feasible_sparsities("lenet5", 2)[-1] == 0.8  # round(0.85 * 22) = 19 leaves 3 < 4


def test_collapse_verdict_follows_the_counts():
    answer = collapse.collapse_explains_stuck(rows_to_frame(_rows()))
    assert part1.collapse_verdict(answer).startswith("**No**")
    clean = {**answer, "stuck_without_collapse": 0, "collapsed_but_recovered": 0}
    assert part1.collapse_verdict(clean).startswith("**Yes**")
    assert part1.collapse_verdict({**clean, "collapsed_but_recovered": 2}).startswith("**Partly**")
    assert part1.collapse_verdict({**clean, "stuck": 0}).startswith("No run")


def _protocol_frame():
    """Two held-out networks at 90 %: GAN (two generator seeds) above random-min1, below L1-min1 on net 4."""
    rows = []
    for net in (3, 4):
        for i in range(20):
            noise = 0.01 * ((i * 7) % 5 - 2)
            acc = {"random-min1": 0.60 + noise, "l1-min1": 0.70 if net == 3 else 0.90, "best-bank": 0.80,
                   "random-min1+critic": 0.75 + noise}
            for method, a in acc.items():
                rows.append({"setting": "conv+linear", "network": net, "sparsity": 0.9, "method": method,
                             "label": method, "trial": i, "retrained_acc": a, "collapsed": False, "key": f"{method}{i}"})
            for seed, shift in ((0, 0.0), (1, 0.01)):
                rows.append({"setting": "conv+linear", "network": net, "sparsity": 0.9, "method": "gan", "label": "GAN",
                             "trial": i, "generator_seed": seed, "retrained_acc": 0.79 + shift + noise,
                             "collapsed": False, "key": f"g{seed}{i}"})
    return pd.DataFrame(rows)


def test_targets_are_checked_on_paired_differences():
    df = _protocol_frame()
    t = part2.target_checks(df, "gan").set_index(["target", "network"])
    assert t.loc[("no collapse", 3), "met"] and t.loc[("no collapse", 3), "measured"] == 0
    beat = t.loc[("beats random-min1", 3)]
    assert beat["measured"] == pytest.approx(19.5) and beat["ci_low"] == pytest.approx(19.5) and beat["met"]
    assert t.loc[("at least l1-min1", 3), "met"] and not t.loc[("at least l1-min1", 4), "met"]
    assert t.loc[("within 2 of best bank", 3), "measured"] == pytest.approx(-0.5) and t.loc[("within 2 of best bank", 3), "met"]
    assert t.loc[("at least random-min1+critic", 3), "met"]
    assert t.loc[("seed spread at most 1.5", 3), "measured"] == pytest.approx(1.0) and t.loc[("seed spread at most 1.5", 3), "met"]
    text = part2.verdict(part2.target_checks(df, "gan"))
    assert text.startswith("- no collapse: **met** (2/2 cells)") and "at least l1-min1: **not met** (1/2 cells)" in text
    ab = part2.ablation(df, {"gan": "GAN", "random-min1+critic": "search"})
    assert ab.loc["GAN", "at least l1-min1"] == "1/2" and ab.loc["search", "beats random-min1"] == "2/2"
    h = part2.headlines(part2.cell_table(df), part2.target_checks(df, "gan"))
    assert h["linear_gan_acc_90"] == pytest.approx(0.795, abs=1e-3)
    assert h["target_at_least_l1_min1_met"] == 1 and h["target_at_least_l1_min1_cells"] == 2


def test_paired_table_pairs_by_trial():
    p = part2.paired_table(_protocol_frame())
    row = p[(p["network"] == 4) & (p["other"] == "l1-min1")].iloc[0]
    assert row["n"] == 20 and row["diff_points"] == pytest.approx(-10.5)


def test_part2_configs_and_overview():
    cfg = part2.configs(smoke=True)
    assert len(cfg.networks) == part2.SMOKE["networks"] and cfg.held_out == (2,) and cfg.train_networks == (0, 1)
    assert cfg.banks["conv+linear"].include_linear and not cfg.banks["conv"].include_linear
    full = part2.configs()
    assert full.held_out == (3, 4) and full.gan.networks == (0, 1, 2) and full.protocol.samples == 20
    assert full.banks["conv"].retrain_seeds == 3 and full.banks["conv"].criteria == part2.CRITERIA
    assert min(full.protocol.retrain_seeds()) > 2  # disjoint from the bank's seeds 0-2
    over = part2.mask_space_overview(full)
    row = over[(over["model"] == "lenet5") & (over["setting"] == "conv") & np.isclose(over["sparsity"], 0.9)]
    assert int(row["n_masks_no_collapse"].iloc[0]) == 96
    with pytest.raises(ValueError, match="held_out=5"):
        part2.configs(networks=5, held_out=5)


def test_landscape_percentiles_use_every_exhaustive_row_even_when_a_method_drew_the_mask_first():
    from types import SimpleNamespace
    frame = pd.DataFrame({"method": ["exhaustive"] * 20 + ["noisy-l1"], "sparsity": [0.9] * 21,
                          "baseline": [3] * 10 + [4] * 10 + [3], "retrained_acc": [i / 10 for i in range(10)] * 2 + [5.0]})
    land = part2.landscape(SimpleNamespace(frame=frame), 0.9, (3, 4)).set_index("network")
    assert land.loc[3, "masks"] == 10 and land.loc[3, "best"] == pytest.approx(0.9)
    assert land.loc[4, "p85"] == pytest.approx(np.quantile([i / 10 for i in range(10)], 0.85))


def test_collapse_sweep_covers_every_feasible_sparsity():
    from prunegan import models
    from prunegan.gan import GanConfig, Generator
    g = Generator(GanConfig(seed=0), history=[{"step": 0}])  # zero parameters: uniform over collapse-free masks
    sweep = part2.collapse_sweep([g], {"lenet5": models.build("lenet5")}, include_linear=False, n=5)
    assert sweep["sparsity"].tolist() == pytest.approx([0.05 * i for i in range(1, 19)])  # 95 % leaves 1 of 22
    assert (sweep["collapsed"] == 0).all() and sweep["exact_count"].all() and (sweep["masks"] == 5).all()


def test_cell_pivot_has_one_column_per_method_in_order():
    cells = part2.cell_table(_protocol_frame())
    piv = part2.cell_pivot(cells)
    assert list(piv.columns) == ["random-min1", "l1-min1", "best-bank", "random-min1+critic", "gan"]
    assert piv.loc[("conv+linear", 4, 0.9), "l1-min1"] == pytest.approx(0.9)
    assert part2.cell_pivot(cells, "n").loc[("conv+linear", 3, 0.9), "gan"] == 40


def test_every_target_gets_its_counts_even_when_no_cell_checks_it():
    df = _protocol_frame()
    h = part2.headlines(part2.cell_table(df), part2.target_checks(df, "gan"))
    assert h["target_at_least_landscape_p85_cells"] == 0 and h["target_at_least_landscape_p85_met"] == 0
    assert set(part2.target_checks(df, "gan")["target"]) <= set(part2.TARGETS)
