"""chapters.answer: the answer's lead sentence follows the CIs over networks (both sides of the
−1-point margin and of 0), every number comes from the scraps, and the verdict table compares replicates."""
from __future__ import annotations

import pytest

from prunegan.chapters import answer
from prunegan.chapters.part2.config import TARGETS
from prunegan.chapters.part2.report import _slug


def scraps(low: float, high: float, **extra) -> dict:
    s = {"gan_networks": 10.0}
    for k, p in answer._cells():
        for other in ("best", "random"):
            key = f"margin_{other}_{k}_{p}"
            s.update({key: (low + high) / 2, f"{key}_ci_low": low, f"{key}_ci_high": high})
        s.update({f"{k}_gan_acc_{p}": 0.80, f"{k}_uniform_collapse_free_acc_{p}": 0.79,
                  f"{k}_gan_mode_acc_{p}": 0.75, f"{k}_best_criterion_acc_{p}": 0.77})
    for t in TARGETS:
        s.update({f"target_{_slug(t.name)}_status": "not met", f"target_{_slug(t.name)}_met": 0.0,
                  f"target_{_slug(t.name)}_cells": 4.0})
    s.update(extra)
    return s


@pytest.mark.parametrize("low, high, lead", [
    (-3.0, -0.1, "worse than the best standard criterion's in every setting"),
    (-3.0, 0.0, "not shown to match"),  # a CI that touches 0 is not "worse"
    (-0.99, 2.0, "at least as good as the best standard criterion's (within 1 point) everywhere"),
    (-1.0, 2.0, "not shown to match the best standard criterion's: in 4 of 4"),  # −1 itself is not > −1
])
def test_the_lead_follows_the_cis_on_both_sides_of_each_threshold(low, high, lead):
    assert lead in answer.lead(scraps(low, high))


def test_the_lead_counts_the_cells_that_are_worse():
    s = scraps(-3.0, 1.0)
    s["margin_best_conv_80_ci_high"] = -0.5
    assert "worse than the best standard criterion's in 1 of 4 settings" in answer.lead(s)
    s["margin_best_conv_80_ci_high"] = 0.0  # touching 0: not worse
    assert "not shown to match" in answer.lead(s)


def test_the_answer_quotes_the_scraps():
    s = scraps(-2.5, 1.5)
    s["margin_best_conv_80"] = -0.45
    text = answer.answer(s)
    assert "over the 10 networks" in text
    assert "conv channels: −0.5 [−2.5, +1.5] at 80 %" in text
    assert "+1.0 (conv 80 %)" in text  # GAN − untrained generator, in points
    assert "−2.0 (linear 90 %)" in text  # most probable mask − best criterion
    assert f"Of the {len(TARGETS)} targets checked, 0 are met." in text
    first = TARGETS[0].name
    s[f"target_{_slug(first)}_status"] = "met"
    assert text != answer.answer(s) and f"1 is met: {first}." in answer.answer(s)


def test_the_verdict_table_says_where_replicates_disagree():
    r0, r1 = scraps(-1, 1), scraps(-1, 1)
    slug = _slug(TARGETS[2].name)
    r1.update({f"target_{slug}_status": "met", f"target_{slug}_met": 4.0})
    del r1[f"target_{_slug(TARGETS[3].name)}_cells"]
    table = answer.verdict_table({"replicate 0": r0, "replicate 1": r1})
    assert list(table.index) == [t.name for t in TARGETS]
    assert table.loc[TARGETS[2].name].tolist() == ["0/4 not met", "4/4 met", "no"]
    assert table.loc[TARGETS[3].name, "replicate 1"] == "–"
    assert table.loc[TARGETS[0].name, "agree"] == "yes"
    assert "agree" not in answer.verdict_table({"replicate 0": r0}).columns


def test_agreement_names_each_verdict_that_differs_with_both_replicates_cis():
    name = TARGETS[2].name
    r0, r1 = scraps(-1, 1), scraps(-1, 1)
    head = f"- {name} (paired difference): "
    r0["gan_verdict"] = head + "**not met** (0/4 cells) — conv 80% (10 networks): -1.5 [-3.0, 0.0]"
    r1["gan_verdict"] = head + "**met** (4/4 cells) — conv 80% (10 networks): +2.0 [+0.5, +3.5]"
    assert answer.agreement({"replicate 0": r0, "replicate 1": dict(r1)}) == (
        f"The 2 replicates agree on every one of the {len(TARGETS)} verdicts.")
    r1[f"target_{_slug(name)}_status"] = "met"
    text = answer.agreement({"replicate 0": r0, "replicate 1": r1})
    assert f"agree on {len(TARGETS) - 1} of the {len(TARGETS)} verdicts" in text
    assert f"**{name}** differs" in text
    assert "replicate 0: not met (conv 80% (10 networks): -1.5 [-3.0, 0.0])" in text
    assert "replicate 1: met (conv 80% (10 networks): +2.0 [+0.5, +3.5])" in text
    assert "make replicate" in answer.agreement({"replicate 0": r0})
