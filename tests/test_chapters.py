"""Chapter code: configs from notebook parameters, verdicts (Markdown), glue values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from prunegan.analysis import collapse, masks
from prunegan.chapters import part1, part2
from prunegan.runs.runner import rows_to_frame
from test_analysis import _rows, summary_rows


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


def test_headline_and_verdict_from_a_summary():
    s = masks.summarize(rows_to_frame(summary_rows()))
    h = part2.headline(s, sparsities=(0.5,))
    assert h["gan_acc_50"] == pytest.approx(0.8) and h["random_min1_acc_50"] == pytest.approx(0.65)
    assert h["gan_minus_random_min1_50"] == pytest.approx(0.15) and h["gan_minus_l1_50"] == pytest.approx(-0.05)
    assert h["gan_acc_50_lo"] == pytest.approx(s.set_index("method").loc["gan", "ci_low"])
    assert all(isinstance(v, float) and math.isfinite(v) for v in h.values())
    text = part2.verdict(s, sparsities=(0.5,))
    lines = text.split("\n")
    assert all(line.startswith("- ") for line in lines)  # a Markdown bullet list
    assert "target 0 %: **not met**" in lines[0]
    assert "At 50%: GAN 0.800" in text and "random with one channel per layer: **yes** (+15.0 points)" in text
    clean = s[s["method"] != "gan"]
    assert part2.verdict(clean, sparsities=(0.5,)) == ""  # no GAN rows: nothing to judge


def test_configs_and_overview():
    cfg = part2.configs(smoke=True)
    assert len(cfg.bank.baselines) == part2.SMOKE["bank_seeds"] and cfg.bank_linear.include_linear
    assert cfg.compare.baseline == cfg.bank.baselines[0] and cfg.transfer.baseline.model == "lenet5-caffe"
    assert not cfg.transfer.best_bank and cfg.compare.best_bank
    full = part2.configs()
    assert full.bank.baselines[0].init_seed == 0 and full.compare.samples >= 5
    assert full.bank.retrain.epochs == 1 == full.compare.retrain.epochs  # notebook 06's budget, passed explicitly
    over = part2.mask_space_overview(full)
    assert set(over["setting"]) == {"conv only", "conv + hidden linear"}
    row = over[(over["model"] == "lenet5") & (over["setting"] == "conv only") & np.isclose(over["sparsity"], 0.9)]
    assert int(row["n_masks"].iloc[0]) == 231 and row["log10_masks"].iloc[0] == pytest.approx(math.log10(231))
    with pytest.raises(ValueError, match="bank_seeds"):
        part2.configs(bank_seeds=0)
