"""Chapter 6 as a study: the notebook only displays what ``part2.run`` returns; the gap decomposition adds
up; the baselines' table; the summary's scraps read back."""
from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

from prunegan.chapters import answer
from prunegan.chapters.part2 import gaps, tables
from prunegan.chapters.part2.summary import Chapter6Summary, Interval
from prunegan.plots import part2 as plots

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "06_gan.py"


def _code_cells(text: str) -> list[str]:
    cells = text.split("\n# %%")
    return [c.split("\n", 1)[1] if "\n" in c else "" for c in cells[1:]
            if not c.startswith(" [markdown]") and "parameters" not in c.split("\n", 1)[0]]


def loops_and_indexing(source: str) -> list[str]:
    """Loops, comprehensions and subscripts in ``source`` (Python), as ``"Kind at line N"``."""
    kinds = (ast.For, ast.While, ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp,
             ast.Subscript)
    found = [n for n in ast.walk(ast.parse(source)) if isinstance(n, kinds)]
    return [f"{type(n).__name__} at line {n.lineno}" for n in sorted(found, key=lambda n: n.lineno)]


def test_the_notebook_only_runs_the_study_and_displays_it():
    text = NOTEBOOK.read_text()
    found = {i: loops_and_indexing(c) for i, c in enumerate(_code_cells(text))}
    assert not {i: f for i, f in found.items() if f}
    assert text.count("chapter.run(") == 1


def test_the_rule_sees_a_loop_a_comprehension_and_dict_indexing():
    assert loops_and_indexing("x = [a for a in b]\nfor i in y:\n    pass\nz = result.folds[0]") == [
        "ListComp at line 1", "For at line 2", "Subscript at line 4"]
    assert loops_and_indexing("display(ch.fold_table(result.folds))") == []


def _gap_frames():
    rows = []
    for net, (gan, crit) in {0: (0.80, 0.85), 1: (0.70, 0.72), 2: (0.90, 0.88)}.items():
        for i in range(2):
            rows += [{"setting": "conv", "sparsity": 0.8, "network": net, "method": "gan", "trial": i,
                      "retrained_val_acc": gan + 0.01 * i},
                     {"setting": "conv", "sparsity": 0.8, "network": net, "method": "best-criterion",
                      "trial": i, "retrained_val_acc": crit}]
    protocol = pd.DataFrame(rows)
    soft = pd.DataFrame({"network": [0, 1, 2], "sparsity": [0.8] * 3, "bank_val_acc": [0.86, 0.75, 0.91],
                         "setting": "conv"})
    ins = pd.DataFrame({"generator": ["fold 1", "fold 2", "fold 0", "final"], "setting": "conv",
                        "sparsity": 0.8, "network": [0, 0, 1, 2], "gap": [-2.0, -4.0, -1.0, -9.0]})
    return protocol, soft, ins


def test_the_gap_parts_add_up_to_gan_minus_the_best_criterion(monkeypatch):
    protocol, soft, ins = _gap_frames()
    monkeypatch.setattr(gaps, "soft_bank", lambda b, nets, t: soft.drop(columns="setting"))
    cfg = type("C", (), {"networks": [0, 1, 2], "gan": type("G", (), {"weight_temperature": 0.01})()})()
    per = gaps.per_network({"conv": None}, cfg, protocol, ins)
    row = per.set_index("network").loc[0]
    assert row["gan"] == pytest.approx(0.805) and row["criterion"] == pytest.approx(0.85)
    assert row["bank"] == pytest.approx(1.0) and row["fit"] == pytest.approx(-3.0)  # mean of folds 1, 2
    assert row["transfer"] == pytest.approx(100 * (0.805 - 0.86) + 3.0)
    full = per.dropna()
    assert len(full) == 2
    assert (full["bank"] + full["fit"] + full["transfer"] - full["total"]).abs().max() < 1e-9
    # network 2 was trained on by no fold generator (only "final"): no fit part, left out of the summary
    assert pd.isna(per.set_index("network").loc[2, "fit"])
    summary = gaps.summary(per)
    assert set(summary["part"]) == set(gaps.PARTS) and (summary["n"] == 2).all()
    total = summary.set_index("part").loc["total", "value"]
    parts = summary.set_index("part").loc[["bank", "fit", "transfer"], "value"].sum()
    assert total == pytest.approx(parts)


def test_the_gap_table_and_its_scraps():
    cells = [(k, q) for k in ("conv", "linear") for q in (80, 90)]
    s = Chapter6Summary(gaps={(p, k, q): Interval(1.0, -0.5, 2.5) for p in gaps.PARTS for k, q in cells},
                        values={"gan_networks": 10.0})
    table = tables.gap_table(s.gaps)
    assert table["part"].tolist() == list(gaps.PARTS)
    assert list(table.columns) == ["part", "conv 80 %", "conv 90 %", "conv + Linear 80 %",
                                   "conv + Linear 90 %"]
    assert table.iloc[0, 1] == "+1.0 [−0.5, +2.5]"
    scraps = s.to_scraps()
    assert scraps["gap_transfer_linear_90_ci_low"] == -0.5
    assert Chapter6Summary.from_scraps(scraps) == s
    assert answer.gap_markdown(s).startswith("| part ")


def test_the_baseline_table_gives_gan_minus_each_baseline_over_networks():
    stats = pd.DataFrame([
        {"statistic": "networks_paired", "method": "gan", "other": o, "setting": k, "sparsity": q,
         "network": "all", "value": v, "ci_low": v - 1, "ci_high": v + 1, "n": 10}
        for o, v in (("gan-alloc-l1", 2.0), ("uniform-taylor", -3.0))
        for k in ("conv", "conv+linear", "transfer") for q in (0.8, 0.9)]
        + [{"statistic": "paired", "method": "gan", "other": "gan-alloc-l1", "setting": "conv",
            "sparsity": 0.8, "network": 1, "value": 9.0, "ci_low": 8.0, "ci_high": 10.0, "n": 4}])
    labels = {"uniform-taylor": "uniform, taylor", "gan-alloc-l1": "allocation, l1", "gan-alloc-hrank": "x"}
    t = tables.baseline_table(stats, labels)
    assert list(t.columns) == ["baseline", "setting", "80 %", "90 %"]
    assert t["baseline"].tolist() == ["uniform, taylor"] * 2 + ["allocation, l1"] * 2  # given order, measured
    assert t["setting"].tolist() == ["conv", "conv+linear"] * 2  # the transfer network is not a setting here
    assert t.iloc[2, 2] == "+2.0 [+1.0, +3.0]" and t.iloc[1, 3] == "−3.0 [−4.0, −2.0]"
    assert tables.baseline_table(stats.iloc[:0], labels).empty
    frame = tables.baseline_frame(stats, labels)
    assert len(frame) == 8 and set(frame["label"]) == {"uniform, taylor", "allocation, l1"}
    fig = plots.baselines(frame)
    assert len([a for a in fig.axes if a.has_data()]) == 4
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["uniform, taylor", "allocation, l1"]
    with pytest.raises(ValueError, match="no baseline rows"):
        plots.baselines(frame.iloc[:0])


def test_the_answer_names_the_allocation_baseline_only_where_it_was_measured():
    base = {("best", k, p): Interval(-1.0, -2.0, 0.5) for k in ("conv", "linear") for p in (80, 90)}
    s = Chapter6Summary(margins=base)
    assert answer.parts(s) == []
    more = {**base, **{(m, k, p): Interval(2.0, 1.0, 3.0) for m in ("alloc_l1", "uniform_l1")
                       for k in ("conv", "linear") for p in (80, 90)}}
    (text,) = answer.parts(Chapter6Summary(margins=more))
    assert text.startswith("Against its own allocation with L1 inside each layer")
    assert "+2.0 [+1.0, +3.0]" in text
