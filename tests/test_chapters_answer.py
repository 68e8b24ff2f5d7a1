"""chapters.answer: the answer's lead sentence follows the CIs over networks (both sides of the
−1-point margin and of 0), every number comes from the scraps, and the verdict table compares replicates."""
from __future__ import annotations

import pytest

from prunegan.chapters import answer
from prunegan.chapters.part2.config import TARGETS
from prunegan.chapters.part2.summary import TARGET_CELLS, Chapter6Summary
from prunegan.chapters.part2.summary import slug as _slug

S = Chapter6Summary.from_scraps  # the tests write scraps, as chapter 6 glues them; answer reads the summary


def reps(replicates: dict) -> dict:
    return {label: S(s) for label, s in replicates.items()}


def scraps(low: float, high: float, **extra) -> dict:
    s = {"gan_networks": 10.0}
    for k, p in answer._cells():
        for other in ("best", "random", "untrained", "mode_best", "adversarial", "likelihood_best",
                      "scratch_best"):
            key = f"margin_{other}_{k}_{p}"
            s.update({key: (low + high) / 2, f"{key}_ci_low": low, f"{key}_ci_high": high})
        gap = f"fit_final_gap_{k}_{p}"
        s.update({gap: -1.0, f"{gap}_ci_low": -1.5, f"{gap}_ci_high": -0.5})
        s.update({f"{k}_gan_acc_{p}": 0.80, f"{k}_uniform_collapse_free_acc_{p}": 0.79,
                  f"{k}_gan_mode_acc_{p}": 0.75, f"{k}_best_criterion_acc_{p}": 0.77})
    for k in answer.SETTINGS:
        for d, (fits, diverged, learned) in {"gan": (20, 0, 20), "scratch": (20, 3, 12)}.items():
            s.update({f"fit_{d}_{k}_fits": fits, f"fit_{d}_{k}_diverged": diverged,
                      f"fit_{d}_{k}_learned": learned})
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
    assert lead in answer.lead(S(scraps(low, high)))


def test_the_lead_counts_the_cells_that_are_worse():
    s = scraps(-3.0, 1.0)
    s["margin_best_conv_80_ci_high"] = -0.5
    assert "worse than the best standard criterion's in 1 of 4 settings" in answer.lead(S(s))
    s["margin_best_conv_80_ci_high"] = 0.0  # touching 0: not worse
    assert "not shown to match" in answer.lead(S(s))


def test_the_answer_quotes_the_scraps():
    s = scraps(-2.5, 1.5)
    s["margin_best_conv_80"] = -0.45
    text = answer.answer(S(s))
    assert "over the 10 networks" in text
    lines = text.splitlines()
    assert lines[0].startswith("**On a LeNet-5 it has not seen,") and lines[1] == ""  # the lead, then bullets
    assert len(lines) == 2 + 8 and all(line.startswith("- ") for line in lines[2:])
    assert lines[-1].startswith("- Of the ")
    assert "conv channels: −0.5 [−2.5, +1.5] at 80 %" in text
    s2 = {**s, "margin_untrained_conv_90": 1.04, "margin_mode_best_linear_80_ci_low": -7.26}
    text2 = answer.answer(S(s2))
    assert "untrained generator (uniform over collapse-free masks): conv channels: −0.5 [−2.5, +1.5] / " \
           "+1.0 [−2.5, +1.5]" in text2  # GAN − untrained generator with its CI, 80 % / 90 %
    assert "criterion: conv channels: −0.5 [−2.5, +1.5] / −0.5 [−2.5, +1.5]; conv channels and hidden " \
           "Linear units: −0.5 [−7.3, +1.5]" in text2  # most probable mask − best criterion
    assert f"Of the {len(TARGETS)} targets checked, 0 are met." in text
    # the fit checks and the two stages: 6 of 80 adversarial fits diverged (the from-scratch ones), 16 of 40
    # from-scratch fits lost their bank
    assert "6 of the 80 adversarial fits diverged, 16 of the GAN-from-scratch fits" in text
    assert "conv 80 %: −1.0 [−1.5, −0.5]" in text
    assert "likelihood stage alone (80 % / 90 %): conv: −0.5 [−2.5, +1.5]" in text
    first = TARGETS[0].name
    s[f"target_{_slug(first)}_status"] = "met"
    assert text != answer.answer(S(s)) and f"1 is met: {first}." in answer.answer(S(s))


def test_the_verdict_table_says_where_replicates_disagree():
    r0, r1 = scraps(-1, 1), scraps(-1, 1)
    slug = _slug(TARGETS[2].name)
    r1.update({f"target_{slug}_status": "met", f"target_{slug}_met": 4.0})
    del r1[f"target_{_slug(TARGETS[3].name)}_cells"]
    table = answer.verdict_table(reps({"replicate 0": r0, "replicate 1": r1}))
    assert list(table.index) == [t.name for t in TARGETS]
    assert table.loc[TARGETS[2].name].tolist() == ["0/4 not met", "4/4 met", "no"]
    assert table.loc[TARGETS[3].name, "replicate 1"] == "–"
    assert table.loc[TARGETS[0].name, "agree"] == "yes"
    assert "agree" not in answer.verdict_table(reps({"replicate 0": r0})).columns



def test_the_verdict_markdown_names_the_target_column_and_has_no_index_row():
    r0, r1 = scraps(-1, 1), scraps(-1, 1)
    lines = answer.verdict_markdown(reps({"replicate 0": r0, "replicate 1": r1})).splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["target", "replicate 0", "replicate 1",
                                                                   "agree"]
    assert len(lines) == 2 + len(TARGETS)  # header, rule, one row per target: no index-name row
    assert lines[2].startswith(f"| {TARGETS[0].name}")


def test_count_says_epoch_or_epochs_and_refuses_a_fraction():
    assert answer.count(1.0, "epoch") == "1 epoch"
    assert answer.count(2, "epoch") == "2 epochs" and answer.count(0, "epoch") == "0 epochs"
    with pytest.raises(ValueError, match=r"whole number >= 0, got 1\.5"):
        answer.count(1.5, "epoch")
    with pytest.raises(ValueError, match="got -1"):
        answer.count(-1, "epoch")


def test_the_verdict_table_of_two_replicates_fits_the_page_column():
    from prunegan.book import html_checks as hc

    r = scraps(-1, 1)
    table = answer.verdict_table(reps({"replicate 0": r, "replicate 1": r}))
    worst = ["4/4 not met", "4/4 not met", "yes"]
    rows = [[table.index.name, *table.columns]] + [[i, *worst] for i in table.index]
    assert hc.table_width_px(rows) <= hc.COLUMN_PX


BEATS = TARGETS[2]  # "beats random-min1": low end of the CI > 0


def judged(*cells: tuple[str, float, float, float]) -> dict:
    """Scraps holding BEATS's judged cells (:data:`report.TARGET_CELLS`) as :func:`report.headlines` glues
    them: per (cell, value, low, high) the verdict's text and the target's judgement (low end > 0)."""
    rows = [{"cell": c, "text": f"{v:+.1f} [{lo:+.1f}, {hi:+.1f}]", "value": v, "ci_low": lo, "ci_high": hi,
             "threshold": 0.0, "met": lo > 0} for c, v, lo, hi in cells]
    return {TARGET_CELLS: {BEATS.name: rows}}


def test_judged_cells_are_read_from_the_glued_scrap():
    s = S({**scraps(-1, 1), **judged(("conv 80%", -1.5, -3.0, 0.0), ("conv 90%", 0.2, 0.1, 0.3))})
    cells = s.target(BEATS.name).by_cell()
    assert list(cells) == ["conv 80%", "conv 90%"]
    assert cells["conv 80%"]["text"] == "-1.5 [-3.0, +0.0]" and cells["conv 80%"]["met"] is False
    assert cells["conv 90%"]["met"] is True
    assert s.target(TARGETS[0].name).by_cell() == {}  # no cell of that target
    assert S(scraps(-1, 1)).target(BEATS.name).by_cell() == {}  # a chapter built before the scrap existed
    assert S({}).target(BEATS.name).status == "not checked"
    assert not hasattr(answer, "verdict_cells") and not hasattr(answer, "meets") and not hasattr(answer, "re")


def test_agreement_names_each_verdict_that_differs_with_both_replicates_cis_side_by_side():
    r0 = {**scraps(-1, 1), **judged(("conv 80%", -1.5, -3.0, 0.0), ("conv 90%", 0.5, 0.1, 0.9))}
    r1 = {**scraps(-1, 1), **judged(("conv 80%", 2.0, 0.5, 3.5), ("conv 90%", 0.4, 0.2, 0.6))}
    same = answer.agreement(reps({"replicate 0": r0, "replicate 1": dict(r1)}))
    assert same == f"**The 2 replicates agree on all {len(TARGETS)} target verdicts.**"
    r1[f"target_{_slug(BEATS.name)}_status"] = "met"
    text = answer.agreement(reps({"replicate 0": r0, "replicate 1": r1}))
    assert f"agree on {len(TARGETS) - 1} of the {len(TARGETS)} target verdicts" in text
    assert (f"**{BEATS.name}** differs between the replicates (not met in replicate 0, met in replicate 1)"
            in text)
    assert BEATS.describe() in text
    # only the cell whose verdict differs is quoted, the two replicates' CIs side by side
    assert ("The cells that decide: conv 80%: -1.5 [-3.0, +0.0] in replicate 0 (misses) vs "
            "+2.0 [+0.5, +3.5] in replicate 1 (meets).") in text
    assert "conv 90%" not in text


def test_agreement_takes_the_targets_judgement_not_the_rounded_text():
    # low end 0.04 prints as "+0.0" but meets "> 0"; −0.04 prints the same and misses
    r0 = {**scraps(-1, 1), **judged(("conv 80%", 1.0, 0.04, 2.0))}
    r1 = {**scraps(-1, 1), **judged(("conv 80%", 1.0, -0.04, 2.0))}
    r1[f"target_{_slug(BEATS.name)}_status"] = "met"
    text = answer.agreement(reps({"replicate 0": r0, "replicate 1": r1}))
    assert ("The cells that decide: conv 80%: +1.0 [+0.0, +2.0] in replicate 0 (meets) vs "
            "+1.0 [-0.0, +2.0] in replicate 1 (misses).") in text


def test_agreement_quotes_every_cell_when_no_cell_decides():
    r0, r1 = {**scraps(-1, 1), **judged(("conv 80%", 0.5, 0.1, 0.9))}, scraps(-1, 1)
    r1[f"target_{_slug(BEATS.name)}_status"] = "met"  # statuses differ, but no cell glued in r1
    text = answer.agreement(reps({"replicate 0": r0, "replicate 1": r1}))
    assert "Its cells: conv 80%: +0.5 [+0.1, +0.9] in replicate 0 (meets) vs – in replicate 1." in text


def test_without_replicate_1_the_page_says_it_was_not_built_and_how_to_build_it():
    text = answer.agreement(reps({"replicate 0": scraps(-1, 1)}))
    assert "Replicate 1 has not been built" in text and "make replicate" in text and "make book" in text


def test_gather_reads_replicate_0_and_every_replicate_in_order(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    def write(folder, stem, scraps):
        outputs = [new_output("display_data", data={"application/scrapbook.scrap.json+json":
                                                    {"name": k, "data": v, "encoder": "json", "version": 1}},
                              metadata={"scrapbook": {"name": k, "data": True, "display": False}})
                   for k, v in scraps.items()]
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(new_notebook(cells=[new_code_cell("sb.glue(...)", outputs=outputs)]),
                       folder / f"{stem}.ipynb")

    executed, reps = tmp_path / "executed", tmp_path / "replicates"
    assert answer.gather(executed, reps) == {"replicate 0": None}  # nothing built: no empty replicate column
    write(executed, "06_gan", {"gan_networks": 10.0})
    write(executed, "01_baseline", {"baseline_acc": 0.9})
    for seed in (10, 2):
        write(reps, f"06_gan_seed{seed}", {"gan_networks": float(seed)})
    write(reps, "06_gan_seedx", {"gan_networks": 0.0})  # not a replicate's name
    got = answer.gather(executed, reps)
    assert list(got) == ["replicate 0", "replicate 2", "replicate 10"]
    assert got["replicate 0"].networks == 10 and got["replicate 10"].networks == 10
