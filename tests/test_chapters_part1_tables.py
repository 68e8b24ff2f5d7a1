"""Part 1's tables as the chapters show them (prunegan.chapters.part1): few columns, formatted, a run
that a setting did not make marked and explained, counts side by side."""
from __future__ import annotations

import pandas as pd
import pytest

from prunegan.analysis import collapse
from prunegan.chapters import part1
from prunegan.runs.runner import rows_to_frame
from test_analysis import _rows


def _sweep(trials=(0,)):
    return pd.DataFrame([{"sparsity": s, "trial": t, "pruned_acc": 0.1234, "retrained_acc": 0.98765,
                          "kept": {"conv1": 6 - 6 * (s > 0.8), "conv2": 16}, "extra": 1,
                          "collapsed_layers": ["conv1"] if s > 0.8 else []}
                         for t in trials for s in (0.9, 0.0)])


def test_sweep_table_shows_the_columns_the_prose_names_formatted_and_sorted():
    table = part1.sweep_table(_sweep())
    assert table.index.tolist() == ["0 %", "90 %"] and table.index.name == "sparsity"
    assert table.columns.tolist() == ["pruned acc.", "retrained acc.", "channels kept", "collapsed layers"]
    assert table.loc["0 %"].tolist() == ["0.123", "0.988", "conv1 6, conv2 16", "none"]
    assert table.loc["90 %", "collapsed layers"] == "conv1" and table.loc["90 %", "channels kept"] == \
        "conv1 0, conv2 16"


def test_sweep_table_indexes_by_trial_too_when_there_are_several():
    table = part1.sweep_table(_sweep(trials=(0, 1)))
    assert table.index.names == ["sparsity", "trial"] and len(table) == 4
    assert "trial" not in table.columns


def test_sweep_table_names_missing_columns():
    with pytest.raises(ValueError, match=r"\['kept'\]"):
        part1.sweep_table(_sweep().drop(columns="kept"))


def test_runs_per_setting_is_a_table_not_a_series():
    df = rows_to_frame(_rows())
    table = part1.runs_per_setting(df)
    assert isinstance(table, pd.DataFrame) and table.to_dict() == {"runs": {"random": 3}}
    assert table.index.name == "setting"


def test_setting_pivot_marks_a_sparsity_a_setting_did_not_run():
    df = rows_to_frame(_rows())
    other = df[df["sparsity"] == 0.9].assign(label="random, min 1")
    table = collapse.collapse_table(pd.concat([df, other], ignore_index=True))
    grid = part1.setting_pivot(table, "collapse_rate")
    assert grid.index.tolist() == ["50 %", "90 %"] and grid.columns.tolist() == ["random", "random, min 1"]
    assert grid.loc["50 %"].tolist() == ["0.000", part1.NO_RUN]
    assert grid.loc["90 %"].tolist() == ["0.500", "0.500"]
    with pytest.raises(ValueError, match="values must be a column"):
        part1.setting_pivot(table, "accuracy")


def test_answer_table_puts_settings_side_by_side_and_says_when_no_run_was_stuck():
    df = rows_to_frame(_rows())
    stuck = collapse.collapse_explains_stuck(df)
    none = collapse.collapse_explains_stuck(df[df["sparsity"] == 0.5])
    table = part1.answer_table({"min 0": stuck, "min 1": none})
    assert table.columns.tolist() == ["min 0", "min 1"] and len(table) == len(part1.ANSWER_ROWS)
    assert table.loc["stuck", "min 0"] == "2" and table.loc["stuck and collapsed", "min 0"] == "1"
    assert table.loc["share of stuck runs that collapsed"].tolist() == ["0.50", "no stuck run"]
